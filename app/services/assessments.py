"""考核计划: the institution creates the exam of a finished plan and reports it; the city
authority approves it (admission tickets are made then) or returns it with a reason."""
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any, Optional

from flask_babel import gettext
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app import clock
from app.extensions import db
from app.rules import is_city_regulator_of
from app.services import N_, DomainError, Forbidden, InvalidState, NotFound, audit, inbox
from app.services.plans import date_order, phase
from app.services.transaction import transactional
from models.assessment import AdmissionTicket, AssessmentPlan
from models.enrolment import Enrolment
from models.orders import Order
from models.states import AssessmentState, EnrolmentState, OrderState, PlanPhase
from models.training import TrainingPlan

FIELDS = ("exam_start", "exam_end", "venue", "theory_part", "practical_part", "theory_pass",
          "practical_pass")
EDITABLE_STATES = (AssessmentState.DRAFT.value, AssessmentState.REJECTED.value)
# Free text, as long as its column.
TEXT_LIMITS = {"venue": 128, "theory_part": 256, "practical_part": 256}


class AssessmentRefused(DomainError):
    message = N_("The assessment plan was not saved.")


@dataclass
class FieldError:
    field: str
    message: str


def paid_enrolments(plan_id: int):
    """SQL for the live trainees of a plan whose order is paid: the people an exam is for."""
    return (select(Enrolment)
            .join(Order, Order.id == Enrolment.order_id)
            .where(Enrolment.plan_id == plan_id, Enrolment.status == EnrolmentState.LIVE.value,
                   Order.state == OrderState.PAID.value)
            .order_by(Enrolment.id))


def paid_count(plan_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(paid_enrolments(plan_id).subquery()))




def assessment_of(plan_id: int) -> Optional[AssessmentPlan]:
    return db.session.scalars(select(AssessmentPlan).where(
        AssessmentPlan.plan_id == plan_id)).one_or_none()


def check(plan: TrainingPlan, values: dict[str, Any]) -> list[FieldError]:
    """Every problem with the submitted values, each against its field."""
    errors = []
    start, end = values.get("exam_start"), values.get("exam_end")
    if not isinstance(start, dt.datetime):
        errors.append(FieldError("exam_start", gettext("Give the date and time the exam starts.")))
    if not isinstance(end, dt.datetime):
        errors.append(FieldError("exam_end", gettext("Give the date and time the exam ends.")))
    if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
        if end <= start:
            errors.append(FieldError("exam_end", gettext("The exam must end after it starts.")))
        if start <= clock.now():
            errors.append(FieldError("exam_start", gettext("The exam cannot start in the past.")))
        for field, message, params in date_order({"train_end": plan.train_end,
                                                  "exam_start": start}):
            errors.append(FieldError(field, gettext(message, **params)))
    for name, limit in TEXT_LIMITS.items():
        text = str(values.get(name) or "").strip()
        if not text:
            errors.append(FieldError(name, gettext("This field is required.")))
        elif len(text) > limit:
            errors.append(FieldError(name, gettext("At most %(n)s characters.", n=limit)))
    for name in ("theory_pass", "practical_pass"):
        mark = values.get(name)
        if not isinstance(mark, int) or isinstance(mark, bool) or not 0 <= mark <= 100:
            errors.append(FieldError(name, gettext("A pass mark is a whole number from 0 to 100.")))
    return errors


def finished_plan(plan_id: int, user: Any) -> TrainingPlan:
    """The institution's own plan, if its training has ended."""
    plan = db.session.get(TrainingPlan, plan_id)
    if plan is None or plan.institution_id != user.institution_id:
        raise NotFound()
    if phase(plan) != PlanPhase.TRAINING_ENDED:
        raise InvalidState(N_("An assessment plan is made once the training has ended (培训结束)."))
    return plan


@transactional
def create(plan_id: int, user: Any, values: dict[str, Any]) -> tuple[Optional[AssessmentPlan],
                                                                     list[FieldError]]:
    plan = finished_plan(plan_id, user)
    if assessment_of(plan.id) is not None:
        raise InvalidState(N_("This plan already has an assessment plan."))
    errors = check(plan, values)
    if errors:
        return None, errors
    assessment = AssessmentPlan(plan_id=plan.id, state=AssessmentState.DRAFT.value,
                                created_at=clock.now(), **_clean(values))
    db.session.add(assessment)
    try:
        db.session.flush()
    except IntegrityError:  # made by a parallel request a moment ago
        raise InvalidState(N_("This plan already has an assessment plan.")) from None
    audit.record("assessment.create", assessment, after=_snapshot(assessment),
                 region_code=plan.region_code)
    return assessment, []


@transactional
def update_values(assessment_id: int, user: Any, values: dict[str, Any]) -> list[FieldError]:
    assessment = own_assessment(assessment_id, user)
    if assessment.state not in EDITABLE_STATES:
        raise InvalidState(N_("A reported or reviewed assessment plan cannot be changed."))
    errors = check(assessment.plan, values)
    if errors:
        return errors
    before = _snapshot(assessment)
    for key, value in _clean(values).items():
        setattr(assessment, key, value)
    audit.record("assessment.edit", assessment, before=before, after=_snapshot(assessment),
                 region_code=assessment.plan.region_code)
    return []


@transactional
def report(assessment_id: int, user: Any) -> AssessmentPlan:
    """上报: the city authority may now review it. Only paid trainees take the exam."""
    assessment = own_assessment(assessment_id, user)
    if assessment.state not in EDITABLE_STATES:
        raise InvalidState(N_("Only an assessment plan not yet reported (or returned) can be "
                              "reported."))
    if paid_count(assessment.plan_id) == 0:
        raise InvalidState(N_("Nobody has paid for this plan, so there is nobody to assess."))
    return _transition(assessment, EDITABLE_STATES, AssessmentState.REPORTED, None,
                       "assessment.report")


@transactional
def approve(assessment_id: int, reviewer: Any) -> AssessmentPlan:
    """已审核: each paid trainee gets an admission ticket, in the same transaction."""
    assessment = reviewable(assessment_id, reviewer)
    assessment = _transition(assessment, (AssessmentState.REPORTED.value,),
                             AssessmentState.APPROVED, None, "assessment.approve")
    _make_tickets(assessment)
    db.session.flush()
    inbox.tickets_available(assessment)
    return assessment


@transactional
def reject(assessment_id: int, reviewer: Any, reason: str) -> AssessmentPlan:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(N_("Please give the reason for returning the assessment plan."))
    assessment = reviewable(assessment_id, reviewer)
    return _transition(assessment, (AssessmentState.REPORTED.value,), AssessmentState.REJECTED,
                       reason[:256], "assessment.reject")


def own_assessment(assessment_id: int, user: Any) -> AssessmentPlan:
    assessment = db.session.get(AssessmentPlan, assessment_id)
    if assessment is None or assessment.plan.institution_id != user.institution_id:
        raise NotFound()
    return assessment


def reviewable(assessment_id: int, reviewer: Any) -> AssessmentPlan:
    """An assessment plan in the reviewer's city (the city authority reviews)."""
    assessment = db.session.get(AssessmentPlan, assessment_id)
    if assessment is None:
        raise NotFound()
    if not is_city_regulator_of(reviewer, assessment.plan.region_code):
        raise Forbidden(N_("Assessment plans are reviewed by the city authority of the plan's "
                           "region."))
    if assessment.state != AssessmentState.REPORTED.value:
        raise InvalidState(N_("This assessment plan is not awaiting review."))
    return assessment


def _transition(assessment: AssessmentPlan, sources: tuple[str, ...], target: AssessmentState,
                reason: Optional[str], action: str) -> AssessmentPlan:
    """Move the state if it is still one of `sources` (a conditional UPDATE: one winner)."""
    now = clock.now()
    values = {"state": target.value, "review_reason": reason}
    if target is AssessmentState.REPORTED:
        values["reported_at"] = now
    else:
        values["reviewed_at"] = now
    before = {"state": assessment.state}
    moved = db.session.execute(
        update(AssessmentPlan)
        .where(AssessmentPlan.id == assessment.id, AssessmentPlan.state.in_(sources))
        .values(**values).execution_options(synchronize_session=False)).rowcount
    if not moved:
        raise InvalidState(N_("Someone changed this assessment plan meanwhile; please look again."))
    db.session.refresh(assessment)
    entry = audit.record(action, assessment, before=before,
                         after={"state": target.value, "reason": reason},
                         region_code=assessment.plan.region_code)
    if target is AssessmentState.REPORTED:
        inbox.assessment_reported(assessment, entry)
    elif target is AssessmentState.REJECTED:
        inbox.assessment_returned(assessment, entry)
    return assessment


def _make_tickets(assessment: AssessmentPlan) -> None:
    now = clock.now()
    for seq, enrolment in enumerate(db.session.scalars(paid_enrolments(assessment.plan_id)),
                                    start=1):
        db.session.add(AdmissionTicket(
            assessment_id=assessment.id, enrolment_id=enrolment.id,
            number=f"ZK{assessment.exam_start:%Y%m%d}{assessment.id:05d}{seq:04d}",
            verify_token=secrets.token_hex(16), created_at=now))




def ticket_by_token(token: str) -> AdmissionTicket:
    ticket = db.session.scalars(select(AdmissionTicket).where(
        AdmissionTicket.verify_token == token)).one_or_none()
    if ticket is None:
        raise NotFound()
    return ticket


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    cleaned = {key: values[key] for key in FIELDS}
    for key in ("venue", "theory_part", "practical_part"):
        cleaned[key] = str(cleaned[key]).strip()
    return cleaned


def _snapshot(assessment: AssessmentPlan) -> dict[str, Any]:
    return {key: getattr(assessment, key) for key in FIELDS + ("state",)}
