"""Exports too large for one request: built once per export, safe to run twice."""
from huey import crontab

from tasks import huey, in_app_context


@huey.task(retries=1, retry_delay=30)
@in_app_context
def build_export(export_id: int) -> None:
    """Write the export's file; a repeated run finds it no longer pending and does nothing."""
    from app.services import exports

    exports.build(export_id)


@huey.periodic_task(crontab(hour="18", minute="30"))  # 02:30 in China (huey crontabs are UTC)
@in_app_context
def purge_old_exports() -> int:
    from app.services import exports

    return exports.purge()
