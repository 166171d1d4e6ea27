"""Rules of time and text: scores only after the exam (issue 14 #10); dates in order and exams
not in the past (issue 15 #2); notices only to paid trainees and exam notices only before the
exam (issue 15 #3); ministry errors in plain Chinese (issue 14 #19); bounded free text (#19)."""
import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app import scope
from app.extensions import db
from app.integrations import ministry
from app.services import assessments, certificate_push, notices, notifications, plans, scores
from models.assessment import AssessmentPlan, Certificate, Score, ScoreReport
from models.notifications import TraineeNotice
from models.reference import Occupation, OccupationLevel
from models.training import TrainingPlan
from tests.assessment_factories import (
    gen_assessment,
    gen_certificate,
    gen_finished_plan,
    gen_paid_trainees,
)
from tests.factories import dictionary_value, gen_enterprise, gen_institution, gen_regulator, gen_user
from tests.helpers import path, visible_text
from tests.order_factories import gen_order

T0 = dt.datetime(2026, 11, 28, 10, 0)
EXAM_START = dt.datetime(2026, 11, 30, 9, 0)
EXAM_END = dt.datetime(2026, 11, 30, 11, 30)


@pytest.fixture
def frozen(app):
    def _at(moment):
        app.config["CLOCK_FROZEN_AT"] = moment
    _at(T0)
    return _at


def _signed_in(app, login_as, user):
    client = app.test_client()
    login_as(client, user)
    return client


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


# ---- issue 14 #10: scores before the exam --------------------------------------------------

@pytest.fixture
def exam(app, login_as, frozen):
    """An approved assessment whose exam is two days ahead, its paid trainees, the
    institution signed in."""
    institution = gen_institution("330100")
    plan = gen_finished_plan(institution)
    trainees = gen_paid_trainees(plan, 2)
    assessment = gen_assessment(plan, exam_start=EXAM_START, exam_end=EXAM_END)
    staff = gen_user(scope.INSTITUTION, institution_id=institution.id)
    return {"assessment": assessment, "trainees": trainees,
            "client": _signed_in(app, login_as, staff)}


def _filled_sheet(assessment) -> bytes:
    workbook = load_workbook(io.BytesIO(scores.template(assessment)))
    sheet = workbook[scores.SHEET]
    for row in range(scores.HEADER_ROW + 1, sheet.max_row + 1):
        if sheet.cell(row, 1).value:
            sheet.cell(row, 3).value, sheet.cell(row, 4).value = 85, 75
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _upload(client, assessment, data):
    return client.post(path("AssessmentPlanView.scores_upload", pk=assessment.id),
                       data={"scores": (io.BytesIO(data), "成绩.xlsx")}, follow_redirects=True)


def test_scores_before_the_exam_has_ended_are_refused_and_nothing_is_stored(exam, frozen):
    client, assessment = exam["client"], exam["assessment"]
    template = client.get(path("AssessmentPlanView.scores_template", pk=assessment.id))
    assert template.status_code == 200  # the sheet may be prepared beforehand
    data = _filled_sheet(assessment)
    for moment in (T0, EXAM_START + dt.timedelta(hours=1)):  # before, and during the exam
        frozen(moment)
        page = visible_text(_upload(client, assessment, data).get_data(as_text=True))
        assert "考核结束（2026-11-30 11:30）后才能导入成绩" in page
        assert _count(ScoreReport) == 0 and _count(Score) == 0

    frozen(EXAM_END)
    page = visible_text(_upload(client, assessment, data).get_data(as_text=True))
    assert "成绩已导入并上报（已受理）" in page
    assert db.session.scalars(select(ScoreReport.state)).one() == "accepted"
    assert _count(Score) == 2


def test_a_score_report_is_not_approved_before_the_exam_has_ended(app, exam, frozen, login_as):
    report = ScoreReport(assessment_id=exam["assessment"].id, state="accepted", imported_at=T0,
                         filename="早到的成绩.xlsx")
    report.scores = [Score(enrolment_id=t.id, theory=90, practical=90, passed=True)
                     for t in exam["trainees"]]
    db.session.add(report)
    db.session.commit()
    reviewer = _signed_in(app, login_as, gen_regulator("330100"))
    page = visible_text(reviewer.post(path("ScoreReportView.approve", pk=report.id),
                                      follow_redirects=True).get_data(as_text=True))
    assert "考核结束（2026-11-30 11:30）后才能审核成绩" in page
    db.session.expire_all()
    assert db.session.get(ScoreReport, report.id).state == "accepted"
    assert _count(Certificate) == 0

    frozen(EXAM_END + dt.timedelta(minutes=1))
    page = visible_text(reviewer.post(path("ScoreReportView.approve", pk=report.id),
                                      follow_redirects=True).get_data(as_text=True))
    assert "已生成 2 本证书" in page and _count(Certificate) == 2


# ---- issue 15 #2: dates in order -----------------------------------------------------------

def _plan_form(**overrides):
    values = {
        "occupation": dictionary_value(Occupation, "架子工").id,
        "level": dictionary_value(OccupationLevel, "四级/中级工").id,
        "quota": "30", "fee": "880.50",
        "enrol_start": "2026-12-01 09:00:00", "enrol_end": "2026-12-20 17:00:00",
        "train_start": "2026-12-21", "train_end": "2027-01-10",
        "venue": "杭州市拱墅区实训中心", "region": "330100", "contact": "王老师 0571-1234",
        "notes": "",
    }
    values.update(overrides)
    return values


@pytest.fixture
def staff(app, login_as, frozen):
    institution = gen_institution("330100")
    user = gen_user(scope.INSTITUTION, institution_id=institution.id)
    return {"institution": institution, "client": _signed_in(app, login_as, user)}


@pytest.mark.parametrize("overrides, message", [
    ({"train_start": "2026-12-10"}, "培训开始日期不能早于报名截止时间所在的日期"),
    ({"enrol_end": "2026-12-01 08:00:00"}, "报名截止时间必须晚于报名开始时间"),
    ({"train_end": "2026-12-21"}, "培训结束日期必须晚于培训开始日期"),
    ({"train_end": "2026-12-15"}, "培训结束日期必须晚于培训开始日期"),
])
def test_plan_dates_out_of_order_are_refused(staff, overrides, message):
    page = staff["client"].post("/trainingplanview/add", data=_plan_form(**overrides),
                                follow_redirects=True).get_data(as_text=True)
    assert message in visible_text(page)
    assert _count(TrainingPlan) == 0


def test_enrolment_may_close_on_the_day_training_starts(staff):
    response = staff["client"].post("/trainingplanview/add",
                                    data=_plan_form(train_start="2026-12-20"))
    assert response.status_code == 302 and _count(TrainingPlan) == 1


def test_editing_a_plan_into_the_wrong_order_changes_nothing(staff):
    staff["client"].post("/trainingplanview/add", data=_plan_form())
    plan = db.session.scalars(select(TrainingPlan)).one()
    page = staff["client"].post(f"/trainingplanview/edit/{plan.id}",
                                data=_plan_form(train_start="2026-12-10"),
                                follow_redirects=True).get_data(as_text=True)
    assert "培训开始日期不能早于报名截止时间所在的日期" in visible_text(page)
    db.session.expire_all()
    assert db.session.get(TrainingPlan, plan.id).train_start == dt.date(2026, 12, 21)


def _exam_form(**overrides):
    values = {"exam_start": "2026-12-05T09:00", "exam_end": "2026-12-05T11:30",
              "venue": "一号楼考场", "theory_part": "理论知识", "practical_part": "钢筋绑扎",
              "theory_pass": "60", "practical_pass": "60"}
    values.update(overrides)
    return values


def test_an_exam_in_the_past_is_refused_on_create_and_edit(staff):
    plan = gen_finished_plan(staff["institution"])  # training ended yesterday, 2026-11-27
    gen_paid_trainees(plan, 1)
    client = staff["client"]
    earlier_today = _exam_form(exam_start="2026-11-28T08:00", exam_end="2026-11-28T09:30")
    page = client.post(path("AssessmentPlanView.create_for", plan_id=plan.id),
                       data=earlier_today).get_data(as_text=True)
    assert "考核开始时间不能早于当前时间" in visible_text(page)
    assert _count(AssessmentPlan) == 0

    client.post(path("AssessmentPlanView.create_for", plan_id=plan.id), data=_exam_form())
    assessment = db.session.scalars(select(AssessmentPlan)).one()
    page = client.post(path("AssessmentPlanView.change", pk=assessment.id),
                       data=earlier_today).get_data(as_text=True)
    assert "考核开始时间不能早于当前时间" in visible_text(page)
    db.session.expire_all()
    assert db.session.get(AssessmentPlan, assessment.id).exam_start == dt.datetime(2026, 12, 5, 9)


def test_one_definition_of_the_date_order():
    day = dt.date(2026, 12, 10)
    at_nine = dt.datetime(2026, 12, 10, 9)
    in_order = {"enrol_start": at_nine - dt.timedelta(days=9), "enrol_end": at_nine,
                "train_start": day, "train_end": day + dt.timedelta(days=5),
                "exam_start": at_nine + dt.timedelta(days=6)}
    assert plans.date_order(in_order) == []
    assert [field for field, _, _ in plans.date_order(
        {**in_order, "exam_start": at_nine + dt.timedelta(days=5)})] == ["exam_start"]


# ---- issue 15 #3: notices only to paid trainees, exam notices only before the exam ---------

@pytest.fixture
def enrolled(app, login_as, frozen):
    enterprise = gen_enterprise()
    plan = gen_finished_plan(gen_institution("330100"))
    paid = gen_paid_trainees(plan, 1, enterprise=enterprise)[0]
    cancelled = gen_order(enterprise, plan, 1, state="closed").items[0].enrolment
    user = gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id)
    return {"plan": plan, "paid": paid, "cancelled": cancelled, "user": user,
            "client": _signed_in(app, login_as, user)}


def test_notices_are_offered_and_sent_only_to_paid_trainees(enrolled):
    client, plan = enrolled["client"], enrolled["plan"]
    paid, cancelled = enrolled["paid"], enrolled["cancelled"]
    page = client.get(path("EnrolledView.plan", plan_id=plan.id)).get_data(as_text=True)
    assert f'name="ids" value="{paid.id}"' in page
    assert f'name="ids" value="{cancelled.id}"' not in page
    assert cancelled.person.name in page  # listed, just not offered

    preview = visible_text(client.post(path("EnrolledView.notify_preview", plan_id=plan.id),
                                       data={"ids": [cancelled.id], "kind": "training"})
                           .get_data(as_text=True))
    assert "未缴费：通知只发给订单已支付的学员" in preview
    page = visible_text(client.post(path("EnrolledView.notify_send", plan_id=plan.id),
                                    data={"ids": [cancelled.id], "kind": "training"},
                                    follow_redirects=True).get_data(as_text=True))
    assert "所选学员目前都不能收到该通知" in page
    assert _count(TraineeNotice) == 0

    client.post(path("EnrolledView.notify_send", plan_id=plan.id),
                data={"ids": [paid.id, cancelled.id], "kind": "training"})
    assert db.session.scalars(select(TraineeNotice.enrolment_id)).all() == [paid.id]


def test_exam_notices_are_refused_once_the_exam_has_started(enrolled, frozen):
    assessment = gen_assessment(enrolled["plan"], state="reported", exam_start=EXAM_START,
                                exam_end=EXAM_END)
    assessments.approve(assessment.id, gen_regulator("330100"))
    client, plan, paid = enrolled["client"], enrolled["plan"], enrolled["paid"]
    frozen(EXAM_START)
    preview = visible_text(client.post(path("EnrolledView.notify_preview", plan_id=plan.id),
                                       data={"ids": [paid.id], "kind": "exam"})
                           .get_data(as_text=True))
    assert "考核已开始，考试通知只能在考核开始前发送" in preview
    page = visible_text(client.post(path("EnrolledView.notify_send", plan_id=plan.id),
                                    data={"ids": [paid.id], "kind": "exam"},
                                    follow_redirects=True).get_data(as_text=True))
    assert "所选学员目前都不能收到该通知" in page and _count(TraineeNotice) == 0

    frozen(EXAM_START - dt.timedelta(days=1))
    client.post(path("EnrolledView.notify_send", plan_id=plan.id),
                data={"ids": [paid.id], "kind": "exam"})
    assert db.session.scalars(select(TraineeNotice.state)).all() == ["sent"]


def test_an_exam_notice_held_for_quiet_hours_is_not_sent_after_the_exam_started(enrolled,
                                                                                frozen):
    early = dt.datetime(2026, 11, 30, 7, 30)
    assessment = gen_assessment(enrolled["plan"], state="reported", exam_start=early,
                                exam_end=early + dt.timedelta(hours=2))
    assessments.approve(assessment.id, gen_regulator("330100"))
    frozen(dt.datetime(2026, 11, 29, 23, 0))  # held until 08:00, after the exam's start
    notices.send(enrolled["user"], [enrolled["paid"].id], "exam")
    frozen(dt.datetime(2026, 11, 30, 8, 0))
    notifications.deliver_due()
    db.session.expire_all()
    notice = db.session.scalars(select(TraineeNotice)).one()
    assert notice.state == "failed" and "考核已开始" in notice.last_error


# ---- issue 14 #19: ministry errors in words people understand --------------------------------

def test_ministry_errors_reach_enterprises_and_institutions_as_plain_chinese(app, login_as,
                                                                           frozen, monkeypatch):
    institution = gen_institution("330100")
    enterprise = gen_enterprise()
    plan = gen_finished_plan(institution)
    certificate = gen_certificate(gen_paid_trainees(plan, 1, enterprise=enterprise)[0])

    def refused(*_args, **_kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(ministry, "send", refused)
    monkeypatch.setattr(ministry, "sleep", lambda _seconds: None)
    assert not certificate_push.push_one(certificate.id)
    db.session.expire_all()
    assert "[Errno 111]" in db.session.get(Certificate, certificate.id).last_error  # for admins

    viewers = [gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id),
               gen_user(scope.INSTITUTION, institution_id=institution.id),
               gen_regulator("330100")]
    for user in viewers:
        client = _signed_in(app, login_as, user)
        for page in (client.get(path("CertificateView.list")),
                     client.get(path("CertificateView.show", pk=certificate.id))):
            text = visible_text(page.get_data(as_text=True))
            assert "推送失败，系统将自动重试" in text
            assert "Errno" not in text and "Connection refused" not in text
    admin = _signed_in(app, login_as, gen_user(scope.ADMIN))
    assert "[Errno 111]" in admin.get(path("CertificateView.list")).get_data(as_text=True)


# ---- issue 14 #19: bounded free text ---------------------------------------------------------

def test_plan_notes_of_a_megabyte_are_refused(staff):
    add_form = staff["client"].get("/trainingplanview/add").get_data(as_text=True)
    assert f'maxlength="{plans.NOTES_MAX}"' in add_form
    page = staff["client"].post("/trainingplanview/add", data=_plan_form(notes="备" * 1_000_000),
                                follow_redirects=True).get_data(as_text=True)
    assert f"最多 {plans.NOTES_MAX} 个字" in visible_text(page)
    assert _count(TrainingPlan) == 0


def test_the_service_bounds_every_free_text_field_of_a_plan(staff):
    for field, limit in (("notes", plans.NOTES_MAX), ("venue", plans.VENUE_MAX),
                         ("contact", plans.CONTACT_MAX)):
        plan = TrainingPlan(**{**dict(
            occupation_id=dictionary_value(Occupation, "架子工").id,
            level_id=dictionary_value(OccupationLevel, "四级/中级工").id, quota=30, fee=880,
            enrol_start=dt.datetime(2026, 12, 1, 9), enrol_end=dt.datetime(2026, 12, 20, 17),
            train_start=dt.date(2026, 12, 21), train_end=dt.date(2027, 1, 10),
            venue="实训中心", region_code="330100"), field: "字" * (limit + 1)})
        with pytest.raises(plans.PlanRefused) as refused:
            plans.validate(plan)
        assert f"最多 {limit} 个字" in str(refused.value)
        db.session.rollback()


def test_assessment_free_text_is_bounded(staff):
    plan = gen_finished_plan(staff["institution"])
    gen_paid_trainees(plan, 1)
    page = staff["client"].post(path("AssessmentPlanView.create_for", plan_id=plan.id),
                                data=_exam_form(venue="考" * 10_000)).get_data(as_text=True)
    assert "最多 128 个字" in visible_text(page) and _count(AssessmentPlan) == 0
    for field, limit in assessments.TEXT_LIMITS.items():
        values = {**_exam_form(), "exam_start": dt.datetime(2026, 12, 5, 9),
                  "exam_end": dt.datetime(2026, 12, 5, 11), "theory_pass": 60,
                  "practical_pass": 60, field: "字" * (limit + 1)}
        errors = assessments.check(plan, values)
        assert [(e.field, e.message) for e in errors] == [(field, f"最多 {limit} 个字。")]
