"""Marked copies of roster and score sheets that failed their check.

They hold ID numbers, so each is a row (owner, kind, what it was uploaded for, file) rather
than a session key: one per user and kind, served to its owner only, replaced by the next
failed upload, removed by a clean one, and purged with its file after LIFETIME.
"""
import datetime as dt
from typing import Optional

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app import clock
from app.extensions import db
from app.integrations.storage import delete_files, storage
from app.services.transaction import after_commit, transaction, transactional
from models.exports import ErrorWorkbook

ROSTER = "roster"
SCORES = "scores"
LIFETIME = dt.timedelta(hours=24)


def keep(user_id: int, kind: str, subject_id: int, data: Optional[bytes]) -> Optional[ErrorWorkbook]:
    """Store `data` as the user's marked workbook of this kind, in place of the previous one.

    With no data (the sheet was too large to mark), the previous one is only removed.
    """
    kept = None
    key = storage().save(data, ".xlsx") if data else None
    try:
        with transaction():  # its own unit, so that a clash is seen here (the file goes too)
            after_commit(delete_files, _drop(user_id, kind))
            if key:
                kept = ErrorWorkbook(user_id=user_id, kind=kind, subject_id=subject_id,
                                     storage_key=key, created_at=clock.now())
                db.session.add(kept)
    except Exception as error:
        if key:
            storage().delete(key)
        if isinstance(error, IntegrityError):  # a parallel upload of the user kept its own copy
            return None
        raise
    return kept


@transactional
def discard(user_id: int, kind: str) -> None:
    """Remove the user's marked workbook of this kind (a clean upload made it useless)."""
    after_commit(delete_files, _drop(user_id, kind))


def find(user_id: int, kind: str, subject_id: int) -> Optional[ErrorWorkbook]:
    """The user's own marked workbook for this plan or assessment, while it is fresh."""
    return db.session.scalars(select(ErrorWorkbook).where(
        ErrorWorkbook.user_id == user_id, ErrorWorkbook.kind == kind,
        ErrorWorkbook.subject_id == subject_id,
        ErrorWorkbook.created_at >= clock.now() - LIFETIME)).first()


@transactional
def purge_expired() -> int:
    """Delete marked workbooks (rows and files) older than LIFETIME; the number deleted."""
    stale = db.session.execute(select(ErrorWorkbook.id, ErrorWorkbook.storage_key).where(
        ErrorWorkbook.created_at < clock.now() - LIFETIME)).all()
    if not stale:
        return 0
    for row in stale:  # files first: a row left without its file is purged on the next run
        storage().delete(row.storage_key)
    db.session.execute(delete(ErrorWorkbook).where(
        ErrorWorkbook.id.in_([row.id for row in stale])))
    return len(stale)


def _drop(user_id: int, kind: str) -> list[str]:
    """Delete the rows of this user and kind in the session's transaction; their file keys."""
    keys = list(db.session.scalars(select(ErrorWorkbook.storage_key).where(
        ErrorWorkbook.user_id == user_id, ErrorWorkbook.kind == kind)))
    if keys:
        db.session.execute(delete(ErrorWorkbook).where(
            ErrorWorkbook.user_id == user_id, ErrorWorkbook.kind == kind))
    return keys
