"""The demo's year of history in five cities (`setup --demo`), as the people who sign in see it:
the province's charts, each city's own trainees, a trainee's history, and rows that keep the
product's rules."""
import re
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import func, select

import config
from app import clock
from app.extensions import db
from app.integrations.ministry_receiver import MinistryReceipt
from app.integrations.storage import storage
from app.services.codes import is_valid_mobile
from app.services.demo_history import CITIES, GUEST_USCC
from app.services.plans import date_order, phase
from app.services.roster import check_id_number
from models.assessment import (
    AdmissionTicket,
    AssessmentPlan,
    Certificate,
    Score,
    ScoreReport,
)
from models.audit import AuditLog
from models.enrolment import Enrolment, Person
from models.orders import Invoice, Order
from models.organisation import Enterprise
from models.states import PlanPhase
from models.training import TrainingPlan

NINGBO, HANGZHOU = "330200", "330100"
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def demo(app, runner):
    result = runner.invoke(args=["setup", "--demo"])
    assert result.exit_code == 0, result.output
    return result.stdout


def _signed_in(app, username):
    client = app.test_client()
    response = client.post("/login/", data={"username": username,
                                            "password": config.DEMO_PASSWORD})
    assert response.status_code == 302, username
    return client


def _bars(page: str, key: str) -> dict[str, float]:
    """label -> value of the bars of the dashboard chart `key`."""
    svg = re.search(rf'<svg id="chart-{key}".*?</svg>', page, re.S)
    assert svg, f"no chart {key}"
    return {label: float(value) for label, value in re.findall(
        r'<g class="bar" data-label="([^"]*)" data-value="([^"]*)"', svg.group(0))}


def _found(client, q: str = "") -> int:
    """How many trainees 报名人员查询 finds for `q`."""
    page = client.get("/trainees/", query_string={"q": q} if q else None).get_data(as_text=True)
    return int(re.search(r'id="total">找到 ([0-9]+) 名学员', page).group(1))


def _in_city(code: str, **where):
    return select(Enrolment).join(TrainingPlan, TrainingPlan.id == Enrolment.plan_id).where(
        TrainingPlan.region_code == code, Enrolment.status == "live").filter_by(**where)


def test_province_dashboard_charts_a_year_in_five_cities(app, demo):
    page = _signed_in(app, "zj_jst").get("/").get_data(as_text=True)
    cities = _bars(page, "per_city")
    seeded = {"杭州市", "宁波市", "温州市", "绍兴市", "金华市"}
    assert {city for city, n in cities.items() if n > 0} == seeded
    assert all(cities[city] >= 100 for city in seeded)
    months = [n for n in _bars(page, "per_month").values() if n > 0]
    assert len(months) >= 8  # enrolments across the year, not one month
    assert len(_bars(page, "per_occupation")) == 10  # the chart's top ten of many trades
    rates = _bars(page, "pass_rate")
    assert len(rates) >= 8 and all(0 < rate < 100 for rate in rates.values())  # passes and fails
    pushed, pending = _bars(page, "certificates").values()
    assert pushed > 100 and pending > 0


def test_city_regulator_sees_only_its_own_city(app, demo):
    ningbo = db.session.scalars(_in_city(NINGBO).order_by(Enrolment.id)).first()
    hangzhou = db.session.scalars(_in_city(HANGZHOU).order_by(Enrolment.id.desc())).first()
    nb, hz = _signed_in(app, "nb_jsj"), _signed_in(app, "hz_jsj")

    assert _found(nb) == db.session.scalar(select(func.count()).select_from(
        _in_city(NINGBO).subquery()))
    assert _found(hz) == db.session.scalar(select(func.count()).select_from(
        _in_city(HANGZHOU).subquery()))
    assert _found(nb, ningbo.person.id_number) == 1
    assert _found(hz, ningbo.person.id_number) == 0
    assert _found(hz, hangzhou.person.id_number) == 1
    assert _found(nb, hangzhou.person.id_number) == 0
    assert nb.get(f"/trainees/{ningbo.id}").status_code == 200
    assert hz.get(f"/trainees/{ningbo.id}").status_code == 404
    assert nb.get(f"/trainees/{hangzhou.id}").status_code == 404
    # A city authority's dashboard has no per-city chart, but a year of its own months.
    page = nb.get("/").get_data(as_text=True)
    assert 'id="chart-per_city"' not in page
    assert len([n for n in _bars(page, "per_month").values() if n > 0]) >= 4


def test_trainee_detail_reads_the_whole_history(app, demo):
    certificate = db.session.scalars(
        select(Certificate).join(Enrolment).join(TrainingPlan)
        .where(TrainingPlan.region_code == NINGBO, Certificate.state == "pushed")
        .order_by(Certificate.id)).first()
    enrolment = certificate.enrolment
    owner = db.session.get(Enterprise, enrolment.enterprise_id).uscc
    for username in ("nb_jsj", owner):
        page = _signed_in(app, username).get(f"/trainees/{enrolment.id}").get_data(as_text=True)
        for text in ("订单已生成", "已支付", "考核计划已上报", "考核计划已审核", "成绩已导入并上报",
                     "成绩已审核", "证书已推送", certificate.number, enrolment.person.name,
                     "nbjx", "nb_jsj", owner):
            assert text in page, (username, text)


def test_second_setup_adds_no_rows_and_no_files(app, runner, demo):
    def rows():
        return {table.name: db.session.execute(select(func.count()).select_from(table)).scalar()
                for table in db.metadata.sorted_tables}

    def files():
        return sorted(p.name for p in Path(app.config["UPLOAD_DIR"]).rglob("*") if p.is_file())

    before, stored = rows(), files()
    assert before["enrolment"] >= 700 and before["certificate"] >= 300
    assert runner.invoke(args=["setup", "--demo"]).stdout == demo
    db.session.expire_all()
    assert rows() == before
    assert files() == stored


def test_history_keeps_the_rules(app, demo):
    now = clock.now()
    plans = db.session.scalars(select(TrainingPlan)).all()
    paid = defaultdict(int)
    for plan_id, n in db.session.execute(
            select(Enrolment.plan_id, func.count()).join(Order, Order.id == Enrolment.order_id)
            .where(Order.state == "paid", Enrolment.status == "live")
            .group_by(Enrolment.plan_id)):
        paid[plan_id] = n
    for plan in plans:
        assert date_order({name: getattr(plan, name) for name in (
            "enrol_start", "enrol_end", "train_start", "train_end")}) == [], plan.id
        assert (plan.seats_reserved, plan.seats_paid) == (0, paid[plan.id]), plan.id
    for assessment in db.session.scalars(select(AssessmentPlan)):
        assert date_order({"train_end": assessment.plan.train_end,
                           "exam_start": assessment.exam_start}) == []
        if assessment.state == "approved":
            assert db.session.scalar(select(func.count()).select_from(AdmissionTicket).where(
                AdmissionTicket.assessment_id == assessment.id)) == paid[assessment.plan_id]
    people = db.session.scalars(select(Person)).all()
    assert all(check_id_number(p.id_number) is None for p in people)
    assert all(is_valid_mobile(m) for m in db.session.scalars(select(Enrolment.mobile)))
    # Nothing has happened yet that lies ahead.
    for column in (Enrolment.created_at, Order.created_at, Order.paid_at, Invoice.created_at,
                   AuditLog.at, ScoreReport.imported_at, ScoreReport.reviewed_at,
                   Certificate.created_at, Certificate.pushed_at, AdmissionTicket.created_at):
        assert db.session.scalar(select(func.max(column))) <= now, column
    # An invoice for every paid order of the history paid before today.
    demo_enterprise = db.session.scalars(select(Enterprise.id).where(
        Enterprise.uscc == "91330100MA27XK001P")).one()
    for order in db.session.scalars(select(Order).where(
            Order.state == "paid", Order.enterprise_id != demo_enterprise)):
        assert (order.invoice is not None) == (order.paid_at.date() < now.date()), order.id
    # Certificates exactly for who passed an approved report; pushed ones at the receiver.
    passed = set(db.session.scalars(select(Score.enrolment_id).join(ScoreReport).where(
        Score.passed, ScoreReport.state == "approved")))
    assert set(db.session.scalars(select(Certificate.enrolment_id))) == passed
    pushed = set(db.session.scalars(select(Certificate.number).where(Certificate.state == "pushed")))
    assert pushed == set(db.session.scalars(select(MinistryReceipt.number)))
    # The province reviewed the province-owned enterprise.
    guest = db.session.scalars(select(Enterprise).where(Enterprise.uscc == GUEST_USCC)).one()
    assert guest.province_owned and guest.reviewing_authority.region_code == "330000"
    review = db.session.scalars(select(AuditLog).where(
        AuditLog.action == "enterprise.approve", AuditLog.object_type == "Enterprise",
        AuditLog.object_id == str(guest.id))).one()
    assert review.username == "zj_jst"
    assert len({p.region_code for p in db.session.scalars(select(TrainingPlan).join(
        Enrolment, Enrolment.plan_id == TrainingPlan.id).where(
        Enrolment.enterprise_id == guest.id))}) >= 2  # it enrols across cities


def test_photos_are_shared_only_where_they_cannot_be_replaced(app, demo):
    """Replacing a photo deletes its file, which only an enrolling plan allows."""
    users = defaultdict(list)
    for enrolment in db.session.scalars(select(Enrolment).where(Enrolment.photo_key.is_not(None))):
        users[enrolment.photo_key].append(enrolment)
        users[enrolment.id_photo_key].append(enrolment)
    shared = [group for group in users.values() if len(group) > 1]
    assert shared and len(users) < 200  # a few hundred files, not thousands
    for group in shared:
        assert all(phase(e.plan) != PlanPhase.ENROLLING for e in group)
    assert all(storage().exists(key) for key in users)


def test_readme_lists_the_new_accounts(demo):
    """The README's demo accounts table names every institution and regulator printed."""
    section = README.read_text().split("## Demo accounts")[1].split("## What you can do now")[0]
    for city in CITIES:
        assert f"`{city.institution_user}`" in section and f"`{city.regulator_user}`" in section
    assert f"`{GUEST_USCC}`" in section
    printed = {line.split()[1] for line in demo.splitlines()
               if line.split()[:1] in (["Institution"], ["CityRegulator"])}
    assert printed == {"hzjx"} | {c.institution_user for c in CITIES} \
        | {c.regulator_user for c in CITIES}
