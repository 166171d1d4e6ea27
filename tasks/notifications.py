"""Delivering notifications: one task per batch of trainee notices, a minute task for whatever
is due (quiet-hour holds, retries, contact SMS of in-app messages, order reminders), and a
minute task that reads the SMS provider's delivery receipts."""
from huey import crontab

from tasks import huey, in_app_context


@huey.task()
@in_app_context
def deliver_notice(notice_id: int) -> str:
    """Kept for tasks queued by an earlier release."""
    from app.services import notices

    return notices.deliver_notice(notice_id)


@huey.task()
@in_app_context
def deliver_notices(notice_ids: list[int]) -> dict:
    from app.services import notices

    return notices.deliver_notices(notice_ids)


@huey.periodic_task(crontab(minute="*"))
@in_app_context
def deliver_due_notifications() -> dict:
    from app.services import notifications

    return notifications.deliver_due()


@huey.periodic_task(crontab(minute="*"))
@in_app_context
def check_sms_receipts() -> dict:
    from app.integrations import sms

    return sms.check_receipts()
