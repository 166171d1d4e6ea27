"""One plan's life in the demo history (app/services/demo_history.py): enrolment, payment and
invoice, assessment and admission tickets, scores, certificates and their push, each written
with its historic time and the audit rows that a trainee's 详情 history reads.

Tickets, invoices and certificates are made and numbered by their services' own functions,
under the clock of their day; the rest is written directly, as the services would have.
"""
import contextlib
import datetime as dt
import json
import random
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

from flask import current_app
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.integrations import simulators
from app.integrations.ministry_receiver import MinistryReceipt
from app.integrations.storage import storage
from app.services import assessments, audit, certificate_push, certificates, demo_people, invoices
from app.services.demo import _placeholder_jpeg, _portrait
from app.services.photos import thumbnail
from models.assessment import AssessmentPlan, Score, ScoreReport
from models.enrolment import Enrolment, ImportBatch, Person
from models.orders import Order, OrderItem
from models.organisation import Enterprise
from models.reference import Education, Occupation, ProfessionalTitle
from models.states import AssessmentState, CertificateState, EnrolmentState, OrderState, ScoreState
from models.training import TrainingPlan

# What a plan has come to by now.
FINISHED = "finished"            # certificates pushed
PUSH_PENDING = "push_pending"    # scores approved two days ago, certificates not yet pushed
SCORES_ACCEPTED = "scores"       # scores reported, awaiting the city's review
EXAM_AHEAD = "exam_ahead"        # assessment approved, exam in two days: tickets out
REPORTED = "reported"            # assessment plan awaiting the city's review
TRAINING = "training"            # 报名结束: paid trainees in training
ENROLLING = "enrolling"          # 报名中: one enterprise paid, the others still enrolling
SUBMITTED = "submitted"          # a new plan awaiting the city's review
ENROL_DAYS, GAP_DAYS, TRAIN_DAYS = 20, 3, 14
# An enrolling plan closes after the demo's own (20 days on), which stays first in 可报名培训计划.
ENROLLING_CLOSES_IN_DAYS = 26
GUEST_SHARE = 0.3                # plans the province-owned enterprise also enrols in
EXPIRED_FIRST = 0.15             # orders left to expire once before being paid
RETURNED = 0.2                   # finished plans whose assessment or scores came back once
RETURNING_SHARE = 0.08           # new trainees who are workers of the city back for another trade
PASS_MARK = 60
THEORY_MEAN, PRACTICAL_MEAN = 76, 78
HARDER = {"焊工": 6, "塔式起重机司机": 8, "建筑电工": 4, "测量放线工": 5, "施工升降机司机": 5}
RETURN_ASSESSMENT = "考核场地须与培训场地分开设置，请调整后重新上报。"
RETURN_SCORES = "部分学员实操成绩与考核记录不一致，请核对后重新上报。"
ROSTER_FILE, SCORES_FILE = "报名人员信息表.xlsx", "成绩导入表.xlsx"
SHARED_PHOTOS = 6


@dataclass
class Timeline:
    """A plan's dates: enrolment from `opens` for 20 days, 3 days' gap, 14 days' training; the
    assessment is reported the next day and approved the day after, the exam on the 5th day,
    scores imported on the 7th and approved on the 10th."""

    stage: str
    opens: dt.datetime
    closes: dt.datetime
    train_start: dt.date
    train_end: dt.date

    @classmethod
    def opening(cls, day: dt.date, stage: str) -> "Timeline":
        last = clock.today() + dt.timedelta(days=ENROLLING_CLOSES_IN_DAYS) if stage == ENROLLING \
            else day + dt.timedelta(days=ENROL_DAYS)
        closes = on(last, 17)
        train_start = last + dt.timedelta(days=GAP_DAYS)
        return cls(stage, on(day, 9), closes, train_start,
                   train_start + dt.timedelta(days=TRAIN_DAYS))

    def after_training(self, days: int, hour: int, minute: int = 0) -> dt.datetime:
        return on(self.train_end + dt.timedelta(days=days), hour, minute)


def on(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


class Photos:
    """A few stored photos shared by trainees of closed plans; fresh ones for enrolling plans."""

    COLOURS = ((66, 133, 244), (220, 53, 69), (245, 245, 245), (52, 168, 83), (90, 110, 160),
               (200, 200, 210))

    def __init__(self):
        self.pool: list[tuple[str, str, str]] = []
        self.made = 0

    def shared(self, rng: random.Random) -> tuple[str, str, str]:
        while len(self.pool) < SHARED_PHOTOS:
            self.pool.append(self.own())
        return rng.choice(self.pool)

    def own(self) -> tuple[str, str, str]:
        """(photo, thumbnail, ID-card photo) keys."""
        n, files = self.made, storage()
        self.made += 1
        photo = _portrait(background=self.COLOURS[n % len(self.COLOURS)],
                          face=(235 - 8 * (n % 4), 200 - 6 * (n % 3), 175),
                          clothes=(30 + 20 * (n % 3), 40, 60))
        return (files.save(photo, ".jpg"), files.save(thumbnail(photo), ".jpg"),
                files.save(_placeholder_jpeg("id", f"DEMO {n:03d}"), ".jpg"))


@dataclass
class World:
    """One city's seeding: its random source, the acting users, what it has made so far."""

    rng: random.Random
    city_code: str
    now: dt.datetime
    photos: Photos
    taken: set[str]                             # ID numbers given out in this run
    institution_user: Any
    regulator: Any
    enterprises: list[tuple[Enterprise, Any]]   # with their user
    guest: tuple[Enterprise, Any]               # the province-owned enterprise
    people: list[tuple[Person, str]] = field(default_factory=list)  # with their mobile
    ids: dict = field(default_factory=dict)

    def id_of(self, model: type, name: str) -> int:
        if (model, name) not in self.ids:
            self.ids[model, name] = db.session.scalars(
                select(model.id).where(model.name == name)).one()
        return self.ids[model, name]


@dataclass
class Group:
    """One enterprise's trainees in a plan."""

    enterprise: Enterprise
    user: Any
    trainees: list[Enrolment] = field(default_factory=list)
    paid: bool = False

    @property
    def enrolled_at(self) -> dt.datetime:
        return max(e.created_at for e in self.trainees)


def live(world: World, plan: TrainingPlan, timeline: Timeline, count: int) -> None:
    """Everything of an approved plan that its stage has come to."""
    stage = timeline.stage
    groups = enrol(world, plan, timeline, count)
    for number, group in enumerate(groups):
        if stage != ENROLLING or number == 0:  # while enrolling, the others have not paid yet
            pay(world, plan, group)
    if stage in (ENROLLING, TRAINING):
        return
    assessment = assess(world, plan, timeline)
    if stage in (REPORTED, EXAM_AHEAD):
        return
    paid = [e for group in groups if group.paid for e in group.trainees]
    report, passed = score(world, assessment, timeline, paid)
    if stage != SCORES_ACCEPTED:
        certify(world, report, passed, timeline, pushed=stage == FINISHED)


# ---- enrolment and payment -----------------------------------------------------------------


def enrol(world: World, plan: TrainingPlan, timeline: Timeline, count: int) -> list[Group]:
    """The trainees of one to three of the city's enterprises (and maybe the guest's), each
    enterprise's by one roster, the last of a large group added by hand a day later."""
    rng = world.rng
    takers = rng.sample(world.enterprises, min(len(world.enterprises), rng.randint(1, 3)))
    if timeline.stage != ENROLLING and rng.random() < GUEST_SHARE:
        takers.append(world.guest)
    takers = takers[:max(count // 3, 1)]
    last = min(timeline.closes, world.now) - dt.timedelta(days=1)
    groups: list[Group] = []
    in_plan: set[str] = set()
    for (enterprise, user), size in zip(takers, _split(rng, count, len(takers))):
        at = _moment(rng, timeline.opens, last)
        by_hand = size > 5
        batch = ImportBatch(plan_id=plan.id, enterprise_id=enterprise.id, filename=ROSTER_FILE,
                            rows=size - by_hand, created_by=user.id, created_at=at)
        db.session.add(batch)
        db.session.flush()
        group = Group(enterprise, user)
        for number in range(size):
            alone = by_hand and number == size - 1
            person, mobile = _person(world, in_plan, at)
            if timeline.stage != ENROLLING:
                photo = world.photos.shared(rng)  # enrolment has closed: never replaced
            else:
                photo = world.photos.own() if not groups else (None, None, None)
            group.trainees.append(Enrolment(
                person=person, plan_id=plan.id, enterprise_id=enterprise.id,
                batch_id=None if alone else batch.id, occupation_id=plan.occupation_id,
                level_id=plan.level_id, mobile=mobile, status=EnrolmentState.LIVE.value,
                education_id=world.id_of(Education, demo_people.education(rng)),
                title_id=world.id_of(ProfessionalTitle, demo_people.title(rng)),
                photo_key=photo[0], photo_thumb_key=photo[1], id_photo_key=photo[2],
                created_at=min(at + dt.timedelta(days=1, hours=1), last) if alone else at))
        db.session.add_all(group.trainees)
        db.session.flush()
        record(at, user, "roster.import", batch, region_code=plan.region_code,
               after={"plan": plan.id, "rows": batch.rows, "file": ROSTER_FILE})
        for enrolment in group.trainees[batch.rows:]:
            record(enrolment.created_at, user, "enrolment.add", enrolment,
                   after={"id_number": enrolment.person.id_number}, region_code=plan.region_code)
        groups.append(group)
    return groups


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """`total` in `parts` random sizes of at least three (parts <= total // 3)."""
    while True:
        cuts = sorted(rng.sample(range(3, total - 2), parts - 1)) if parts > 1 else []
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, total])]
        if min(sizes) >= 3:
            return sizes


def _moment(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    """A moment in working hours from start to end."""
    days = max((end.date() - start.date()).days, 0)
    at = on(start.date() + dt.timedelta(days=rng.randint(0, days)), rng.randint(9, 16),
            rng.randint(0, 59))
    return min(max(at, start), end)


def _person(world: World, in_plan: set[str], at: dt.datetime) -> tuple[Person, str]:
    """Someone new, or now and then a worker of this city back for another trade."""
    rng = world.rng
    if world.people and rng.random() < RETURNING_SHARE:
        person, mobile = rng.choice(world.people)
        if person.id_number not in in_plan:
            in_plan.add(person.id_number)
            return person, mobile
    male = rng.random() < 0.86
    number = demo_people.id_number(rng, world.city_code, male)
    with db.session.no_autoflush:
        while number in world.taken or db.session.scalar(
                select(Person.id).where(Person.id_number == number)) is not None:
            number = demo_people.id_number(rng, world.city_code, male)
    world.taken.add(number)
    in_plan.add(number)
    person = Person(id_number=number, name=demo_people.name(rng, male),
                    gender="男" if male else "女", updated_at=at,
                    birth_date=dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14])))
    world.people.append((person, demo_people.mobile(rng)))
    return world.people[-1]


def pay(world: World, plan: TrainingPlan, group: Group) -> None:
    """One paid order for the group (now and then after one left to expire), and its invoice
    if the nightly task would have issued it by now."""
    rng, n = world.rng, len(group.trainees)
    latest = min(plan.enrol_end, world.now) - dt.timedelta(hours=2)
    created = min(group.enrolled_at + dt.timedelta(hours=rng.randint(1, 30)), latest)
    if rng.random() < EXPIRED_FIRST and created - dt.timedelta(days=1) > group.enrolled_at:
        lapsed = _order(world, plan, group, created - dt.timedelta(days=1))
        lapsed.state, lapsed.closed_at = OrderState.EXPIRED.value, lapsed.expires_at
        record(lapsed.expires_at + dt.timedelta(seconds=30), None, "order.expire", lapsed,
               after={"out_trade_no": lapsed.out_trade_no, "state": OrderState.EXPIRED.value,
                      "seats_released": n}, region_code=plan.region_code)
    order = _order(world, plan, group, created)
    order.state = OrderState.PAID.value
    order.paid_at = created + dt.timedelta(minutes=rng.randint(2, 40), seconds=rng.randint(0, 59))
    order.trade_no = f"{order.paid_at:%Y%m%d}2200{rng.randrange(10**16):016d}"
    for enrolment in group.trainees:
        enrolment.order_id = order.id
    plan.seats_paid += n
    group.paid = True
    record(order.paid_at, None, "order.paid", order, region_code=plan.region_code,
           after={"out_trade_no": order.out_trade_no, "trade_no": order.trade_no,
                  "amount": str(order.amount), "via": "notify"})
    day = order.paid_at.date() + dt.timedelta(days=1)
    issued = on(day, 1, rng.randint(0, 20))
    if issued < world.now:
        invoice = invoices._invoice_of(order, day)  # numbered and filled as the nightly task does
        invoice.created_at = issued
        db.session.add(invoice)  # its PDF is drawn on the first download (invoices.invoice_file)
        db.session.flush()
        record(issued, None, "invoice.issue", invoice, region_code=plan.region_code,
               after={"number": invoice.number, "order": order.out_trade_no,
                      "buyer": invoice.buyer_name, "amount": str(invoice.amount),
                      "issued_on": day.isoformat()})


def _order(world: World, plan: TrainingPlan, group: Group, created: dt.datetime) -> Order:
    n = len(group.trainees)
    lifetime = dt.timedelta(minutes=int(current_app.config["ORDER_LIFETIME_MINUTES"]))
    order = Order(out_trade_no=f"JP{created:%Y%m%d%H%M%S}{world.rng.randrange(10**12):012d}",
                  enterprise_id=group.enterprise.id, plan_id=plan.id, trainees=n, fee=plan.fee,
                  amount=plan.fee * n, state=OrderState.PENDING.value, created_at=created,
                  created_by=group.user.id, expires_at=created + lifetime)
    db.session.add(order)
    db.session.flush()
    db.session.add_all([OrderItem(order_id=order.id, enrolment_id=e.id) for e in group.trainees])
    record(created, group.user, "order.create", order, region_code=plan.region_code,
           after={"out_trade_no": order.out_trade_no, "plan": plan.id, "trainees": n,
                  "amount": str(order.amount)})
    return order


# ---- after training -------------------------------------------------------------------------


def assess(world: World, plan: TrainingPlan, timeline: Timeline) -> AssessmentPlan:
    """Reported the day after training and approved (tickets made) the day after that, unless
    it still waits for review; now and then returned once first."""
    rng, inst, region = world.rng, world.institution_user, plan.region_code
    reported, approved = timeline.after_training(1, 10), timeline.after_training(2, 15)
    trade = db.session.get(Occupation, plan.occupation_id).name
    exam = timeline.after_training(5, 9)
    assessment = AssessmentPlan(
        plan_id=plan.id, exam_start=exam, exam_end=exam + dt.timedelta(hours=2),
        venue=plan.venue.replace("建设实训基地", "职业技能考核中心"),
        theory_part="理论知识（闭卷笔试，90分钟）", practical_part=f"{trade}实操考核",
        theory_pass=PASS_MARK, practical_pass=PASS_MARK, state=AssessmentState.DRAFT.value,
        created_at=reported - dt.timedelta(hours=1))
    db.session.add(assessment)
    db.session.flush()
    record(assessment.created_at, inst, "assessment.create", assessment, region_code=region,
           after={**audit.changes(assessment, list(assessments.FIELDS)), "state": "draft"})
    draft, reported_, returned, approved_ = (AssessmentState.DRAFT, AssessmentState.REPORTED,
                                             AssessmentState.REJECTED, AssessmentState.APPROVED)
    steps = [(reported, inst, "assessment.report", draft, reported_)]
    if timeline.stage == FINISHED and rng.random() < RETURNED:
        steps += [(reported + dt.timedelta(hours=5), world.regulator, "assessment.reject",
                   reported_, returned),
                  (approved - dt.timedelta(hours=5), inst, "assessment.report", returned,
                   reported_)]
    if timeline.stage != REPORTED:
        steps.append((approved, world.regulator, "assessment.approve", reported_, approved_))
    for at, user, action, before, after in steps:
        reason = RETURN_ASSESSMENT if after is returned else None
        record(at, user, action, assessment, before={"state": before.value},
               after={"state": after.value, "reason": reason}, region_code=region)
        assessment.state = after.value
        if after is reported_:
            assessment.reported_at = at
        else:
            assessment.reviewed_at = at
    if assessment.state == approved_.value:
        db.session.flush()
        with frozen(approved):
            assessments._make_tickets(assessment)  # one per paid trainee, numbered as on approval
    return assessment


def score(world: World, assessment: AssessmentPlan, timeline: Timeline,
          paid: list[Enrolment]) -> tuple[ScoreReport, list[Enrolment]]:
    """Scores imported two days after the exam (now and then not passed once before); the
    report, and who passed."""
    rng, inst, region = world.rng, world.institution_user, assessment.plan.region_code
    imported = timeline.after_training(7, 10)
    harder = HARDER.get(db.session.get(Occupation, assessment.plan.occupation_id).name, 0)
    report = ScoreReport(assessment_id=assessment.id, state=ScoreState.ACCEPTED.value,
                         filename=SCORES_FILE, imported_at=imported)
    passed = []
    for enrolment in paid:
        theory = demo_people.mark(rng, THEORY_MEAN - harder)
        practical = demo_people.mark(rng, PRACTICAL_MEAN - harder)
        ok = theory >= PASS_MARK and practical >= PASS_MARK
        report.scores.append(Score(enrolment_id=enrolment.id, theory=theory, practical=practical,
                                   passed=ok))
        passed += [enrolment] if ok else []
    db.session.add(report)
    db.session.flush()
    summary = {"assessment": assessment.id, "state": ScoreState.ACCEPTED.value, "rows": len(paid),
               "passed": len(passed), "file": SCORES_FILE}
    before: Optional[dict] = None
    if timeline.stage == FINISHED and rng.random() < RETURNED:
        record(imported - dt.timedelta(days=1), inst, "scores.import", report, after=summary,
               region_code=region)
        record(imported - dt.timedelta(hours=20), world.regulator, "scores.reject", report,
               after={"state": ScoreState.REJECTED.value, "reason": RETURN_SCORES},
               region_code=region)
        before = {"state": ScoreState.REJECTED.value, "review_reason": RETURN_SCORES}
    record(imported, inst, "scores.import", report, before=before, after=summary,
           region_code=region)
    return report, passed


def certify(world: World, report: ScoreReport, passed: list[Enrolment], timeline: Timeline,
            pushed: bool) -> None:
    """Approved three days after the import, with a certificate for everyone who passed; pushed
    to the ministry (and kept by its built-in receiver) minutes later, unless still pending."""
    approved = timeline.after_training(10, 14, 30)
    report.state, report.reviewed_at = ScoreState.APPROVED.value, approved
    with frozen(approved):
        made = certificates.generate(passed)  # numbered under the year of their day
    region = report.assessment.plan.region_code
    record(approved, world.regulator, "scores.approve", report, region_code=region,
           after={"state": ScoreState.APPROVED.value, "certificates": [c.number for c in made]})
    if not pushed:
        return
    receiver = MinistryReceipt.__table__ in simulators.wanted_tables(current_app)
    for number, certificate in enumerate(made):
        at = approved + dt.timedelta(minutes=5, seconds=number)
        certificate.state, certificate.pushed_at = CertificateState.PUSHED.value, at
        certificate.push_attempts = 1
        if receiver:  # the built-in receiver has it too (it has no table otherwise)
            db.session.add(MinistryReceipt(
                number=certificate.number, received_at=at,
                payload=json.dumps(certificate_push.payload(certificate), ensure_ascii=False,
                                   sort_keys=True)))
        record(at, None, "certificate.push", certificate, region_code=region,
               after={"number": certificate.number, "state": CertificateState.PUSHED.value,
                      "ministry": "accepted"})


# ---- helpers --------------------------------------------------------------------------------


def record(at: dt.datetime, user: Any, action: str, obj: Any, **values) -> None:
    """The audit row the service writes, at `at`, by `user` (None: the system, as for tasks)."""
    actor = (user.id, user.username, ",".join(role.name for role in user.roles)) if user else None
    with db.session.no_autoflush:  # the row is append-only once flushed: finish it first
        entry = audit.record(action, obj, **values)
        entry.at = at
        if actor is not None:
            entry.user_id, entry.username, entry.role = actor


@contextlib.contextmanager
def frozen(at: dt.datetime) -> Iterator[None]:
    """The clock stands at `at` while a service dates and numbers what it makes."""
    config = current_app.config
    before = config.get("CLOCK_FROZEN_AT")
    config["CLOCK_FROZEN_AT"] = at
    try:
        yield
    finally:
        config["CLOCK_FROZEN_AT"] = before
