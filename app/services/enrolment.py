"""Enrolling an enterprise's workers in a plan: roster import, one at a time, removal."""
import bisect
from dataclasses import dataclass
from typing import Any, Optional

from flask_babel import gettext
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app import clock
from app.extensions import db
from app.services import N_, DomainError, NotFound, audit, people, photo_checks
from app.services import roster as roster_rules
from app.services.codes import id_birth_date, mask_mobile
from app.services.plans import phase
from app.services.transaction import transactional
from models.enrolment import Enrolment, ImportBatch, Person
from models.organisation import Enterprise
from models.reference import Education, ProfessionalTitle
from models.states import EnrolmentState, PlanPhase, PlanState, ReviewState
from models.training import TrainingPlan


class EnrolmentRefused(DomainError):
    message = N_("Enrolment is not possible now.")


class _Raced(Exception):
    """A person's registered name changed between the check and the save."""


def enrolling_plan(plan_id: int, user: Any) -> TrainingPlan:
    """The plan, if this user's enterprise may enrol people in it now."""
    enterprise = db.session.get(Enterprise, user.enterprise_id) if user.enterprise_id else None
    plan = db.session.get(TrainingPlan, plan_id)
    if enterprise is None or plan is None or plan.review_state != PlanState.APPROVED.value:
        raise NotFound()  # a draft or refused plan is as unknown to enterprises as a missing one
    if enterprise.review_state != ReviewState.APPROVED.value:
        raise EnrolmentRefused(N_("Your enterprise must pass review before it can enrol trainees."),
                               status=409)
    if phase(plan) != PlanPhase.ENROLLING:
        raise EnrolmentRefused(N_("This plan is not open for enrolment now."), status=409)
    return plan


@transactional
def import_roster(plan_id: int, user: Any, data: bytes, filename: str) -> roster_rules.Report:
    """Check the roster; if it is clean, create its people and enrolments in one transaction."""
    plan = enrolling_plan(plan_id, user)
    report = roster_rules.check(data, plan)
    if not report.ok:
        return report
    now = clock.now()
    try:
        batch = ImportBatch(plan_id=plan.id, enterprise_id=user.enterprise_id,
                            filename=filename[:255], rows=len(report.trainees),
                            created_by=user.id, created_at=now)
        db.session.add(batch)
        db.session.flush()
        person_ids = _save_people(report.trainees, now)
        _bulk_insert(Enrolment.__table__, [
            dict(_enrolment_values(t), person_id=person_ids[t.id_number], plan_id=plan.id,
                 enterprise_id=user.enterprise_id, batch_id=batch.id, status=EnrolmentState.LIVE.value,
                 created_at=now)
            for t in report.trainees])
        audit.record("roster.import", batch, after={"plan": plan.id, "rows": batch.rows,
                                                    "file": batch.filename},
                     region_code=plan.region_code)
        db.session.flush()  # a clash is refused here, not at the commit
    except (IntegrityError, _Raced):  # another upload enrolled or registered one of them meanwhile
        raise EnrolmentRefused(N_("Someone in this roster was enrolled in the plan meanwhile; "
                                  "please check the roster again."), status=409) from None
    return report


def _enrolment_values(trainee) -> dict:
    """What the enterprise says of its worker besides the identity: the enrolment's own."""
    return dict(mobile=trainee.mobile, education_id=trainee.education_id,
                title_id=trainee.title_id, occupation_id=trainee.occupation_id,
                level_id=trainee.level_id)


def _save_people(trainees, now) -> dict[str, int]:
    """Register the ID numbers not known yet (one Person per number); id by number.

    Known people are never written: their registered name must be the one given (checked
    against the plan before, and here again inside the transaction, so a correction made
    meanwhile cannot slip through).
    """
    names = {t.id_number: t.name for t in trainees}
    numbers = list(names)
    known: dict[str, int] = {}
    for start in range(0, len(numbers), 500):
        for number, person_id, name in db.session.execute(
                select(Person.id_number, Person.id, Person.name)
                .where(Person.id_number.in_(numbers[start:start + 500]))):
            known[number] = person_id
            if name != names[number]:
                raise _Raced()
    fresh = [dict(id_number=t.id_number, name=t.name, gender=t.gender,
                  birth_date=id_birth_date(t.id_number), updated_at=now)
             for t in trainees if t.id_number not in known]
    if fresh:
        _bulk_insert(Person.__table__, fresh)
        for start in range(0, len(fresh), 1000):
            chunk = [row["id_number"] for row in fresh[start:start + 1000]]
            known.update(db.session.execute(
                select(Person.id_number, Person.id).where(Person.id_number.in_(chunk)))
                .tuples().all())
    return known


def _bulk_insert(table, rows: list[dict]) -> None:
    """Many rows in this transaction: COPY on PostgreSQL, executemany elsewhere.

    A 10,000-row roster is two of these; row by row through the ORM it would be 20,000
    objects, and PostgreSQL's multi-row INSERTs were still the slowest part of an import.
    """
    if not rows:
        return
    if db.session.get_bind().dialect.name != "postgresql":
        db.session.execute(insert(table), rows)
        return
    import psycopg

    columns = list(rows[0])
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    connection = db.session.connection().connection.driver_connection  # psycopg 3
    try:
        with connection.cursor() as cursor:
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
    except psycopg.IntegrityError as error:  # seen by callers like any other IntegrityError
        raise IntegrityError(statement, None, error) from error


@transactional
def add_trainee(plan_id: int, user: Any, values: dict[str, str]) -> list[roster_rules.CellError]:
    """One trainee by the form, under the same rules as a roster row; [] when enrolled."""
    plan = enrolling_plan(plan_id, user)
    errors: list[roster_rules.CellError] = []
    trainee = roster_rules.check_cells(values, errors)
    if trainee is None:
        return errors
    report = roster_rules.Report(rows=1, trainees=[trainee])
    roster_rules.check_against_plan(plan, report)
    if report.errors:
        return report.errors
    now = clock.now()
    try:
        person_id = _save_people([trainee], now)[trainee.id_number]
        enrolment = Enrolment(person_id=person_id, plan_id=plan.id,
                              enterprise_id=user.enterprise_id, status=EnrolmentState.LIVE.value,
                              created_at=now,
                              **_enrolment_values(trainee))
        db.session.add(enrolment)
        db.session.flush()
    except (IntegrityError, _Raced):  # the same person, enrolled or registered meanwhile
        raise EnrolmentRefused(N_("This person was enrolled in the plan meanwhile; please "
                                  "reload the page."), status=409) from None
    audit.record("enrolment.add", enrolment, after={"id_number": trainee.id_number},
                 region_code=plan.region_code)
    return []


EDITABLE = ("姓名", "性别", "手机号码", "文化程度", "职称")


@transactional
def edit_trainee(enrolment_id: int, user: Any,
                 values: dict[str, str]) -> list[roster_rules.CellError]:
    """Correct a trainee's details (not the ID number) under the roster's rules.

    Mobile, education and title are this enrolment's own. The registered name is the
    person's, shared with any other enterprise: it changes here only while this enterprise is
    the only one that ever enrolled the person and no certificate names them.
    """
    enrolment = own_live_enrolment(enrolment_id, user)
    plan = enrolling_plan(enrolment.plan_id, user)
    person = enrolment.person
    cells = {"身份证号码": person.id_number, "职业(工种)名称": plan.occupation.name,
             "职业等级": plan.level.name, **{h: values.get(h, "") for h in EDITABLE}}
    errors: list[roster_rules.CellError] = []
    trainee = roster_rules.check_cells(cells, errors)
    if trainee is None:
        return errors
    renamed = trainee.name != person.name
    if renamed and not people.enterprise_may_rename(person.id, user.enterprise_id):
        return [roster_rules.CellError(None, "姓名", values.get("姓名"), gettext(
            "The registered name of this ID number cannot be changed here; if it is wrong, "
            "ask the city authority of the plan's region to correct it."))]
    before = _snapshot(enrolment)
    for key, value in _enrolment_values(trainee).items():
        setattr(enrolment, key, value)
    if renamed:
        people.rename(person, trainee.name, region_code=plan.region_code)
    audit.record("enrolment.edit", enrolment, before=before, after=_snapshot(enrolment),
                 region_code=plan.region_code)
    return []


def _snapshot(enrolment: Enrolment) -> dict:
    """The enrolment's own data for the audit log (the mobile masked)."""
    return {"mobile": mask_mobile(enrolment.mobile),
            "education": db.session.get(Education, enrolment.education_id).name,
            "title": db.session.get(ProfessionalTitle, enrolment.title_id).name}


def own_live_enrolment(enrolment_id: int, user: Any) -> Enrolment:
    """A live trainee of the user's enterprise, else 404."""
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None or enrolment.enterprise_id != user.enterprise_id \
            or enrolment.status != EnrolmentState.LIVE.value:
        raise NotFound()
    return enrolment


@transactional
def remove_trainee(enrolment_id: int, user: Any) -> None:
    """Take a trainee off the plan (kept as removed); only before an order holds the seat."""
    enrolment = own_live_enrolment(enrolment_id, user)
    enrolling_plan(enrolment.plan_id, user)
    # Conditional, so an order being made at this moment either has the trainee or not.
    removed = db.session.execute(
        update(Enrolment).where(Enrolment.id == enrolment.id,
                                Enrolment.status == EnrolmentState.LIVE.value,
                                Enrolment.order_id.is_(None))
        .values(status=EnrolmentState.REMOVED.value)
        .execution_options(synchronize_session=False)).rowcount
    if not removed:
        raise EnrolmentRefused(N_("This trainee is in an order and holds a seat; cancel the "
                                  "unpaid order first. Paid trainees cannot be removed here."),
                               status=409)
    photo_checks.forget([enrolment.id])  # what was read off the ID card goes with the enrolment
    audit.record("enrolment.remove", enrolment, region_code=enrolment.plan.region_code)


def annotated_workbook(data: bytes, report: roster_rules.Report) -> bytes:
    """The uploaded roster with every bad cell filled red and a comment saying why."""
    return roster_rules.annotated_workbook(data, report, roster_rules.SHEET)


PAGE_SIZE = 100  # trainees on one 报名 page
# Trainees named under 生成订单 for what holds their order (a missing photo, a photo check);
# the rest are counted.
LISTED = 20


@dataclass(frozen=True)
class TraineePage:
    """One page of an enterprise's live trainees in a plan (its 报名 page), in enrolment order,
    with what the order panel says of all of them."""

    ids: list[int]  # every one, in order
    number: int
    trainees: list[Enrolment]  # this page's
    unordered: int  # not in an order yet
    without_photos: list[Enrolment]  # the first LISTED of those lacking a photo ...
    without_photos_count: int  # ... and how many lack one

    @property
    def total(self) -> int:
        return len(self.ids)

    @property
    def pages(self) -> int:
        return _pages(len(self.ids))

    def page_of(self, enrolment_id: int) -> int:
        """The page listing this trainee (as page_of(), from the ids at hand)."""
        return bisect.bisect_left(self.ids, enrolment_id) // PAGE_SIZE + 1


def trainee_page(plan_id: int, enterprise_id: int, number: int = 1) -> TraineePage:
    """Page `number` (past the last: the last) of the enterprise's live trainees in the plan:
    their ids, the two counts in one statement, then the rows shown (this page's and the first
    LISTED lacking a photo) loaded together with their people."""
    live = Enrolment.live_in(plan_id, enterprise_id)
    ids = trainee_ids(plan_id, enterprise_id)
    number, shown = on_page(ids, number)
    unordered = (live, Enrolment.order_id.is_(None))
    lacking = (*unordered, ~Enrolment.photos_complete)
    n_unordered, n_lacking = db.session.execute(
        select(func.count(), func.count().filter(~Enrolment.photos_complete))
        .select_from(Enrolment).where(*unordered)).one()
    first_lacking = list(db.session.scalars(
        select(Enrolment.id).where(*lacking).order_by(Enrolment.id).limit(LISTED)))
    wanted = {*shown, *first_lacking}
    rows = {row.id: row for row in db.session.scalars(
        select(Enrolment).where(Enrolment.id.in_(wanted))
        .options(selectinload(Enrolment.person)))} if wanted else {}
    return TraineePage(ids, number, [rows[i] for i in shown], n_unordered,
                       [rows[i] for i in first_lacking], n_lacking)


def trainee_ids(plan_id: int, enterprise_id: int) -> list[int]:
    """The enterprise's live trainees in the plan, in the 报名 page's order."""
    return list(db.session.scalars(select(Enrolment.id).where(
        Enrolment.live_in(plan_id, enterprise_id)).order_by(Enrolment.id)))


def on_page(ids: list[int], number: int) -> tuple[int, list[int]]:
    """(the page number, past the last: the last; the ids it lists)."""
    number = min(max(number, 1), _pages(len(ids)))
    return number, ids[(number - 1) * PAGE_SIZE:number * PAGE_SIZE]


def page_of(plan_id: int, enterprise_id: int, enrolment_id: Optional[int] = None) -> int:
    """The 报名 page listing this trainee (or, removed, the trainees beside it); without one,
    the last page, where a trainee just added is listed."""
    live = Enrolment.live_in(plan_id, enterprise_id)
    if enrolment_id is None:
        return _pages(_count(live))
    return _count(live, Enrolment.id < enrolment_id) // PAGE_SIZE + 1


def _pages(trainees: int) -> int:
    return max(1, -(-trainees // PAGE_SIZE))


def _count(*conditions) -> int:
    return db.session.scalar(select(func.count()).select_from(Enrolment).where(*conditions))


