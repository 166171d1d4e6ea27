"""Delivering notifications: one task per trainee notice, and a minute task for whatever is
due (quiet-hour holds, retries, contact SMS of in-app messages, order reminders)."""
from huey import crontab

from tasks import huey, in_app_context


@huey.task()
@in_app_context
def deliver_notice(notice_id: int) -> str:
    from app.services import notifications

    return notifications.deliver_notice(notice_id)


@huey.periodic_task(crontab(minute="*"))
@in_app_context
def deliver_due_notifications() -> dict:
    from app.services import notifications

    return notifications.deliver_due()
