"""OCR of uploaded business licences, and clean-up of documents nobody registered with."""
from huey import crontab

from tasks import huey, in_app_context


@huey.on_startup()
def warm_ocr_engine() -> None:
    """Load and run the OCR models once when a consumer starts (in the background, once per
    process), so that the first licence is read at full speed.

    The thread is not a daemon: a consumer stopped while the models load waits for them (a
    second or two), because onnxruntime aborts the process ("terminate called without an
    active exception", exit 134) when the interpreter ends under a running inference."""
    import os
    import threading

    from app.integrations import ocr

    if os.environ.get("OCR_WARM", "1") == "0":
        return
    threading.Thread(target=ocr.warm_once, name="ocr-warm", daemon=False).start()


@huey.task(retries=2, retry_delay=5)
@in_app_context
def read_staged_licence(upload_id: int) -> None:
    from app.services import uploads

    uploads.read_licence_of(upload_id)


@huey.task(retries=2, retry_delay=5)
@in_app_context
def read_enterprise_licence(enterprise_id: int) -> None:
    from app.services import enterprises

    enterprises.read_licence_of(enterprise_id)


@huey.periodic_task(crontab(minute="*/15"))
@in_app_context
def purge_staged_uploads() -> int:
    from app.services import uploads

    return uploads.purge_expired()
