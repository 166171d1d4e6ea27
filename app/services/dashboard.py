"""The figures on each role's home page, always within the user's row scope.

Regulators see what waits for review and charts of enrolment, pass rates and certificates;
enterprises and institutions see what needs their action now.
"""
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Optional

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, distinct, exists, func, select

from app import clock, scope
from app.extensions import db
from app.services import photo_checks
from app.services.plans import may_enrol
from models.assessment import AssessmentPlan, Certificate, Score, ScoreReport
from models.enrolment import Enrolment, PhotoCheck
from models.orders import Order
from models.organisation import Enterprise, Institution
from models.reference import PROVINCE_CODE, Occupation, Region
from models.states import (
    AssessmentState,
    CertificateState,
    EnrolmentState,
    OrderState,
    PhotoCheckState,
    PlanPhase,
    PlanState,
    ReviewState,
    ScoreState,
)
from models.training import TrainingPlan

REGULATORS = (scope.CITY_REGULATOR, scope.PROVINCE_REGULATOR)
SHOWN_ITEMS = 10  # an action lists at most this many rows; its count covers them all


@dataclass
class Card:
    """A number, opening the page it counts: `target` names it (views/links.py), `filters`
    the list's column == value conditions."""

    label: Any
    value: Any
    target: Optional[str] = None
    filters: dict = field(default_factory=dict)


@dataclass
class Bar:
    label: str
    value: float
    text: str  # what the bar shows, e.g. "12" or "66.7%"
    note: str = ""  # more detail for the bar's tooltip, e.g. "2/3"


@dataclass
class Chart:
    key: str
    title: Any
    bars: list[Bar]
    horizontal: bool = True
    top: Optional[float] = None  # the axis maximum; the largest value when None

    def values(self) -> dict[str, float]:
        return {bar.label: bar.value for bar in self.bars}


@dataclass
class Item:
    """One row of an action: what it is about and where to deal with it (`target`, a page
    named in views/links.py, for the row `id`)."""

    text: str
    target: str
    id: Optional[int] = None
    count: Optional[int] = None
    detail: str = ""


@dataclass
class Action:
    key: str
    label: Any
    count: int
    items: list[Item]


def _count(model: type, user: Any, *conditions) -> int:
    query = (
        select(func.count())
        .select_from(model)
        .where(scope.scope_clause(model, user), *conditions)
    )
    return db.session.scalar(query) or 0


def _counts(user: Any, *counted: tuple) -> list[int]:
    """Several _count()s, each (model, *conditions), in one statement."""
    found = db.session.execute(select(*(
        select(func.count()).select_from(model)
        .where(scope.scope_clause(model, user), *conditions).scalar_subquery()
        for model, *conditions in counted))).one()
    return [n or 0 for n in found]


# Cards ----------------------------------------------------------------------------------------

def cards(user: Any) -> list[Card]:
    role = scope.primary_role(user)
    plans = "plans"
    if role == scope.ENTERPRISE:
        enterprise = user.enterprise
        return [
            Card(_l("Review state"), enterprise.review_state_label if enterprise else "-",
                 "my_enterprise"),
            Card(_l("Plans open for enrolment"),
                 _count(TrainingPlan, user, may_enrol(user)), "open_plans"),
        ]
    if role == scope.INSTITUTION:
        return [
            Card(_l("Training plans"), _count(TrainingPlan, user), plans),
            Card(_l("Plans awaiting review"),
                 _count(TrainingPlan, user, TrainingPlan.review_state == PlanState.SUBMITTED.value),
                 plans, {"review_state": PlanState.SUBMITTED.value}),
        ]
    if role in REGULATORS:
        return waiting(user)
    if role == scope.ADMIN:
        return [
            Card(_l("Enterprises"), _count(Enterprise, user), "enterprises"),
            Card(_l("Training institutions"), _count(Institution, user), "institutions"),
            Card(_l("Training plans"), _count(TrainingPlan, user), plans),
        ]
    return []


def waiting(user: Any) -> list[Card]:
    """What waits for a regulator's review, each linking to its list."""
    submitted = PlanState.SUBMITTED.value
    reported = AssessmentState.REPORTED.value
    accepted = ScoreState.ACCEPTED.value
    enterprises, plans, assessments, reports = _counts(
        user,
        # Only the enterprises this authority reviews (the province reviews province-owned).
        (Enterprise, Enterprise.review_state == ReviewState.PENDING.value,
         Enterprise.reviewing_authority_id == user.authority_id),
        (TrainingPlan, TrainingPlan.review_state == submitted),
        (AssessmentPlan, AssessmentPlan.state == reported),
        (ScoreReport, ScoreReport.state == accepted))
    return [
        Card(_l("Enterprises awaiting review"), enterprises, "enterprise_review"),
        Card(_l("Plans awaiting review"), plans, "plans", {"review_state": submitted}),
        Card(_l("Assessment plans awaiting review"), assessments,
             "assessment_plans", {"state": reported}),
        Card(_l("Score reports awaiting review"), reports, "score_reports", {"state": accepted}),
    ]


# Charts (regulators) --------------------------------------------------------------------------

def charts(user: Any) -> list[Chart]:
    role = scope.primary_role(user)
    if role not in REGULATORS:
        return []
    found = [enrolled_per_month(user), enrolled_per_occupation(user)]
    if role == scope.PROVINCE_REGULATOR:  # a city authority sees its own city only
        found.append(enrolled_per_city(user))
    found += [pass_rate_per_occupation(user), certificates_pushed(user)]
    return found


def _enrolled(user: Any):
    """Live enrolments in the user's scope."""
    return and_(Enrolment.status == EnrolmentState.LIVE.value, scope.scope_clause(Enrolment, user))


def _counted(label: str, n: int) -> Bar:
    return Bar(label, n, str(n))


def _months(now: dt.datetime, n: int) -> list[tuple[int, int]]:
    """The n calendar months up to and including now's, oldest first."""
    index = now.year * 12 + now.month - 1
    return [divmod(i, 12) for i in range(index - n + 1, index + 1)]


def enrolled_per_month(user: Any, months: int = 12) -> Chart:
    """Trainees enrolled in each of the last `months` calendar months (by enrolment time)."""
    window = [(year, month + 1) for year, month in _months(clock.now(), months)]
    first, last = window[0], window[-1]
    start = dt.datetime(first[0], first[1], 1)
    end = dt.datetime(last[0] + last[1] // 12, last[1] % 12 + 1, 1)
    year = func.extract("year", Enrolment.created_at)
    month = func.extract("month", Enrolment.created_at)
    rows = db.session.execute(
        select(year, month, func.count())
        .where(_enrolled(user), Enrolment.created_at >= start, Enrolment.created_at < end)
        .group_by(year, month)).all()
    counts = {(int(y), int(m)): n for y, m, n in rows}
    return Chart("per_month", _l("Trainees enrolled per month"),
                 [_counted(f"{y}-{m:02d}", counts.get((y, m), 0)) for y, m in window],
                 horizontal=False)


def enrolled_per_occupation(user: Any, top: int = 10) -> Chart:
    """The `top` occupations by trainees enrolled."""
    n = func.count(Enrolment.id)
    rows = db.session.execute(
        select(Occupation.name, n)
        .join(Enrolment, Enrolment.occupation_id == Occupation.id)
        .where(_enrolled(user))
        .group_by(Occupation.id, Occupation.name, Occupation.sort_order)
        .order_by(n.desc(), Occupation.sort_order, Occupation.name)
        .limit(top)).all()
    return Chart("per_occupation", _l("Trainees enrolled per occupation"),
                 [_counted(name, count) for name, count in rows])


def enrolled_per_city(user: Any) -> Chart:
    """Trainees enrolled in each city's training plans; every city, none left out."""
    rows = dict(db.session.execute(
        select(TrainingPlan.region_code, func.count(Enrolment.id))
        .join(TrainingPlan, TrainingPlan.id == Enrolment.plan_id)
        .where(_enrolled(user))
        .group_by(TrainingPlan.region_code)).all())
    cities = db.session.scalars(
        select(Region).where(Region.parent_code == PROVINCE_CODE).order_by(Region.code))
    return Chart("per_city", _l("Trainees enrolled per city"),
                 [_counted(city.name, rows.get(city.code, 0)) for city in cities])


def pass_rate_per_occupation(user: Any, top: int = 10) -> Chart:
    """Share of trainees passed among the scores of approved score reports, per occupation."""
    scored = func.count(Score.id)
    passed = func.sum(case((Score.passed, 1), else_=0))
    rows = db.session.execute(
        select(Occupation.name, passed, scored)
        .select_from(Score)
        .join(ScoreReport, ScoreReport.id == Score.report_id)
        .join(Enrolment, Enrolment.id == Score.enrolment_id)
        .join(Occupation, Occupation.id == Enrolment.occupation_id)
        .where(ScoreReport.state == ScoreState.APPROVED.value,
               scope.scope_clause(Enrolment, user))
        .group_by(Occupation.id, Occupation.name, Occupation.sort_order)
        .order_by(scored.desc(), Occupation.sort_order, Occupation.name)
        .limit(top)).all()
    bars = []
    for name, n_passed, n_scored in rows:
        rate = round(100 * int(n_passed) / n_scored, 1)
        bars.append(Bar(name, rate, f"{rate:.1f}%", f"{int(n_passed)}/{n_scored}"))
    return Chart("pass_rate", _l("Pass rate per occupation"), bars, top=100)


def certificates_pushed(user: Any) -> Chart:
    """Certificates pushed to the ministry against those generated and not yet pushed."""
    rows = dict(db.session.execute(
        select(Certificate.state, func.count())
        .where(scope.scope_clause(Certificate, user))
        .group_by(Certificate.state)).all())
    return Chart("certificates", _l("Certificates pushed and pending"), [
        _counted(state.label, rows.get(state.value, 0))
        for state in (CertificateState.PUSHED, CertificateState.GENERATED)])


# Actions (enterprises and institutions) ------------------------------------------------------

def actions(user: Any) -> list[Action]:
    """What needs the user's action now; only what is not empty."""
    role = scope.primary_role(user)
    if role == scope.ENTERPRISE:
        found = _enterprise_actions(user)
    elif role == scope.INSTITUTION:
        found = _institution_actions(user)
    else:
        found = []
    return [action for action in found if action.count]


def _action(key: str, label: Any, items: list[Item], count: Optional[int] = None) -> Action:
    total = len(items) if count is None else count
    return Action(key, label, total, items[:SHOWN_ITEMS])


def _enterprise_actions(user: Any) -> list[Action]:
    enterprise = db.session.get(Enterprise, user.enterprise_id) if user.enterprise_id else None
    if enterprise is None:
        return []
    now = clock.now()
    found = []
    if enterprise.review_state == ReviewState.REJECTED.value:
        found.append(_action("registration", _l("Registration not passed: correct and resubmit"),
                             [Item(enterprise.review_reason or enterprise.name,
                                   "my_enterprise")]))
    found.append(_action("orders_to_pay", _l("Orders to pay"), orders_to_pay(user, now)))
    photos = photos_missing(user, now)
    found.append(_action("photos_missing", _l("Trainees missing photos"), photos,
                         sum(item.count for item in photos)))
    findings = photos_to_settle(user, now)
    found.append(_action("photos_to_settle", _l("Trainees whose photo check needs you"), findings,
                         sum(item.count for item in findings)))
    found.append(_action("tickets", _l("Admission tickets available"),
                         tickets_available(user, now)))
    return found


def orders_to_pay(user: Any, now: dt.datetime) -> list[Item]:
    """Unpaid orders still within their time (one past it reads as expired)."""
    orders = db.session.scalars(
        select(Order).where(scope.scope_clause(Order, user),
                            Order.payable_at(now))
        .order_by(Order.expires_at, Order.id))
    return [Item(f"{order.out_trade_no} · {order.plan}", "order", order.id,
                 detail=gettext("%(amount)s yuan, pay before %(time)s", amount=order.amount,
                                time=f"{order.expires_at:%H:%M}"))
            for order in orders]


def _not_ordered_per_plan(user: Any, now: dt.datetime, *conditions,
                         checks: bool = False) -> list[Item]:
    """Per plan still enrolling, the user's trainees not yet in an order that meet
    `conditions` (with `checks`, their photo checks joined; a trainee counts once), each plan
    opening its 报名 page."""
    query = (select(TrainingPlan, func.count(distinct(Enrolment.id)))
             .join(Enrolment, Enrolment.plan_id == TrainingPlan.id))
    if checks:
        query = query.join(PhotoCheck, PhotoCheck.enrolment_id == Enrolment.id)
    rows = db.session.execute(
        query.where(_enrolled(user), Enrolment.order_id.is_(None),
                    TrainingPlan.in_phase(PlanPhase.ENROLLING, now), *conditions)
        .group_by(TrainingPlan.id).order_by(TrainingPlan.enrol_end, TrainingPlan.id)).all()
    return [Item(str(plan), "enrolment_plan", plan.id, count=count) for plan, count in rows]


def photos_missing(user: Any, now: dt.datetime) -> list[Item]:
    """Per plan still enrolling: trainees not yet in an order who lack a photo."""
    return _not_ordered_per_plan(user, now, ~Enrolment.photos_complete)


def photos_to_settle(user: Any, now: dt.datetime) -> list[Item]:
    """Per plan still enrolling: trainees not yet in an order whose current photo the machine
    found differing from the roster or unreadable, which holds their order (生成订单)."""
    return _not_ordered_per_plan(
        user, now, PhotoCheck.state.in_([s.value for s in PhotoCheckState.for_the_clerk()]),
        photo_checks.about_current_photo(), checks=True)


def tickets_available(user: Any, now: dt.datetime) -> list[Item]:
    """Plans whose assessment is approved and not yet over, with the user's paid trainees."""
    n = func.count(Enrolment.id)
    rows = db.session.execute(
        select(TrainingPlan, AssessmentPlan, n)
        .join(AssessmentPlan, AssessmentPlan.plan_id == TrainingPlan.id)
        .join(Enrolment, Enrolment.plan_id == TrainingPlan.id)
        .join(Order, Order.id == Enrolment.order_id)
        .where(_enrolled(user), Order.state == OrderState.PAID.value,
               AssessmentPlan.state == AssessmentState.APPROVED.value,
               AssessmentPlan.exam_end > now)
        .group_by(TrainingPlan.id, AssessmentPlan.id)
        .order_by(AssessmentPlan.exam_start, TrainingPlan.id)).all()
    return [Item(str(plan), "enrolled_plan", plan.id, count=count,
                 detail=assessment.exam_time)
            for plan, assessment, count in rows]


def _institution_actions(user: Any) -> list[Action]:
    return [
        _action("assessments_returned", _l("Assessment plans returned"),
                assessments_returned(user)),
        _action("scores_not_passed", _l("Score reports not passed"), scores_not_passed(user)),
        _action("assessments_missing", _l("Finished plans without an assessment plan"),
                assessments_missing(user)),
    ]


def assessments_returned(user: Any) -> list[Item]:
    found = db.session.scalars(
        select(AssessmentPlan).where(scope.scope_clause(AssessmentPlan, user),
                                     AssessmentPlan.state == AssessmentState.REJECTED.value)
        .order_by(AssessmentPlan.reviewed_at, AssessmentPlan.id))
    return [Item(str(a.plan), "assessment_plan", a.id,
                 detail=a.review_reason or "") for a in found]


def scores_not_passed(user: Any) -> list[Item]:
    """Rejected score reports; they are imported again on their assessment plan's page."""
    found = db.session.scalars(
        select(ScoreReport).where(scope.scope_clause(ScoreReport, user),
                                  ScoreReport.state == ScoreState.REJECTED.value)
        .order_by(ScoreReport.reviewed_at, ScoreReport.id))
    return [Item(str(r.assessment.plan), "assessment_plan", r.assessment_id,
                 detail=r.review_reason or "") for r in found]


def assessments_missing(user: Any) -> list[Item]:
    """Approved plans whose training has ended, with paid trainees and no assessment plan."""
    paid = func.count(Enrolment.id)
    rows = db.session.execute(
        select(TrainingPlan, paid)
        .join(Enrolment, Enrolment.plan_id == TrainingPlan.id)
        .join(Order, Order.id == Enrolment.order_id)
        .where(scope.scope_clause(TrainingPlan, user),
               TrainingPlan.in_phase(PlanPhase.TRAINING_ENDED, clock.now()),
               ~exists().where(AssessmentPlan.plan_id == TrainingPlan.id),
               Enrolment.status == EnrolmentState.LIVE.value, Order.state == OrderState.PAID.value)
        .group_by(TrainingPlan.id).order_by(TrainingPlan.train_end, TrainingPlan.id)).all()
    return [Item(str(plan), "new_assessment_plan", plan.id, count=count)
            for plan, count in rows]
