"""报名人员查询: find trainees by name, ID number or mobile (exact or prefix, on indexes),
filter by plan, occupation, year and the four progress states, within the user's row scope.

A row's four progress columns: the training plan's phase (from its dates), its assessment
plan's state, the score report's state, the trainee's certificate state.
"""
import datetime as dt
import re
from dataclasses import asdict, dataclass, fields
from typing import Any, Iterator, Optional

from sqlalchemy import Select, and_, func, or_, select, union
from sqlalchemy.orm import selectinload

from app import clock, scope
from app.extensions import db
from app.services import NotFound, audit
from app.services.codes import mask_id_number, mask_mobile
from app.services.notices import notices_of
from app.services.transaction import transaction
from models.assessment import AssessmentPlan, Certificate, Score, ScoreReport
from models.enrolment import Enrolment, Person
from models.orders import Order
from models.states import (
    AssessmentState,
    CertificateState,
    EnrolmentState,
    PlanPhase,
    ScoreState,
)
from models.training import TrainingPlan

PER_PAGE = 20
# An authority's (or admin's) look at one trainee's whole ID number, in the audit log; not a
# state change, so not in the trainee's history.
VIEW_ID_ACTION = "trainee.view_id"
AUDITED_VIEWERS = (scope.CITY_REGULATOR, scope.PROVINCE_REGULATOR, scope.ADMIN)
DIGITS = re.compile(r"^[0-9]{1,17}[0-9Xx]?$")
SORTS = {
    "name": Person.name,
    "id_number": Person.id_number,
    "plan": TrainingPlan.train_start,
    "enrolled": Enrolment.created_at,
}


@dataclass
class Search:
    """What the user asked for; every field optional. Also what an export remembers."""

    q: str = ""
    plan_id: Optional[int] = None
    occupation_id: Optional[int] = None
    year: Optional[int] = None
    phase: str = ""
    assessment: str = ""
    score: str = ""
    certificate: str = ""
    sort: str = "enrolled"
    desc: bool = True
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "Search":
        """From request arguments; anything malformed is ignored rather than refused."""
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = args.get(item.name)
            if raw in (None, ""):
                continue
            if item.name in ("plan_id", "occupation_id", "year", "page"):
                try:
                    values[item.name] = max(int(raw), 1)
                except ValueError:
                    continue
            elif item.name == "desc":
                values["desc"] = raw not in ("0", "false")
            else:
                values[item.name] = str(raw).strip()[:32]
        search = cls(**values)
        if search.sort not in SORTS:
            search.sort = "enrolled"
        return search

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Row:
    enrolment: Enrolment
    person: Person
    plan: TrainingPlan
    phase: Optional[PlanPhase]
    assessment: AssessmentState
    score: ScoreState
    certificate: CertificateState


def _prefix(column, text: str):
    """column starts with text, as a range the column's index can serve (LIKE often cannot)."""
    return and_(column >= text, column < text + "\U0010ffff")  # past every character


def _text_clause(q: str):
    q = q.strip()
    if not q:
        return None
    if DIGITS.match(q):
        number = q.upper()
        if len(number) == 18:
            return Person.id_number == number
        by_id = _prefix(Person.id_number, number)
        if len(number) > 11:
            return by_id
        by_mobile = (Enrolment.mobile == number if len(number) == 11
                     else _prefix(Enrolment.mobile, number))
        # The ID number is the person's and the mobile the enrolment's: an OR across the two
        # tables can use neither index, a union of two index ranges can.
        return Enrolment.id.in_(union(
            select(Enrolment.id).join(Person, Person.id == Enrolment.person_id).where(by_id),
            select(Enrolment.id).where(by_mobile)))
    return _prefix(Person.name, q)  # the exact name is in the range too


# Progress, as SQL (for filters) and as states (for rows) --------------------------------------

def _joined(user: Any) -> Select:
    """Trainees in the user's scope with their plan, assessment, score report and certificate."""
    return (select(Enrolment, Person, TrainingPlan, AssessmentPlan.state, ScoreReport.state,
                   Certificate.state)
            .join(Person, Person.id == Enrolment.person_id)
            .join(TrainingPlan, TrainingPlan.id == Enrolment.plan_id)
            .outerjoin(AssessmentPlan, AssessmentPlan.plan_id == Enrolment.plan_id)
            .outerjoin(ScoreReport, ScoreReport.assessment_id == AssessmentPlan.id)
            .outerjoin(Certificate, Certificate.enrolment_id == Enrolment.id)
            .where(Enrolment.status == EnrolmentState.LIVE.value, scope.scope_clause(Enrolment, user)))


def _filtered(search: Search, user: Any) -> Select:
    query = _joined(user)
    text = _text_clause(search.q)
    if text is not None:
        query = query.where(text)
    if search.plan_id:
        query = query.where(Enrolment.plan_id == search.plan_id)
    if search.occupation_id:
        query = query.where(Enrolment.occupation_id == search.occupation_id)
    if search.year:
        query = query.where(TrainingPlan.train_start >= dt.date(search.year, 1, 1),
                            TrainingPlan.train_start < dt.date(search.year + 1, 1, 1))
    if search.phase in {p.value for p in PlanPhase}:
        query = query.where(TrainingPlan.in_phase(PlanPhase(search.phase), clock.now()))
    if search.assessment in {s.value for s in AssessmentState}:
        query = query.where(func.coalesce(AssessmentPlan.state, AssessmentState.DRAFT.value)
                            == search.assessment)
    if search.score in {s.value for s in ScoreState}:
        query = query.where(func.coalesce(ScoreReport.state, ScoreState.NOT_REPORTED.value)
                            == search.score)
    if search.certificate in {s.value for s in CertificateState}:
        query = query.where(func.coalesce(Certificate.state, CertificateState.NOT_GENERATED.value)
                            == search.certificate)
    return query


def _row(found) -> Row:
    from app.services.plans import phase

    enrolment, person, plan, assessment, score, certificate = found
    return Row(enrolment, person, plan, phase(plan),
               AssessmentState(assessment or AssessmentState.DRAFT.value),
               ScoreState(score or ScoreState.NOT_REPORTED.value),
               CertificateState(certificate or CertificateState.NOT_GENERATED.value))


# What a page of results shows beside its rows (企业, 培训机构, 职业(工种) · 等级): one query each
# for the page, not one per row.
SHOWN = (selectinload(Enrolment.enterprise), selectinload(Enrolment.occupation),
         selectinload(Enrolment.level), selectinload(TrainingPlan.institution))


def search(query: Search, user: Any, per_page: int = PER_PAGE) -> tuple[list[Row], int]:
    """One page of matching trainees and the number of all matches."""
    filtered = _filtered(query, user)
    total = db.session.scalar(select(func.count()).select_from(
        filtered.with_only_columns(Enrolment.id).order_by(None).subquery()))
    column = SORTS[query.sort]
    ordered = filtered.order_by(column.desc() if query.desc else column.asc(),
                                Enrolment.id.desc() if query.desc else Enrolment.id.asc())
    page = (ordered.limit(per_page).offset((query.page - 1) * per_page)
            .options(*SHOWN))
    return [_row(found) for found in db.session.execute(page)], total


def count(query: Search, user: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(
        _filtered(query, user).with_only_columns(Enrolment.id).order_by(None).subquery()))


def iterate(query: Search, user: Any, batch: int = 1000) -> Iterator[Row]:
    """Every match in sort order, fetched in batches by keyset on the enrolment id."""
    last = 0
    while True:
        chunk = db.session.execute(
            _filtered(query, user).where(Enrolment.id > last).order_by(Enrolment.id)
            .limit(batch).options(selectinload(Enrolment.enterprise))).all()
        if not chunk:
            return
        for found in chunk:
            yield _row(found)
        last = chunk[-1][0].id
        db.session.expunge_all()  # bounded memory over 50,000 rows


# Detail ---------------------------------------------------------------------------------------

@dataclass
class Detail:
    row: Row
    order: Optional[Order]
    assessment: Optional[AssessmentPlan]
    report: Optional[ScoreReport]
    score: Optional[Score]
    certificate: Optional[Certificate]
    full_id: bool
    history: dict[str, list]
    notices: list


def detail(enrolment_id: int, user: Any) -> Detail:
    """Everything about one trainee in the user's scope, else NotFound. An authority (or an
    admin) opening it sees the whole ID number, and that look is audited (without the number)."""
    found = db.session.execute(_joined(user).where(Enrolment.id == enrolment_id)).first()
    if found is None:
        raise NotFound()
    row = _row(found)
    enrolment = row.enrolment
    order = db.session.get(Order, enrolment.order_id) if enrolment.order_id else None
    assessment = db.session.scalars(select(AssessmentPlan).where(
        AssessmentPlan.plan_id == enrolment.plan_id)).one_or_none()
    report = assessment.score_report if assessment else None
    score = db.session.scalars(select(Score).where(
        Score.enrolment_id == enrolment.id)).one_or_none()
    certificate = db.session.scalars(select(Certificate).where(
        Certificate.enrolment_id == enrolment.id)).one_or_none()
    full_id = may_see_full_id(enrolment, user)
    if not full_id and scope.primary_role(user) in AUDITED_VIEWERS:
        # VIEW_ID_ACTION written out: tests/web/test_navigation_and_language.py finds codes so.
        with transaction():  # the look is on record before the number is shown
            audit.record("trainee.view_id", enrolment, region_code=row.plan.region_code)
        full_id = True
    return Detail(row, order, assessment, report, score, certificate, full_id=full_id,
                  history=_history(enrolment, order, assessment, report, certificate),
                  notices=notices_of(enrolment.id))


def may_see_full_id(enrolment: Enrolment, user: Any) -> bool:
    """Whether `user` sees this trainee's whole ID number (and mobile) on lists, exports and
    pages: the enterprise that enrolled the trainee and the plan's institution (they supplied
    the numbers and match photo files by them). Everyone else sees them masked; an authority
    opening one trainee's 详情 sees them whole, audited (detail())."""
    role = scope.primary_role(user)
    if role == scope.ENTERPRISE:
        return enrolment.enterprise_id == user.enterprise_id
    if role == scope.INSTITUTION:
        return enrolment.plan.institution_id == user.institution_id
    return False


def shown_id_number(enrolment: Enrolment, user: Any) -> str:
    """The trainee's ID number as `user` may see it in a list."""
    number = enrolment.person.id_number
    return number if may_see_full_id(enrolment, user) else mask_id_number(number)


def shown_mobile(enrolment: Enrolment, user: Any) -> str:
    """The enrolment's mobile as `user` may see it in a list."""
    mobile = enrolment.mobile
    return mobile if may_see_full_id(enrolment, user) else mask_mobile(mobile)


def shows_enterprise(user: Any) -> bool:
    """Whether 报名人员查询 (and its export) has an 企业 column: for all but an enterprise,
    whose trainees are all its own."""
    return scope.primary_role(user) != scope.ENTERPRISE


def _history(enrolment, order, assessment, report, certificate) -> dict[str, list]:
    """State changes, from the audit log, for the training and assessment sections."""
    from models.audit import AuditLog

    def entries(*objects):
        pairs = [(type(o).__name__, str(o.id)) for o in objects if o is not None]
        if not pairs:
            return []
        return list(db.session.scalars(select(AuditLog).where(or_(*[
            and_(AuditLog.object_type == kind, AuditLog.object_id == key) for kind, key in pairs
        ]), AuditLog.action != VIEW_ID_ACTION).order_by(AuditLog.at, AuditLog.id)))

    return {"identity": entries(enrolment.person),
            "training": entries(enrolment, order),
            "assessment": entries(assessment, report),
            "certificate": entries(certificate)}

