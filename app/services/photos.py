"""Trainee photos: the 1-inch photo (寸照) and the ID-card front (身份证正面照).

Checked by content, re-encoded without EXIF, stored under generated names; uploaded one by
one from the trainee row or in batch (many JPGs or one zip), each file named <ID number>.jpg.
Each stored photo is then checked for what it shows, in a task (app/services/photo_checks.py).
"""
import io
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, Optional

from flask import current_app
from flask_babel import gettext
from PIL import Image
from sqlalchemy import select

from app.extensions import db
from app.integrations.storage import delete_files, storage
from app.services import N_, DomainError, InvalidState, audit, images, photo_checks, portrait
from app.services.enrolment import enrolling_plan, own_live_enrolment
from app.services.images import CleanImage, ImageRefused, clean_jpeg
from app.services.transaction import after_commit, after_rollback, lock, transactional
from models.enrolment import Enrolment, Person
from models.states import EnrolmentState

PHOTO = images.PHOTO  # each kind's pixel limits are in app/services/images.py
ID_PHOTO = images.ID_PHOTO
KINDS = {PHOTO: N_("1-inch photo"), ID_PHOTO: N_("ID card photo")}
MAX_BYTES = 5 * 1024 * 1024
MIN_PHOTO = (295, 413)
RATIO = 3 / 4
RATIO_TOLERANCE = 0.08
MIN_ID_PHOTO_WIDTH = 400
THUMB = (120, 160)
MAX_ZIP_ENTRIES = 2000
MAX_ZIP_BYTES = 500 * 1024 * 1024
FILE_NAME = re.compile(r"^([0-9]{17}[0-9Xx])\.(jpg|jpeg)$", re.IGNORECASE)  # ASCII digits only


class ZipRefused(DomainError):
    message = N_("The zip file was refused.")


class PhotoLocked(InvalidState):
    message = N_("This trainee is in an order: the photos that were checked for it stay as they "
                 "are.")


@dataclass
class BatchResult:
    saved: list[tuple[str, str, int]] = field(default_factory=list)  # (file, name, enrolment id)
    refused: list[tuple[str, str]] = field(default_factory=list)    # (file, reason)
    unmatched: list[str] = field(default_factory=list)              # file names
    missing: list[tuple[str, str]] = field(default_factory=list)    # (name, ID number)


def check(kind: str, data: bytes) -> CleanImage:
    label = gettext(KINDS[kind])
    image = clean_jpeg(data, kind=kind, max_bytes=MAX_BYTES, label=label)
    if kind == PHOTO:
        if image.width < MIN_PHOTO[0] or image.height < MIN_PHOTO[1]:
            raise ImageRefused(N_("The 1-inch photo must be at least 295 × 413 pixels (it is "
                                  "%(w)s × %(h)s)."), w=image.width, h=image.height)
        if abs(image.width / image.height - RATIO) > RATIO * RATIO_TOLERANCE:
            raise ImageRefused(N_("The 1-inch photo must be upright with proportions of about "
                                  "3:4 (it is %(w)s × %(h)s)."), w=image.width, h=image.height)
        problem = portrait.layout_problem(image.data) if _checking() else None  # text, face: task
        if problem:
            raise ImageRefused(problem[0], **problem[1])
    elif image.width < MIN_ID_PHOTO_WIDTH:
        raise ImageRefused(N_("The ID card photo is too small to read (at least %(n)s pixels "
                              "wide)."), n=MIN_ID_PHOTO_WIDTH)
    return image


def thumbnail(data: bytes) -> bytes:
    """The 120 × 160 picture shown in trainee lists."""
    with Image.open(io.BytesIO(data)) as picture:
        picture.thumbnail(THUMB)
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=80)
        return out.getvalue()


@dataclass
class _Changes:
    """Files written (to remove if the commit fails) and replaced (to remove after it)."""

    written: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)


def _store(enrolment: Enrolment, kind: str, image: CleanImage, changes: _Changes) -> None:
    """Save the picture and point the enrolment at it."""
    files = storage()
    if kind == PHOTO:
        changes.replaced += [k for k in (enrolment.photo_key, enrolment.photo_thumb_key) if k]
        enrolment.photo_key = files.save(image.data, ".jpg")
        enrolment.photo_thumb_key = files.save(thumbnail(image.data), ".jpg")
        changes.written += [enrolment.photo_key, enrolment.photo_thumb_key]
    else:
        changes.replaced += [enrolment.id_photo_key] if enrolment.id_photo_key else []
        enrolment.id_photo_key = files.save(image.data, ".jpg")
        changes.written.append(enrolment.id_photo_key)
    if _checking():
        photo_checks.queue(enrolment, kind, enrolment.stored_photo(kind))


def _checking() -> bool:
    return current_app.config.get("PHOTO_CHECKS", True)


@transactional
def upload_one(enrolment_id: int, user: Any, kind: str, data: bytes) -> None:
    """One photo for one trainee (re-uploading replaces it)."""
    enrolment = own_live_enrolment(enrolment_id, user)
    enrolling_plan(enrolment.plan_id, user)
    image = check(kind, data)
    _unordered(enrolment)
    changes = _files_follow(_Changes())
    _store(enrolment, kind, image, changes)
    audit.record(f"photo.{kind}", enrolment, region_code=enrolment.plan.region_code)


@transactional
def upload_batch(plan_id: int, user: Any, kind: str,
                 files: list[tuple[str, bytes]]) -> BatchResult:
    """Many photos named <ID number>.jpg, or one zip of them, for this plan's trainees."""
    plan = enrolling_plan(plan_id, user)
    if len(files) == 1 and files[0][0].lower().endswith(".zip"):
        files = read_zip(files[0][1])  # checked now, extracted one photo at a time below
    trainees = {e.person.id_number: e for e in db.session.scalars(
        select(Enrolment).join(Person).where(Enrolment.plan_id == plan.id,
                                             Enrolment.enterprise_id == user.enterprise_id,
                                             Enrolment.status == EnrolmentState.LIVE.value))}
    result = BatchResult()
    changes = _files_follow(_Changes())
    _match_and_store(files, kind, trainees, result, changes)
    if result.saved:
        audit.record(f"photo.{kind}.batch", plan, after={"saved": len(result.saved)},
                     region_code=plan.region_code)
    key = "photo_key" if kind == PHOTO else "id_photo_key"
    # The enterprise's own trainees: whole numbers, to name the missing files by.
    result.missing = [(e.person.name, e.person.id_number)
                      for e in trainees.values() if not getattr(e, key)]
    return result


def _match_and_store(files, kind, trainees, result: BatchResult, changes: "_Changes") -> None:
    for filename, data in files:
        match = FILE_NAME.match(filename.rsplit("/", 1)[-1].strip())
        enrolment = trainees.get(match.group(1).upper()) if match else None
        if enrolment is None:
            result.unmatched.append(filename)
            continue
        try:
            image = check(kind, data)
            _unordered(enrolment)
        except DomainError as error:
            result.refused.append((filename, str(error)))
            continue
        _store(enrolment, kind, image, changes)
        result.saved.append((filename, enrolment.person.name, enrolment.id))


def _unordered(enrolment: Enrolment) -> None:
    """Refuse a photo for a trainee an order holds: the order was made on the photos checked.
    The row is locked first, so an order being made now either has the new photo's check
    to wait for or is made before the photo comes (and then refuses it)."""
    lock(Enrolment, enrolment.id)
    db.session.refresh(enrolment, ["order_id"])
    if enrolment.order_id is not None:
        raise PhotoLocked()


def read_zip(data: bytes):
    """(name, bytes) of each JPG in a zip, checked before and while extracting."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        raise ZipRefused(N_("The file is not a valid zip archive.")) from None
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ZipRefused(N_("The zip holds more than %(n)s files."), n=MAX_ZIP_ENTRIES)
    if sum(info.file_size for info in infos) > MAX_ZIP_BYTES:
        raise ZipRefused(N_("The zip expands to more than 500 MB."))
    for info in infos:
        name = info.filename
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ZipRefused(N_("The zip contains a link (%(name)s); put only photos in it."),
                             name=name)
        if info.is_dir() or "/" in name.rstrip("/") or "\\" in name or ".." in name:
            raise ZipRefused(N_("Put the photos directly in the zip, without folders (%(name)s)."),
                             name=name)
        if name.lower().endswith(".zip"):
            raise ZipRefused(N_("The zip contains another zip (%(name)s)."), name=name)
        if info.flag_bits & 0x1:
            raise ZipRefused(N_("The zip is password-protected; please zip the photos without "
                                "a password."))
    return _extract(archive, infos)


def _extract(archive: zipfile.ZipFile, infos):
    """One member at a time, never more than the limits whatever the headers claim."""
    total = 0
    for info in infos:
        try:
            with archive.open(info) as member:
                content = member.read(MAX_BYTES + 1)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, zlib.error, EOFError,
                OSError):
            raise ZipRefused(N_("The zip is damaged (%(name)s); please make it again."),
                             name=info.filename) from None
        total += len(content)
        if total > MAX_ZIP_BYTES:
            raise ZipRefused(N_("The zip expands to more than 500 MB."))
        yield info.filename, content


def _files_follow(changes: _Changes) -> _Changes:
    """The files follow the unit of work: written ones go if it rolls back (no orphans),
    replaced ones once it commits. The lists are read then, so whatever is added counts."""
    after_rollback(delete_files, changes.written)
    after_commit(delete_files, changes.replaced)
    return changes




