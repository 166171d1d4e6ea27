"""Pushing generated certificates to the ministry's system: every five minutes, and one
certificate on demand; safe to run twice at once."""
from huey import crontab

from tasks import huey, in_app_context


@huey.periodic_task(crontab(minute="*/5"))
@in_app_context
def push_pending_certificates() -> dict:
    """Push every certificate still 已生成未推送; failures are tried again next time."""
    from app.services import certificate_push

    return certificate_push.push_pending()


@huey.task(retries=3, retry_delay=60)
@in_app_context
def push_certificate(certificate_id: int) -> bool:
    """Push one certificate now (e.g. just generated); huey retries it, so does the batch."""
    from app.services import certificate_push

    if not certificate_push.push_one(certificate_id):
        raise RuntimeError(f"certificate {certificate_id} not pushed; its last_error says why")
    return True
