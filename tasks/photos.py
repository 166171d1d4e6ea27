"""Checks of trainees' uploaded photos (app/services/photo_checks.py): OCR, so never in a request."""
from huey import crontab

from tasks import huey, in_app_context


@huey.task(retries=2, retry_delay=5)
@in_app_context
def check_photo(check_id: int) -> None:
    from app.services import photo_checks

    photo_checks.run(check_id)


@huey.periodic_task(crontab(minute="*/5"))
@in_app_context
def requeue_stale_photo_checks() -> int:
    from app.services import photo_checks

    return photo_checks.requeue_stale()
