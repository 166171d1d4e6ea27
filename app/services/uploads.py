"""Registration documents staged before the form is submitted."""
import datetime as dt
import json
import secrets
from typing import Optional

from flask import current_app
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.integrations.storage import storage
from app.services import N_, DomainError
from app.services.images import DOCUMENT, ImageRefused, clean_jpeg
from app.services.transaction import after_commit, after_rollback, checkpoint, transactional
from models.accounts import StagedUpload
from models.organisation import DocumentSlot
from models.states import OcrState

SLOTS = tuple(DocumentSlot)
LICENCE = DocumentSlot.LICENCE


class UploadMissing(DomainError):
    message = N_("Please upload %(file)s.")


def check_name(slot: str, filename: str) -> None:
    """The file's name must be its slot's name (yyzz.jpg, cns.jpg, zzzs.jpg), as the manual says."""
    slot = DocumentSlot(slot)
    name = (filename or "").strip().lower().rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if name not in (slot.filename, f"{slot.value}.jpeg"):
        raise ImageRefused(N_("This slot takes %(expected)s, but the file is named “%(name)s”."),
                           expected=slot.filename, name=filename or "")


@transactional
def stage(slot: str, filename: str, data: bytes) -> StagedUpload:
    """Check, re-encode and keep one document; the licence is then read by OCR (a task)."""
    if slot not in SLOTS:
        raise ImageRefused()
    slot = DocumentSlot(slot)
    check_name(slot, filename)
    clean = clean_jpeg(data, kind=DOCUMENT, max_bytes=current_app.config["DOCUMENT_MAX_BYTES"],
                       label=f"{slot.label} ({slot.filename})")
    key = storage().save(clean.data, ".jpg")
    after_rollback(storage().delete, key)  # no orphan file
    upload = StagedUpload(token=secrets.token_urlsafe(32), slot=slot.value, storage_key=key,
                          created_at=clock.now(),
                          ocr_state=OcrState.QUEUED.value if slot == LICENCE else None)
    db.session.add(upload)
    db.session.flush()
    if slot == LICENCE:
        from tasks.ocr import read_staged_licence

        after_commit(read_staged_licence, upload.id)
    return upload


def find(token: Optional[str], slot: str) -> Optional[StagedUpload]:
    if not token:
        return None
    upload = db.session.scalars(select(StagedUpload).where(StagedUpload.token == token)).first()
    if upload is None or upload.slot != slot or _expired(upload):
        return None
    return upload


def ocr_reading(upload: Optional[StagedUpload]) -> Optional[dict]:
    if upload is None or upload.ocr_state != OcrState.DONE.value or not upload.ocr_result:
        return None
    return json.loads(upload.ocr_result)


def reading_pending(upload: Optional[StagedUpload]) -> bool:
    """The licence is still queued for OCR (the page says so and asks again; never waits)."""
    return upload is not None and upload.ocr_state == OcrState.QUEUED.value


def _expired(upload: StagedUpload) -> bool:
    lifetime = dt.timedelta(minutes=current_app.config["STAGED_UPLOAD_LIFETIME_MINUTES"])
    return upload.created_at < clock.now() - lifetime


@transactional
def purge_expired() -> int:
    """Delete staged uploads (rows and files) that nobody registered with in time."""
    lifetime = dt.timedelta(minutes=current_app.config["STAGED_UPLOAD_LIFETIME_MINUTES"])
    stale = db.session.scalars(
        select(StagedUpload).where(StagedUpload.created_at < clock.now() - lifetime)).all()
    for upload in stale:
        storage().delete(upload.storage_key)
        db.session.delete(upload)
    return len(stale)


@transactional
def read_licence_of(upload_id: int) -> None:
    """Run OCR on a staged licence once; safe to run again."""
    upload = db.session.get(StagedUpload, upload_id)
    if upload is None or upload.ocr_state == OcrState.DONE.value:
        return
    from app.integrations.storage import storage as files
    from app.services.licence import read_licence

    try:
        reading = read_licence(str(files().path_of(upload.storage_key)))
    except Exception:
        upload.ocr_state = OcrState.FAILED.value
        checkpoint()  # kept although the task raises (huey retries it): the page stops waiting
        raise
    upload.ocr_result = json.dumps(reading, ensure_ascii=False)
    upload.ocr_state = OcrState.DONE.value
