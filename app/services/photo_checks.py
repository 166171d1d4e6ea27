"""Photos that prove the roster: what the machine finds in a trainee's uploaded photos.

Each upload of a photo queues a check (`queue`, in the upload's unit of work; the task runs after
the commit, never in the request):
- an ID-card front (身份证正面照) is read (app/services/id_card.py) and compared with the roster
  row: the number, the name (spaces and look-alike code points normalised), gender and birth date.
  It passes, or differs (the clerk fixes the row, replaces the photo or confirms with a reason),
  or cannot be read (a clearer photo, or a confirmation). The back side (国徽面) is refused;
- a 1-inch photo (寸照) is refused if it shows printed text (an ID card, a document); without one
  centred face of a fitting size it waits for the clerk: a better photo, or a confirmation (the
  face detector can miss a real face, so its finding is not the last word). Its background was
  already checked in the request (app/services/portrait.py).

A refused photo is taken off the trainee (its file deleted), so the upload is missing again and
the reason shows beside the trainee. An order waits for every check of its trainees to be
settled (`unresolved`). A result read from a file since replaced is dropped.

Personal data: the values read off an ID card are stored on the check only while the enrolment
is live (`forget` runs when a trainee is removed), never logged, never audited; the audit log
names the fields that differed, not their values.
"""
import datetime as dt
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from flask_babel import gettext
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import selectinload

from app import clock
from app.extensions import db
from app.integrations.storage import delete_files, storage
from app.services import N_, DomainError, InvalidState, audit, id_card, portrait
from app.services.images import ID_PHOTO, PHOTO
from app.services.transaction import after_commit, lock, transactional
from models.enrolment import Enrolment, Person, PhotoCheck
from models.states import EnrolmentState, PhotoCheckState

log = logging.getLogger(__name__)
REASON_MAX = 200
FIELD_LABELS = {"number": N_("ID number"), "name": N_("Full name"), "gender": N_("Gender"),
                "birth_date": N_("Date of birth")}
UNREADABLE = N_("The ID card photo could not be read. Please upload a clearer photo of the "
                "front (the side with the portrait), flat, in good light and without glare.")
BACK_SIDE = N_("This is the back of the ID card (the side with the national emblem). Please "
               "upload the front, the side with the portrait and the ID number.")
NOT_CHECKED = N_("The photo could not be checked by the machine. Please upload it again, or "
                 "confirm it with the reason if it is right.")
UNRESOLVED = tuple(state.value for state in PhotoCheckState.unresolved())
# Differences the clerk must settle: the rest of the card (gender, birth date) follows from the
# number, so alone they are a misread, shown but not held against the row.
SETTLED_BY_CLERK = ("number", "name")
STALE_AFTER = dt.timedelta(minutes=10)  # a check queued this long is queued again
ID_NUMBER_LIKE = re.compile(r"[0-9]{15}")
# Bootstrap label colour of each state (the badge on pages and the poll).
STYLES = {"queued": "info", "passed": "success", "mismatch": "danger", "unreadable": "warning",
          "refused": "danger", "confirmed": "warning"}


# Queueing (inside an upload's unit of work) -----------------------------------------------

def queue(enrolment: Enrolment, kind: str, photo_key: str) -> None:
    """Check the photo just stored for `enrolment`; any earlier finding is replaced."""
    check = db.session.scalar(select(PhotoCheck).where(PhotoCheck.enrolment_id == enrolment.id,
                                                       PhotoCheck.kind == kind))
    if check is None:
        check = PhotoCheck(enrolment_id=enrolment.id, kind=kind)
        db.session.add(check)
    check.photo_key = photo_key
    check.state = PhotoCheckState.QUEUED.value
    check.reading = check.differences = check.problem = check.reason = None
    check.decided_by = check.decided_at = check.checked_at = None
    check.queued_at = clock.now()
    db.session.flush()
    _enqueue(check.id)


def _enqueue(check_id: int) -> None:
    from tasks.photos import check_photo

    after_commit(check_photo, check_id)


@transactional
def requeue_stale() -> int:
    """Queue again the checks waiting longer than STALE_AFTER (a task lost with its queue, a
    worker stopped, storage out for longer than the retries): running one twice does nothing."""
    stale = db.session.scalars(select(PhotoCheck.id).where(
        PhotoCheck.state == PhotoCheckState.QUEUED.value,
        PhotoCheck.queued_at < clock.now() - STALE_AFTER)).all()
    for check_id in stale:
        _enqueue(check_id)
    return len(stale)


def forget(enrolment_ids: Iterable[int]) -> None:
    """Drop the checks (and what was read) of trainees taken off a plan."""
    ids = list(enrolment_ids)
    if ids:
        db.session.execute(delete(PhotoCheck).where(PhotoCheck.enrolment_id.in_(ids))
                           .execution_options(synchronize_session=False))


# Running (in a task) ------------------------------------------------------------------------

@dataclass(frozen=True)
class _Target:
    check_id: int
    kind: str
    photo_key: str


def run(check_id: int) -> Optional[str]:
    """Read the photo of a queued check and record the outcome; the new state, or None when
    there was nothing to do (already done, or the photo was replaced or removed meanwhile)."""
    target = _target(check_id)
    if target is None:
        return None
    path = str(storage().path_of(target.photo_key))  # storage out: the task is tried again
    try:
        found = (id_card.read_id_card(path) if target.kind == ID_PHOTO
                 else portrait.content_problem(path))
    except Exception:  # the engine failed on this file: the clerk is told, the order not stuck
        log.exception("photo check %s: the photo could not be read", target.check_id)
        return _settle_failed(target)
    if target.kind == ID_PHOTO:
        return _settle_id_card(target, found)
    return _settle_portrait(target, found)


@transactional
def _target(check_id: int) -> Optional[_Target]:
    check = db.session.get(PhotoCheck, check_id)
    if check is None or check.state != PhotoCheckState.QUEUED.value:
        return None
    return _Target(check.id, check.kind, check.photo_key)


def _current(target: _Target) -> Optional[PhotoCheck]:
    """The check, locked, if it still waits for this very file of a live trainee."""
    check = db.session.get(PhotoCheck, target.check_id)
    if check is None:
        return None
    lock(Enrolment, check.enrolment_id)  # an upload, edit or removal of this trainee waits
    check = db.session.get(PhotoCheck, target.check_id, populate_existing=True)
    if check is None:  # the trainee was removed meanwhile
        return None
    enrolment = db.session.get(Enrolment, check.enrolment_id, populate_existing=True)
    if check.state != PhotoCheckState.QUEUED.value or check.photo_key != target.photo_key \
            or enrolment.status != EnrolmentState.LIVE.value \
            or enrolment.stored_photo(check.kind) != target.photo_key:
        return None
    return check


@transactional
def _settle_id_card(target: _Target, reading: id_card.IdCardReading) -> Optional[str]:
    check = _current(target)
    if check is None:
        return None
    check.checked_at = clock.now()
    if reading.side == id_card.BACK:
        _refuse(check, BACK_SIDE, {})
    elif not reading.readable():
        check.state = PhotoCheckState.UNREADABLE.value
        check.problem = _problem(UNREADABLE, {})
    else:
        check.reading = json.dumps(reading.as_dict(), ensure_ascii=False)
        _compare(check, reading)
    return check.state


@transactional
def _settle_portrait(target: _Target, problem: Optional[tuple[str, dict]]) -> Optional[str]:
    check = _current(target)
    if check is None:
        return None
    check.checked_at = clock.now()
    if problem is None:
        check.state = PhotoCheckState.PASSED.value
    elif problem[0] == portrait.PRINTED_TEXT:
        _refuse(check, *problem)
    else:  # no face, several, too small or off centre: the clerk decides
        check.state = PhotoCheckState.UNREADABLE.value
        check.problem = _problem(*problem)
    return check.state


@transactional
def _settle_failed(target: _Target) -> Optional[str]:
    check = _current(target)
    if check is None:
        return None
    check.checked_at = clock.now()
    check.state = PhotoCheckState.UNREADABLE.value
    check.problem = _problem(NOT_CHECKED, {})
    return check.state


def _refuse(check: PhotoCheck, msgid: str, params: dict) -> None:
    """Take the photo off the trainee (the file goes once this commits) and say why."""
    enrolment = check.enrolment
    if check.kind == PHOTO:
        gone = [enrolment.photo_key, enrolment.photo_thumb_key]
        enrolment.photo_key = enrolment.photo_thumb_key = None
    else:
        gone = [enrolment.id_photo_key]
        enrolment.id_photo_key = None
    after_commit(delete_files, gone)
    check.state = PhotoCheckState.REFUSED.value
    check.problem = _problem(msgid, params)
    audit.record(f"photo.{check.kind}.refused", enrolment, after={"reason": msgid},
                 region_code=enrolment.plan.region_code)


def _problem(msgid: str, params: dict) -> str:
    return json.dumps({"msgid": msgid, "params": params}, ensure_ascii=False)


# Comparing with the roster row ---------------------------------------------------------------

def _compare(check: PhotoCheck, reading: id_card.IdCardReading) -> None:
    """Set the state from the differences between the reading and the trainee's row: a number
    or a name that differs waits for the clerk. A confirmation holds only for the fields it
    confirmed: a new difference (after a rename) waits again."""
    person = check.enrolment.person
    found = id_card.differences(reading, name=person.name, number=person.id_number,
                                gender=person.gender, birth_date=person.birth_date)
    settle = [name for name in found if name in SETTLED_BY_CLERK]
    confirmed = set(check.difference_list) if check.state == PhotoCheckState.CONFIRMED.value \
        else set()
    check.differences = ",".join(found) or None
    if not settle:
        check.state = PhotoCheckState.PASSED.value
        check.reason = check.decided_by = check.decided_at = None
    elif not set(settle) <= confirmed:
        check.state = PhotoCheckState.MISMATCH.value
        check.reason = check.decided_by = check.decided_at = None


def compare_again(person: Person) -> None:
    """After the registered name changed: compare every read ID card of the person's live
    enrolments again (a fixed row clears its mismatch; a wrong fix shows one)."""
    checks = db.session.scalars(
        select(PhotoCheck).join(Enrolment, PhotoCheck.enrolment_id == Enrolment.id)
        .where(Enrolment.person_id == person.id, Enrolment.status == EnrolmentState.LIVE.value,
               PhotoCheck.kind == ID_PHOTO, PhotoCheck.reading.is_not(None),
               PhotoCheck.state.in_([PhotoCheckState.PASSED.value,
                                     PhotoCheckState.MISMATCH.value,
                                     PhotoCheckState.CONFIRMED.value])))
    for check in checks:
        _compare(check, id_card.IdCardReading.from_dict(json.loads(check.reading)))


# Deciding ------------------------------------------------------------------------------------

def decidable(check: Optional[PhotoCheck]) -> bool:
    """Whether the enterprise may stand by this photo with a reason: an ID card that differs
    from the row, a 1-inch photo whose face was not found as expected, or a photo the engine
    failed on. An unreadable ID card is not: it asks for a clearer photo."""
    if check is None:
        return False
    if check.state == PhotoCheckState.MISMATCH.value:
        return True
    return check.state == PhotoCheckState.UNREADABLE.value and (
        check.kind == PHOTO or _problem_id(check) == NOT_CHECKED)


@transactional
def confirm(enrolment_id: int, user: Any, reason: str, kind: str = ID_PHOTO) -> None:
    """The enterprise stands by a photo the machine found fault with, with a reason (see
    decidable()). Audited, with the fields that differed and never their values; the order may
    then be generated."""
    from app.services.enrolment import own_live_enrolment

    enrolment = own_live_enrolment(enrolment_id, user)
    lock(Enrolment, enrolment.id)
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError(N_("Please give the reason why the roster is right.") if kind == ID_PHOTO
                          else N_("Please give the reason why this photo is right."))
    if len(reason) > REASON_MAX:
        raise DomainError(N_("The reason is longer than %(n)s characters."), n=REASON_MAX)
    if ID_NUMBER_LIKE.search(reason):  # the reason is shown and audited: no ID numbers in it
        raise DomainError(N_("Please do not write ID numbers in the reason."))
    check = db.session.scalar(select(PhotoCheck).where(PhotoCheck.enrolment_id == enrolment.id,
                                                       PhotoCheck.kind == kind))
    if not decidable(check):
        raise InvalidState(N_("There is nothing to confirm for this photo any more; please "
                              "reload the page."))
    before = check.state
    check.state = PhotoCheckState.CONFIRMED.value
    check.reason = reason
    check.decided_by = user.id
    check.decided_at = clock.now()
    audit.record(f"photo.{kind}.confirm", enrolment,
                 before={"state": before, "differences": check.difference_list},
                 after={"state": check.state, "reason": reason},
                 region_code=enrolment.plan.region_code)


# Reading the findings ------------------------------------------------------------------------

# The poll's answer holds at most this many checks of the current round (the most photos one
# batch may bring, photos.MAX_ZIP_ENTRIES); the page's own rows come on top.
POLLED_MOST = 2000


@dataclass
class Findings:
    """What the 报名 page and its poll show of the machine checks: the checks of the trainees on
    the page, and over all the enterprise's trainees in the plan, the current round's progress
    and what holds their order."""

    checks: dict[int, dict[str, PhotoCheck]] = field(default_factory=dict)  # {enrolment: {kind}}
    queued: int = 0  # still being checked
    total: int = 0  # in the current round (round_progress())
    since: Optional[dt.datetime] = None  # when the current round started
    unsettled: list = field(default_factory=list)  # the first `listed` (enrolment, check) ...
    unsettled_count: int = 0  # ... an order would wait for, and how many there are


def findings(plan_id: int, enterprise_id: int, shown: Iterable[int], *,
             since: Optional[dt.datetime] = None, listed: int = 0) -> Findings:
    """The checks of the trainees `shown` (and with `since`, for the poll, those of the current
    round queued since then, which a batch's result table shows), the progress, and the first
    `listed` checks an order waits for (named under 生成订单) with their number."""
    live = Enrolment.live_in(plan_id, enterprise_id)
    checks = of_enrolments(shown)
    if since is not None:
        for check in db.session.scalars(
                select(PhotoCheck).join(Enrolment, PhotoCheck.enrolment_id == Enrolment.id)
                .where(live, PhotoCheck.queued_at >= since)
                .order_by(PhotoCheck.queued_at.desc(), PhotoCheck.id.desc()).limit(POLLED_MOST)):
            checks.setdefault(check.enrolment_id, {})[check.kind] = check
    queued, total, start = round_progress(live)
    found = Findings(checks, queued, total, start)
    if listed:
        holding = (select(Enrolment, PhotoCheck)
                   .join(PhotoCheck, PhotoCheck.enrolment_id == Enrolment.id)
                   .where(live, Enrolment.order_id.is_(None), PhotoCheck.state.in_(UNRESOLVED),
                          about_current_photo()))
        found.unsettled_count = db.session.scalar(
            select(func.count()).select_from(holding.subquery()))
        found.unsettled = [tuple(pair) for pair in db.session.execute(
            holding.options(selectinload(Enrolment.person))
            .order_by(Enrolment.id, PhotoCheck.kind).limit(listed))]
    return found


def round_progress(trainees) -> tuple[int, int, Optional[dt.datetime]]:
    """(still queued, all of the current round, when it started) over the checks of the
    `trainees` (an SQL condition on Enrolment). The round starts at the oldest check still
    queued, so a batch of 40 reads "12 of 40" whatever was checked the day before."""
    of_them = (select(func.count(), func.min(PhotoCheck.queued_at))
               .join(Enrolment, PhotoCheck.enrolment_id == Enrolment.id).where(trainees))
    queued, start = db.session.execute(
        of_them.where(PhotoCheck.state == PhotoCheckState.QUEUED.value)).one()
    if not queued:
        return 0, 0, None
    total = db.session.execute(of_them.where(PhotoCheck.queued_at >= start)).one()[0]
    return queued, total, start


def of_enrolments(enrolment_ids: Iterable[int]) -> dict[int, dict[str, PhotoCheck]]:
    """{enrolment id: {kind: check}} in one query."""
    ids = list(enrolment_ids)
    found: dict[int, dict[str, PhotoCheck]] = {}
    if ids:
        for check in db.session.scalars(select(PhotoCheck)
                                        .where(PhotoCheck.enrolment_id.in_(ids))):
            found.setdefault(check.enrolment_id, {})[check.kind] = check
    return found


def unresolved(enrolment_ids: Iterable[int]) -> list[PhotoCheck]:
    """The checks an order of these trainees waits for: unsettled findings about the photos the
    trainees have now."""
    ids = list(enrolment_ids)
    if not ids:
        return []
    return list(db.session.scalars(
        select(PhotoCheck).join(Enrolment, PhotoCheck.enrolment_id == Enrolment.id)
        .where(PhotoCheck.enrolment_id.in_(ids), PhotoCheck.state.in_(UNRESOLVED),
               about_current_photo())
        .order_by(PhotoCheck.enrolment_id, PhotoCheck.kind)))


def about_current_photo():
    """SQL, with PhotoCheck joined to its Enrolment: the check is about the file the trainee
    has now (a finding about a photo since replaced holds no order)."""
    return or_(and_(PhotoCheck.kind == PHOTO, PhotoCheck.photo_key == Enrolment.photo_key),
               and_(PhotoCheck.kind == ID_PHOTO, PhotoCheck.photo_key == Enrolment.id_photo_key))


def _problem_id(check: PhotoCheck) -> Optional[str]:
    return json.loads(check.problem)["msgid"] if check.problem else None


def problem_text(check: PhotoCheck) -> str:
    """The refusal or the unreadable photo's message, in the reader's language."""
    if not check.problem:
        return ""
    problem = json.loads(check.problem)
    return gettext(problem["msgid"], **problem.get("params", {}))


def reading_of(check: PhotoCheck) -> dict:
    """What was read off the ID card: {"name", "number", "gender", "birth_date"} (ISO)."""
    return json.loads(check.reading) if check.reading else {}


def field_labels(check: PhotoCheck) -> list[str]:
    return [gettext(FIELD_LABELS[name]) for name in check.difference_list if name in FIELD_LABELS]


def style(check: Optional[PhotoCheck]) -> str:
    return STYLES.get(check.state, "default") if check else "default"


def summary(check: Optional[PhotoCheck]) -> dict:
    """The finding as a page or a poll shows it (no personal data: states and labels only)."""
    if check is None:
        return {"state": None, "label": gettext("Not checked"), "style": style(None)}
    return {"state": check.state, "label": check.state_enum.label, "style": style(check),
            "problem": problem_text(check), "fields": field_labels(check),
            "reason": check.reason or ""}
