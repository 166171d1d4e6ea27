"""Enterprise accounts: registration, review by the right authority, profile changes."""
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Optional

from flask import current_app
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from app import clock, scope
from app.extensions import db
from app.rules import supervising_authority
from app.integrations.storage import delete_files, storage
from app.services import (
    N_,
    DomainError,
    Forbidden,
    InvalidState,
    NotFound,
    accounts,
    audit,
    inbox,
    sms_codes,
)
from app.services import uploads as staged
from app.services.codes import is_valid_uscc, normalize_mobile, normalize_uscc
from app.services.transaction import after_commit, after_rollback, transactional
from models.accounts import StagedUpload
from models.organisation import DocumentSlot, Enterprise
from models.reference import PROVINCE_CODE, Authority, Region
from models.states import OcrState, ReviewState


class RegistrationRefused(DomainError):
    message = N_("The registration was refused.")


class EnterpriseExists(RegistrationRefused):
    message = N_("This unified social credit code is already registered: an enterprise cannot "
                 "register twice. If you forgot the password, use “Forgot password” on the "
                 "login page.")


class LicenceUnclear(RegistrationRefused):
    message = N_("The business licence picture is unclear: its credit code could not be read or "
                 "does not match the code you typed. Please check the code, or take a clearer "
                 "photo and upload yyzz.jpg again.")


class LicenceNotReadYet(RegistrationRefused):
    message = N_("The business licence is still being read; please wait a few seconds and submit "
                 "again.")


@dataclass
class RegistrationData:
    uscc: str
    name: str
    enterprise_type: str
    legal_representative: str
    registered_capital: str
    established: Optional[dt.date]
    address: str
    region_code: str
    province_owned: bool
    contact_person: str
    contact_mobile: str
    sms_code: str
    password: str
    password_confirm: str


PROFILE_FIELDS = ("name", "enterprise_type", "legal_representative", "registered_capital",
                  "established", "address", "region_code", "province_owned", "contact_person",
                  "contact_mobile", "review_state")


def check_uscc(uscc: str) -> None:
    if not is_valid_uscc(uscc):
        raise RegistrationRefused(N_("The unified social credit code must be 18 characters of "
                                     "digits and capital letters (no I, O, S, V, Z) with a correct "
                                     "check character; please check it."))


def city(region_code: str) -> Region:
    region = db.session.get(Region, region_code)
    if region is None or region.parent_code != PROVINCE_CODE:
        raise RegistrationRefused(N_("Please choose the city your enterprise belongs to."))
    return region


def reviewing_authority(region_code: str, province_owned: bool) -> Authority:
    """The city authority of the region, or the province for province-owned units."""
    return db.session.scalars(
        select(Authority).where(supervising_authority(region_code, province_owned))).one()


def check_new_uscc(uscc: str) -> str:
    """The normalised code, if a new enterprise may register with it; asked as soon as the code
    is typed or read from the licence, and again on submit."""
    uscc = normalize_uscc(uscc)
    check_uscc(uscc)
    if db.session.scalars(select(Enterprise.id).where(Enterprise.uscc == uscc)).first():
        raise EnterpriseExists()
    if current_app.appbuilder.sm.find_user(username=uscc):
        raise EnterpriseExists()
    return uscc


@transactional
def register(data: RegistrationData, tokens: dict[str, Optional[str]]) -> Enterprise:
    """Create the enterprise (待审核) and its account, all at once or not at all."""
    data.uscc = check_new_uscc(data.uscc)
    city(data.region_code)
    data.contact_mobile = sms_codes.check_mobile(data.contact_mobile)
    accounts.check_new_password(data.password, data.password_confirm)
    documents = _documents(tokens)
    _check_licence(documents[staged.LICENCE], data.uscc)
    sms_codes.consume_code(data.contact_mobile, sms_codes.REGISTER, data.sms_code)

    authority = reviewing_authority(data.region_code, data.province_owned)
    enterprise = Enterprise(
        uscc=data.uscc, name=data.name.strip(), enterprise_type=data.enterprise_type.strip(),
        legal_representative=data.legal_representative.strip(),
        registered_capital=data.registered_capital.strip(), established=data.established,
        address=data.address.strip(), region_code=data.region_code,
        province_owned=data.province_owned, contact_person=data.contact_person.strip(),
        contact_mobile=data.contact_mobile,
        licence_file=documents[DocumentSlot.LICENCE].storage_key,
        commitment_file=documents[DocumentSlot.COMMITMENT].storage_key,
        qualification_file=documents[DocumentSlot.QUALIFICATION].storage_key,
        ocr_result=documents[DocumentSlot.LICENCE].ocr_result,
        review_state=ReviewState.PENDING.value,
        reviewing_authority_id=authority.id, created_at=clock.now(),
    )
    db.session.add(enterprise)
    db.session.flush()
    _create_account(enterprise, data.password)
    for upload in documents.values():
        db.session.delete(upload)  # the files now belong to the enterprise
    entry = audit.record("enterprise.register", enterprise,
                         after={"uscc": enterprise.uscc, "authority": authority.name})
    inbox.enterprise_pending(enterprise, entry)
    return enterprise


def _documents(tokens: dict[str, Optional[str]]) -> dict[DocumentSlot, StagedUpload]:
    found = {}
    for slot in DocumentSlot:
        upload = staged.find(tokens.get(slot), slot)
        if upload is None:
            raise staged.UploadMissing(file=f"{slot.label} ({slot.filename})")
        found[slot] = upload
    return found


def _check_licence(upload: StagedUpload, uscc: str) -> None:
    if upload.ocr_state in (OcrState.QUEUED.value, None):
        raise LicenceNotReadYet()
    reading = staged.ocr_reading(upload) or {}
    if reading.get("problem") == "registration_number":  # other problems: LicenceUnclear below
        from app.services.licence import PROBLEMS

        raise LicenceUnclear(PROBLEMS[reading["problem"]])
    if reading.get("uscc") != uscc:
        raise LicenceUnclear()


def _create_account(enterprise: Enterprise, password: str) -> None:
    sm = current_app.appbuilder.sm
    user = sm.user_model()
    user.username = enterprise.uscc
    user.first_name = enterprise.name
    user.last_name = ""
    user.email = f"{enterprise.uscc.lower()}@enterprise.jianpei.invalid"
    user.active = True
    user.password = generate_password_hash(password)
    user.roles = [sm.find_role(scope.ENTERPRISE)]
    user.enterprise_id = enterprise.id
    user.created_on = user.changed_on = clock.now()
    db.session.add(user)


# ---- review -------------------------------------------------------------------------------

def review_queue(reviewer: Any):
    """Pending enterprises this reviewer's authority is responsible for."""
    return (select(Enterprise)
            .where(Enterprise.reviewing_authority_id == reviewer.authority_id,
                   Enterprise.review_state == ReviewState.PENDING.value)
            .order_by(Enterprise.created_at))


def _reviewable(enterprise_id: int, reviewer: Any) -> Enterprise:
    enterprise = db.session.get(Enterprise, enterprise_id, with_for_update=True)
    if enterprise is None:
        raise NotFound()
    regulator = scope.primary_role(reviewer) in (scope.CITY_REGULATOR,
                                                     scope.PROVINCE_REGULATOR)
    if not regulator or enterprise.reviewing_authority_id != reviewer.authority_id:
        raise Forbidden(N_("This enterprise is reviewed by %(authority)s."),
                        authority=enterprise.reviewing_authority.name)
    if enterprise.review_state != ReviewState.PENDING.value:
        raise InvalidState(N_("This enterprise is not waiting for review."))
    return enterprise


@transactional
def approve(enterprise_id: int, reviewer: Any) -> Enterprise:
    enterprise = _reviewable(enterprise_id, reviewer)
    return _decide(enterprise, ReviewState.APPROVED, None)


@transactional
def reject(enterprise_id: int, reviewer: Any, reason: str) -> Enterprise:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(N_("Please give the reason for not passing the review."))
    enterprise = _reviewable(enterprise_id, reviewer)
    return _decide(enterprise, ReviewState.REJECTED, reason[:256])


def _decide(enterprise: Enterprise, state: ReviewState, reason: Optional[str]) -> Enterprise:
    before = audit.changes(enterprise, ["review_state", "review_reason"])
    enterprise.review_state = state.value
    enterprise.review_reason = reason
    enterprise.reviewed_at = clock.now()
    entry = audit.record(
        f"enterprise.{'approve' if state == ReviewState.APPROVED else 'reject'}", enterprise,
        before=before, after=audit.changes(enterprise, ["review_state", "review_reason"]))
    inbox.enterprise_reviewed(enterprise, entry)
    return enterprise


# ---- the enterprise's own changes --------------------------------------------------------

@transactional
def set_sms_opt_out(enterprise_id: int, opt_out: bool) -> None:
    enterprise = db.session.get(Enterprise, enterprise_id)
    before = {"sms_opt_out": enterprise.sms_opt_out}
    enterprise.sms_opt_out = opt_out
    audit.record("enterprise.sms_preference", enterprise, before=before,
                 after={"sms_opt_out": opt_out})



@dataclass
class ProfileChange:
    contact_person: str
    address: str
    region_code: str
    province_owned: bool
    contact_mobile: str
    sms_code: str = ""
    # Only while the registration is not approved (待审核 / 审核不通过):
    name: Optional[str] = None
    enterprise_type: Optional[str] = None
    legal_representative: Optional[str] = None
    registered_capital: Optional[str] = None
    established: Optional[dt.date] = None


@transactional
def update_profile(enterprise_id: int, user: Any, change: ProfileChange,
                   documents: Optional[dict[str, tuple[str, bytes]]] = None) -> Enterprise:
    """Save the enterprise's own edits, and new document pictures, all at once or not at all.

    A new region or province-owned flag, or a resubmitted rejection, means a new review.
    """
    if user.enterprise_id != enterprise_id:
        raise NotFound()
    enterprise = db.session.get(Enterprise, enterprise_id, with_for_update=True)
    approved = enterprise.review_state == ReviewState.APPROVED.value
    city(change.region_code)
    cleaned = _clean_documents(documents or {}, approved)
    new_mobile = normalize_mobile(change.contact_mobile)
    if new_mobile != enterprise.contact_mobile:
        sms_codes.check_mobile(new_mobile)
        sms_codes.consume_code(new_mobile, sms_codes.CHANGE_MOBILE, change.sms_code)
    before = audit.changes(enterprise, list(PROFILE_FIELDS))
    enterprise.contact_person = change.contact_person.strip()
    enterprise.address = change.address.strip()
    enterprise.contact_mobile = new_mobile
    if not approved:
        for name in ("name", "enterprise_type", "legal_representative", "registered_capital",
                     "established"):
            value = getattr(change, name)
            if value is not None:
                setattr(enterprise, name, value.strip() if isinstance(value, str) else value)
    moved = (change.region_code, change.province_owned) != (enterprise.region_code,
                                                            enterprise.province_owned)
    enterprise.region_code = change.region_code
    enterprise.province_owned = change.province_owned
    if moved or enterprise.review_state == ReviewState.REJECTED.value:
        # A new authority must look at it, or the rejected registration is resubmitted.
        enterprise.review_state = ReviewState.PENDING.value
        enterprise.review_reason = None
        enterprise.reviewed_at = None
        enterprise.reviewing_authority_id = reviewing_authority(
            enterprise.region_code, enterprise.province_owned).id
    files = storage()
    new_keys = {slot: files.save(image.data, ".jpg") for slot, image in cleaned.items()}
    old_keys = {slot: getattr(enterprise, DOCUMENT_COLUMNS[slot]) for slot in new_keys}
    # The new pictures go if the change is not kept; the replaced ones once it is.
    after_rollback(delete_files, list(new_keys.values()))
    after_commit(delete_files, [key for key in old_keys.values() if key])
    for slot, key in new_keys.items():
        setattr(enterprise, DOCUMENT_COLUMNS[slot], key)
    if staged.LICENCE in new_keys:
        enterprise.ocr_result = None  # read again once committed
    entry = audit.record("enterprise.update", enterprise, before={**before, **old_keys},
                         after={**audit.changes(enterprise, list(PROFILE_FIELDS)), **new_keys})
    if enterprise.review_state == ReviewState.PENDING.value \
            and before.get("review_state") != ReviewState.PENDING.value:
        inbox.enterprise_pending(enterprise, entry)
    if staged.LICENCE in new_keys:
        from tasks.ocr import read_enterprise_licence

        after_commit(read_enterprise_licence, enterprise.id)
    return enterprise


DOCUMENT_COLUMNS = {DocumentSlot.LICENCE: "licence_file",
                    DocumentSlot.COMMITMENT: "commitment_file",
                    DocumentSlot.QUALIFICATION: "qualification_file"}


def _clean_documents(documents: dict[str, tuple[str, bytes]], approved: bool) -> dict:
    """Every new picture checked and re-encoded before anything is written."""
    from app.services.images import DOCUMENT, clean_jpeg

    if documents and approved:
        raise InvalidState(N_("Documents of an approved enterprise cannot be replaced."))
    cleaned = {}
    for slot, (filename, data) in documents.items():
        slot = DocumentSlot(slot)
        staged.check_name(slot, filename)
        cleaned[slot] = clean_jpeg(data, kind=DOCUMENT,
                                   max_bytes=current_app.config["DOCUMENT_MAX_BYTES"],
                                   label=f"{slot.label} ({slot.filename})")
    return cleaned


@transactional
def read_licence_of(enterprise_id: int) -> None:
    """OCR the enterprise's current licence picture; safe to run again."""
    from app.services.licence import read_licence

    enterprise = db.session.get(Enterprise, enterprise_id)
    if enterprise is None or not enterprise.licence_file:
        return
    reading = read_licence(str(storage().path_of(enterprise.licence_file)))
    enterprise.ocr_result = json.dumps(reading, ensure_ascii=False)


def reading_differences(enterprise_values: dict, reading: Optional[dict]) -> dict[str, str]:
    """Fields where the typed value differs from what OCR read on the licence with confidence.

    A field the reader was unsure of is not a difference: it is the reader's doubt, not the
    enterprise's. Readings made before confidences were kept carry none and count as read."""
    from app.services.licence import CONFIDENT, LICENCE_FIELDS

    if not reading:
        return {}
    confidence = reading.get("confidence")
    differences = {}
    for ours, theirs in ((field.name, field.key) for field in LICENCE_FIELDS):
        typed = enterprise_values.get(ours)
        typed = typed.isoformat() if isinstance(typed, dt.date) else (typed or "")
        read = reading.get(theirs) or ""
        if confidence is not None and (confidence.get(theirs) or 0) < CONFIDENT:
            continue
        if read and str(typed).replace(" ", "") != read.replace(" ", ""):
            differences[ours] = read
    return differences


def licence_reading(enterprise: Enterprise) -> Optional[dict]:
    return json.loads(enterprise.ocr_result) if enterprise.ocr_result else None


def documents_of(enterprise: Enterprise) -> dict[str, Optional[str]]:
    return {slot: getattr(enterprise, column) for slot, column in DOCUMENT_COLUMNS.items()}

