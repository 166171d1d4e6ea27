"""Training plan rules: validation, the review state machine, edits after approval, the phase."""
import datetime as dt
from decimal import Decimal
from typing import Any, Collection, Mapping, Optional

from flask_babel import lazy_gettext
from sqlalchemy import and_, false, func, select
from sqlalchemy.sql.elements import ColumnElement

from app import clock
from app.extensions import db
from app.rules import is_city_regulator_of
from app.services import N_, DomainError, Forbidden, InvalidState, NotFound, audit, inbox
from app.services.transaction import transactional
from models.organisation import Enterprise
from models.reference import PROVINCE_CODE, Occupation, OccupationLevel, Region
from models.states import EnrolmentState, PlanPhase, PlanState, ReviewState
from models.training import TrainingPlan

# Changing these under enrolled trainees would change what they signed up and paid for;
# on an approved plan they also need the (city) authority to look again.
TERMS = ("fee", "enrol_start", "enrol_end", "train_start", "train_end", "occupation_id", "level_id",
         "region_code")
MAX_QUOTA = 10_000
MAX_FEE = Decimal("100000")
# Free text: the venue and contact fit their columns; notes are a paragraph, not a document.
VENUE_MAX = 128
CONTACT_MAX = 64
NOTES_MAX = 1000
TEXT_LIMITS = {"venue": (N_("Venue"), VENUE_MAX), "contact": (N_("Contact"), CONTACT_MAX),
               "notes": (N_("Notes"), NOTES_MAX)}
AUDITED = TERMS + ("quota", "venue", "region_code", "contact", "notes", "review_state",
                   "review_reason")
# What an institution enters (plans.create/update take these, by id and code).
FIELDS = ("occupation_id", "level_id", "quota", "fee", "enrol_start", "enrol_end", "train_start",
          "train_end", "venue", "region_code", "contact", "notes")


class PlanRefused(DomainError):
    message = N_("The training plan was not saved.")


def date_order(values: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Where the dates break enrolment opens < enrolment closes ≤ training starts < training
    ends ≤ exam starts: (field, message id, params) for each break, a missing date skipped.

    The one definition of the order, for plans and their assessment plans. Training dates are
    days: enrolment may close on the day training starts, and training ends at the end of its
    last day, so the exam starts on a later day.
    """
    enrol_start, enrol_end = values.get("enrol_start"), values.get("enrol_end")
    train_start, train_end = _day(values.get("train_start")), _day(values.get("train_end"))
    exam_start = values.get("exam_start")
    problems = []
    if enrol_start is not None and enrol_end is not None and not enrol_start < enrol_end:
        problems.append(("enrol_end", N_("Enrolment must close after it opens."), {}))
    if enrol_end is not None and train_start is not None and not _day(enrol_end) <= train_start:
        problems.append(("train_start", N_("Training must not start before the day enrolment "
                                           "closes."), {}))
    if train_start is not None and train_end is not None and not train_start < train_end:
        problems.append(("train_end", N_("Training must end on a later day than it starts."), {}))
    if train_end is not None and exam_start is not None and not train_end < _day(exam_start):
        problems.append(("exam_start", N_("The exam comes after the training, which ends on "
                                          "%(day)s."), {"day": train_end}))
    return problems


def _day(value: Any) -> Any:
    return value.date() if isinstance(value, dt.datetime) else value


def phase(plan: TrainingPlan, at: Optional[dt.datetime] = None) -> Optional[PlanPhase]:
    """Phase of an approved plan at `at` (default: the clock); None if not approved.

    Defined once, in Python and SQL, by TrainingPlan.phase_at / TrainingPlan.in_phase.
    """
    return plan.phase_at(at or clock.now())


def open_for_enrolment(at: Optional[dt.datetime] = None) -> ColumnElement[bool]:
    """SQL for plans an enterprise can enrol in now: approved, 报名中, seats left."""
    at = at or clock.now()
    return and_(TrainingPlan.in_phase(PlanPhase.ENROLLING, at), TrainingPlan.seats_left > 0)


def may_enrol(user: Any) -> ColumnElement[bool]:
    """Only approved enterprises see plans to enrol in."""
    enterprise = db.session.get(Enterprise, user.enterprise_id) if user.enterprise_id else None
    if enterprise is None or enterprise.review_state != ReviewState.APPROVED.value:
        return false()
    return open_for_enrolment()


def seats_taken(plan: TrainingPlan) -> int:
    return plan.seats_reserved + plan.seats_paid


def has_trainees(plan: TrainingPlan) -> bool:
    """Anyone enrolled (live) or holding a seat."""
    from models.enrolment import Enrolment

    with db.session.no_autoflush:  # the plan may hold unsaved edits being checked
        enrolled = db.session.scalar(select(func.count()).select_from(Enrolment).where(
            Enrolment.plan_id == plan.id, Enrolment.status == EnrolmentState.LIVE.value))
    return bool(enrolled) or seats_taken(plan) > 0


# Forms set relationships (plan.region), code sets keys (plan.region_code): either counts.
RELATIONS = {"occupation_id": "occupation", "level_id": "level", "region_code": "region"}


def _key(plan: TrainingPlan, column: str):
    related = getattr(plan, RELATIONS[column])
    if related is not None:
        return related.code if column == "region_code" else related.id
    return getattr(plan, column)


def validate(plan: TrainingPlan, changed: Collection[str] = ()) -> None:
    """The field rules, with a message that says what to fix. `changed`: the fields being set
    now (a retired occupation or level is refused only when it is being chosen)."""
    required = ("quota", "fee", "enrol_start", "enrol_end", "train_start", "train_end", "venue")
    if any(getattr(plan, name) in (None, "") for name in required) or any(
            _key(plan, column) is None for column in RELATIONS):
        raise PlanRefused(N_("Please fill in every required field."))
    if not 1 <= plan.quota <= MAX_QUOTA:
        raise PlanRefused(N_("The quota must be between 1 and %(n)s."), n=MAX_QUOTA)
    fee = Decimal(plan.fee)
    if not fee.is_finite() or fee < 0 or fee > MAX_FEE or fee != fee.quantize(Decimal("0.01")):
        raise PlanRefused(N_("The fee must be between 0 and %(max)s yuan, with at most two "
                             "decimals."), max=MAX_FEE)
    problems = date_order({name: getattr(plan, name) for name in (
        "enrol_start", "enrol_end", "train_start", "train_end")})
    if problems:
        _field, message, params = problems[0]
        raise PlanRefused(message, **params)
    for name, (label, limit) in TEXT_LIMITS.items():
        if len(getattr(plan, name) or "") > limit:
            raise PlanRefused(N_("“%(field)s” can be at most %(n)s characters."),
                              field=lazy_gettext(label), n=limit)
    with db.session.no_autoflush:
        region = db.session.get(Region, _key(plan, "region_code"))
    if region is None or region.parent_code != PROVINCE_CODE:
        raise PlanRefused(N_("Please choose the city where the training takes place."))
    for name in ("occupation", "level"):
        value = getattr(plan, name)
        if value is not None and not value.active and f"{name}_id" in changed:
            raise PlanRefused(N_("“%(name)s” is retired; please choose a current value."),
                              name=value.name)


def _set(plan: TrainingPlan, values: Mapping[str, Any]) -> dict[str, Any]:
    """Put the entered FIELDS on the plan, related rows looked up first; the values set."""
    new = {name: values.get(name) for name in FIELDS}
    related = {"occupation": db.session.get(Occupation, new["occupation_id"])
               if new["occupation_id"] is not None else None,
               "level": db.session.get(OccupationLevel, new["level_id"])
               if new["level_id"] is not None else None,
               "region": db.session.get(Region, new["region_code"])
               if new["region_code"] is not None else None}
    for name, value in new.items():
        if name not in RELATIONS:
            setattr(plan, name, value)
    for name, row in related.items():  # as a form sets them: by the related row
        setattr(plan, name, row)
    return new


@transactional
def create(user: Any, values: Mapping[str, Any]) -> TrainingPlan:
    """A new plan by an institution user: its own, a draft, valid, audited."""
    if not user.institution_id:
        raise Forbidden()
    plan = TrainingPlan(institution_id=user.institution_id, review_state=PlanState.DRAFT.value,
                        review_reason=None, seats_reserved=0, seats_paid=0,
                        created_at=clock.now())
    _set(plan, values)
    validate(plan, FIELDS)
    db.session.add(plan)
    db.session.flush()
    audit.record("plan.create", plan, after=audit.changes(plan, list(AUDITED)))
    return plan


@transactional
def update(plan_id: int, user: Any, values: Mapping[str, Any]) -> TrainingPlan:
    """Edits by the plan's institution; on an approved plan the terms stay while anyone is
    enrolled, and a change of terms sends it back to the authority."""
    plan = db.session.get(TrainingPlan, plan_id, with_for_update=True)
    if plan is None or plan.institution_id != user.institution_id:
        raise NotFound()
    if plan.review_state == PlanState.SUBMITTED.value:
        raise PlanRefused(N_("The plan is awaiting review and cannot be changed now."))
    before = audit.changes(plan, list(FIELDS))
    with db.session.no_autoflush:  # the edits are checked before anything is written
        new = _set(plan, values)
        changed = {name: before[name] for name in FIELDS if new[name] != before[name]}
        validate(plan, changed)
        if plan.review_state == PlanState.APPROVED.value:
            terms = [name for name in TERMS if name in changed]
            taken = seats_taken(plan)
            if terms and has_trainees(plan):
                raise PlanRefused(N_("Trainees are enrolled, so the fee, dates, occupation, "
                                     "level and region can no longer change."))
            if plan.quota < taken:
                raise PlanRefused(N_("The quota cannot be less than the %(n)s seats already "
                                     "taken."), n=taken)
            if terms:  # what the authority approved has changed: it must look again
                plan.review_state = PlanState.SUBMITTED.value
    audit.record("plan.update", plan, before={k: changed[k] for k in changed if k in AUDITED},
                 after={k: new[k] for k in changed if k in AUDITED})
    return plan


@transactional
def submit(plan_id: int, user: Any) -> TrainingPlan:
    plan = _own_plan(plan_id, user)
    if plan.review_state not in (PlanState.DRAFT.value, PlanState.REJECTED.value):
        raise InvalidState(N_("Only a draft or rejected plan can be submitted."))
    validate(plan)
    return _transition(plan, PlanState.SUBMITTED, None, "plan.submit")


@transactional
def approve(plan_id: int, reviewer: Any) -> TrainingPlan:
    plan = _reviewable(plan_id, reviewer)
    return _transition(plan, PlanState.APPROVED, None, "plan.approve")


@transactional
def reject(plan_id: int, reviewer: Any, reason: str) -> TrainingPlan:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(N_("Please give the reason for rejecting the plan."))
    plan = _reviewable(plan_id, reviewer)
    return _transition(plan, PlanState.REJECTED, reason[:256], "plan.reject")


def _own_plan(plan_id: int, user: Any) -> TrainingPlan:
    plan = db.session.get(TrainingPlan, plan_id, with_for_update=True)
    if plan is None or plan.institution_id != user.institution_id:
        raise NotFound()
    return plan


def _reviewable(plan_id: int, reviewer: Any) -> TrainingPlan:
    plan = db.session.get(TrainingPlan, plan_id, with_for_update=True)
    if plan is None:
        raise NotFound()
    if not is_city_regulator_of(reviewer, plan.region_code):
        raise Forbidden(N_("Plans are reviewed by the city authority of the plan's region."))
    if plan.review_state != PlanState.SUBMITTED.value:
        raise InvalidState(N_("This plan is not awaiting review."))
    return plan


def _transition(plan: TrainingPlan, state: PlanState, reason: Optional[str],
                action: str) -> TrainingPlan:
    before = audit.changes(plan, ["review_state", "review_reason"])
    plan.review_state = state.value
    plan.review_reason = reason
    entry = audit.record(action, plan, before=before,
                         after=audit.changes(plan, ["review_state", "review_reason"]))
    if state == PlanState.SUBMITTED:
        inbox.plan_submitted(plan, entry)
    return plan
