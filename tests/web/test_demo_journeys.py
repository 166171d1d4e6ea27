"""What the README promises a new user on `make run`, walked through with the demo accounts."""
import datetime as dt

import pytest

from app import clock
from app.services.demo import APPROVED_USCC
from models.reference import Occupation, OccupationLevel
from tests.accounts_helpers import register
from tests.factories import dictionary_value, gen_uscc


@pytest.fixture
def demo(app, runner):
    assert runner.invoke(args=["setup", "--demo"]).exit_code == 0
    return app.config["DEMO_PASSWORD"]


def _signed_in(app, username, password):
    client = app.test_client()
    assert client.post("/login/", data={"username": username, "password": password}).status_code == 302
    return client


def test_register_get_approved_and_sign_in(app, demo):
    uscc = gen_uscc()
    _first, done = register(app.test_client(), uscc, mobile="13866667777")
    assert done.status_code == 302
    reviewer = _signed_in(app, "hz_jsj", demo)
    queue = reviewer.get("/review/enterprises/").get_data(as_text=True)
    assert uscc in queue
    from sqlalchemy import select

    from app.extensions import db
    from models.organisation import Enterprise

    enterprise_id = db.session.scalars(select(Enterprise.id).where(Enterprise.uscc == uscc)).one()
    reviewer.post(f"/review/enterprises/{enterprise_id}/approve")
    owner = _signed_in(app, uscc, "Secret@2026")
    assert "审核通过" in owner.get("/my/enterprise/").get_data(as_text=True)


def test_institution_publishes_a_plan_the_enterprise_can_enrol_in(app, demo):
    now = clock.now()
    institution = _signed_in(app, "hzjx", demo)
    form = {
        "occupation": dictionary_value(Occupation, "焊工").id,
        "level": dictionary_value(OccupationLevel, "三级/高级工").id,
        "quota": "25", "fee": "1200.00",
        "enrol_start": f"{now - dt.timedelta(hours=1):%Y-%m-%d %H:%M:%S}",
        "enrol_end": f"{now + dt.timedelta(days=10):%Y-%m-%d %H:%M:%S}",
        "train_start": f"{now.date() + dt.timedelta(days=12)}",
        "train_end": f"{now.date() + dt.timedelta(days=20)}",
        "venue": "杭州市焊接实训基地", "region": "330100", "contact": "王老师", "notes": "",
    }
    assert institution.post("/trainingplanview/add", data=form).status_code == 302
    listing = institution.get("/trainingplanview/list/").get_data(as_text=True)
    assert "杭州市焊接实训基地" in listing and "草稿" in listing
    from sqlalchemy import select

    from app.extensions import db
    from models.training import TrainingPlan

    plan_id = db.session.scalars(select(TrainingPlan.id)
                                 .where(TrainingPlan.venue == "杭州市焊接实训基地")).one()
    institution.post(f"/trainingplanview/submit/{plan_id}")
    enterprise = _signed_in(app, APPROVED_USCC, demo)
    assert "杭州市焊接实训基地" not in enterprise.get("/openplanview/list/").get_data(as_text=True)
    _signed_in(app, "hz_jsj", demo).post(f"/trainingplanview/approve/{plan_id}")
    page = enterprise.get("/openplanview/list/").get_data(as_text=True)
    assert "杭州市焊接实训基地" in page and "1200.00" in page


def test_order_pay_and_invoice_the_demo_roster(app, demo):
    from sqlalchemy import select

    from app.extensions import db
    from app.services import invoices
    from models.orders import Order

    owner = _signed_in(app, APPROVED_USCC, demo)
    plan_id = int(owner.get("/openplanview/list/").get_data(as_text=True)
                  .split("/enrol/")[1].split("/")[0])
    made = owner.post(f"/orders/create/{plan_id}")
    order = db.session.scalars(select(Order).where(Order.state == "pending")).one()
    assert made.location.endswith(f"/orders/show/{order.id}") and order.trainees == 3
    gateway = owner.post(f"/orders/pay/{order.id}").location
    assert owner.get(gateway.replace("http://localhost", "")).status_code == 200
    back = owner.post(f"/alipay-sim/cashier/{order.out_trade_no}", data={"action": "pay"})
    page = owner.get(back.location.replace("http://localhost", ""), follow_redirects=True)
    assert "已支付" in page.get_data(as_text=True)
    invoices.issue_invoices(clock.today() + dt.timedelta(days=1))
    pdf = owner.get(f"/orders/invoice/{order.id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_finished_plan_to_certificate_and_public_lookup(app, demo):
    import io

    from openpyxl import load_workbook
    from sqlalchemy import select

    from app.extensions import db
    from models.assessment import AssessmentPlan, Certificate, ScoreReport
    from models.enrolment import Enrolment
    from models.training import TrainingPlan

    plan = db.session.scalars(select(TrainingPlan).where(TrainingPlan.venue.like("%二号楼"))).one()
    institution = _signed_in(app, "hzjx", demo)
    exam_day = clock.today() + dt.timedelta(days=3)
    made = institution.post(f"/assessments/new/{plan.id}", data={
        "exam_start": f"{exam_day}T09:00", "exam_end": f"{exam_day}T11:00", "venue": "二号楼考场",
        "theory_part": "理论知识", "practical_part": "砌筑实操", "theory_pass": "60",
        "practical_pass": "60"})
    assessment = db.session.scalars(select(AssessmentPlan)
                                    .where(AssessmentPlan.plan_id == plan.id)).one()
    assert made.status_code == 302
    institution.post(f"/assessments/report/{assessment.id}")
    reviewer = _signed_in(app, "hz_jsj", demo)
    reviewer.post(f"/assessments/approve/{assessment.id}")

    owner = _signed_in(app, APPROVED_USCC, demo)
    tickets = owner.get(f"/enrolled/{plan.id}/tickets.pdf")
    assert tickets.status_code == 200 and tickets.data.startswith(b"%PDF")

    sheet = load_workbook(io.BytesIO(institution.get(
        f"/assessments/scores-template/{assessment.id}.xlsx").data))
    rows = sheet["成绩导入表"]
    for row in range(4, rows.max_row + 1):
        if rows.cell(row, 1).value:
            rows.cell(row, 3).value, rows.cell(row, 4).value = 85, 72.5
    filled = io.BytesIO()
    sheet.save(filled)
    app.config["CLOCK_FROZEN_AT"] = dt.datetime.combine(exam_day, dt.time(11))  # exam over
    institution.post(f"/assessments/scores/{assessment.id}",
                     data={"scores": (io.BytesIO(filled.getvalue()), "scores.xlsx")},
                     content_type="multipart/form-data")
    report = db.session.scalars(select(ScoreReport)
                                .where(ScoreReport.assessment_id == assessment.id)).one()
    assert report.state == "accepted" and len(report.scores) == 3
    reviewer.post(f"/score-reports/approve/{report.id}")
    db.session.expire_all()
    certificate = db.session.scalars(select(Certificate).join(Certificate.enrolment)
                                     .where(Enrolment.plan_id == plan.id)
                                     .order_by(Certificate.number)).first()
    assert certificate is not None and certificate.state == "pushed"
    found = app.test_client().post("/certificate-lookup/", data={
        "number": certificate.number, "name": certificate.holder_name})
    text = found.get_data(as_text=True)
    assert certificate.number in text and "证书已推送" in text
