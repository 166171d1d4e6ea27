"""The nightly e-invoices of paid orders."""
from huey import crontab

from tasks import huey, in_app_context


# 01:00 in China (UTC+8, no daylight saving): huey reads crontabs in UTC (utc=True by default).
@huey.periodic_task(crontab(hour="17", minute="0"))
@in_app_context
def issue_invoices_nightly() -> dict:
    """Invoice every order paid before today; safe to run twice or again after a crash."""
    from app.services import invoices

    return invoices.issue_invoices()
