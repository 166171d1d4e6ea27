"""Housekeeping tasks."""
from huey import crontab

from tasks import huey, in_app_context


@huey.task()
@in_app_context
def audit_note(action: str, note: str) -> int:
    """Record a system event in the audit log (`flask --app run tasks ping` checks a worker with it)."""
    from app.extensions import db
    from app.services import audit

    entry = audit.record(action, after={"note": note})
    db.session.commit()
    return entry.id


@huey.periodic_task(crontab(minute="*/30"))
@in_app_context
def purge_error_workbooks() -> int:
    """Delete the marked copies of failed roster and score uploads once they are a day old."""
    from app.services import error_workbooks

    return error_workbooks.purge_expired()
