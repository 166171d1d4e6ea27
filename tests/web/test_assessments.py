"""考核计划: created by the plan's institution once training has ended, reported, reviewed by
the city authority of the plan's region (approved: tickets for paid trainees; returned with a
reason: edited and reported again). Wrong role, scope or state changes nothing."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from app import scope
from app.extensions import db
from app.services import DomainError, assessments
from models.assessment import AdmissionTicket, AssessmentPlan
from models.audit import AuditLog
from tests.assessment_factories import gen_assessment, gen_finished_plan, gen_paid_trainees
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_regulator, gen_user
from tests.helpers import path, visible_text
from tests.order_factories import gen_trainees

T0 = dt.datetime(2026, 11, 28, 10, 0)


@pytest.fixture
def world(app, login_as):
    app.config["CLOCK_FROZEN_AT"] = T0
    institution = gen_institution("330100")
    plan = gen_finished_plan(institution)
    paid = gen_paid_trainees(plan, 3)
    unpaid = gen_trainees(gen_enterprise(), plan, 1)[0]
    staff = gen_user(scope.INSTITUTION, institution_id=institution.id)
    client = app.test_client()
    login_as(client, staff)
    return {"institution": institution, "plan": plan, "paid": paid, "unpaid": unpaid,
            "staff": staff, "client": client, "reviewer": gen_regulator("330100")}


def _form(**overrides):
    values = {"exam_start": "2026-12-05T09:00", "exam_end": "2026-12-05T11:30",
              "venue": "一号楼考场", "theory_part": "理论知识", "practical_part": "钢筋绑扎",
              "theory_pass": "60", "practical_pass": "60"}
    values.update(overrides)
    return values


def _values(**overrides):
    values = {"exam_start": dt.datetime(2026, 12, 5, 9), "exam_end": dt.datetime(2026, 12, 5, 11),
              "venue": "一号楼考场", "theory_part": "理论知识", "practical_part": "钢筋绑扎",
              "theory_pass": 60, "practical_pass": 60}
    values.update(overrides)
    return values


def test_the_institution_creates_and_reports_the_assessment_plan(world):
    client, plan = world["client"], world["plan"]
    plan_page = visible_text(client.get(path("TrainingPlanView.show", pk=plan.id)).get_data(
        as_text=True))
    assert "培训结束" in plan_page and "创建考核计划" in plan_page
    response = client.post(path("AssessmentPlanView.create_for", plan_id=plan.id), data=_form())
    assessment = db.session.scalars(select(AssessmentPlan)).one()
    assert response.status_code == 302
    assert assessment.state == "draft" and assessment.venue == "一号楼考场"
    page = visible_text(client.get(path("AssessmentPlanView.show", pk=assessment.id)).get_data(
        as_text=True))
    assert "未上报" in page and "上报" in page and "参加考核的已缴费学员： 3" in page
    client.post(path("AssessmentPlanView.report", pk=assessment.id))
    db.session.expire_all()
    assert db.session.get(AssessmentPlan, assessment.id).state == "reported"
    assert "未审核" in visible_text(client.get(path("AssessmentPlanView.show", pk=assessment.id))
                                 .get_data(as_text=True))
    assert db.session.scalars(select(AuditLog.action)).all() == ["assessment.create",
                                                                 "assessment.report"]


@pytest.mark.parametrize("field, value, message", [
    ("exam_end", "2026-12-05T08:00", "考核结束时间必须晚于开始时间"),
    ("exam_start", "2026-11-20T09:00", "考核须在培训结束后进行"),
    ("theory_pass", "120", ""),
    ("venue", "", ""),
])
def test_bad_values_are_refused_field_by_field(world, field, value, message):
    response = world["client"].post(path("AssessmentPlanView.create_for",
                                          plan_id=world["plan"].id), data=_form(**{field: value}))
    assert response.status_code == 200
    assert message in visible_text(response.get_data(as_text=True))
    assert db.session.scalar(select(func.count()).select_from(AssessmentPlan)) == 0


def test_only_a_finished_plan_of_ones_own_gets_an_assessment_plan(world):
    enrolling = gen_plan(world["institution"])
    with pytest.raises(DomainError, match="培训结束"):
        assessments.create(enrolling.id, world["staff"], _values())
    other = gen_user(scope.INSTITUTION, institution_id=gen_institution().id)
    with pytest.raises(assessments.NotFound):
        assessments.create(world["plan"].id, other, _values())
    assessments.create(world["plan"].id, world["staff"], _values())
    with pytest.raises(DomainError, match="已有考核计划"):
        assessments.create(world["plan"].id, world["staff"], _values())


def test_a_plan_nobody_paid_for_cannot_be_reported(world):
    plan = gen_finished_plan(world["institution"])
    gen_trainees(gen_enterprise(), plan, 2)  # enrolled, never paid
    assessment, _ = assessments.create(plan.id, world["staff"], _values())
    with pytest.raises(DomainError, match="没有人缴费"):
        assessments.report(assessment.id, world["staff"])
    assert db.session.get(AssessmentPlan, assessment.id).state == "draft"


def test_approval_makes_a_ticket_for_each_paid_trainee_only(app, world, login_as):
    assessment = gen_assessment(world["plan"], state="reported")
    reviewer = app.test_client()
    login_as(reviewer, world["reviewer"])
    page = visible_text(reviewer.get(path("AssessmentPlanView.show", pk=assessment.id)).get_data(
        as_text=True))
    assert "审核通过" in page and "退回" in page
    reviewer.post(path("AssessmentPlanView.approve", pk=assessment.id))
    db.session.expire_all()
    assert db.session.get(AssessmentPlan, assessment.id).state == "approved"
    tickets = db.session.scalars(select(AdmissionTicket).order_by(AdmissionTicket.id)).all()
    assert sorted(t.enrolment_id for t in tickets) == sorted(e.id for e in world["paid"])
    assert len({t.number for t in tickets}) == 3 and len({t.verify_token for t in tickets}) == 3
    assert tickets[0].number == f"ZK20261205{assessment.id:05d}0001"


def test_returned_with_a_reason_then_edited_and_reported_again(app, world, login_as):
    assessment = gen_assessment(world["plan"], state="reported")
    with pytest.raises(DomainError, match="退回考核计划的原因"):
        assessments.reject(assessment.id, world["reviewer"], "  ")
    assessments.reject(assessment.id, world["reviewer"], "考场容量不足")
    db.session.expire_all()
    assessment = db.session.get(AssessmentPlan, assessment.id)
    assert assessment.state == "rejected" and assessment.review_reason == "考场容量不足"
    assert "考场容量不足" in visible_text(world["client"].get(
        path("AssessmentPlanView.show", pk=assessment.id)).get_data(as_text=True))
    response = world["client"].post(path("AssessmentPlanView.change", pk=assessment.id),
                                    data=_form(venue="二号楼考场"))
    assert response.status_code == 302
    assessments.report(assessment.id, world["staff"])
    db.session.expire_all()
    assessment = db.session.get(AssessmentPlan, assessment.id)
    assert assessment.state == "reported" and assessment.venue == "二号楼考场"


def test_wrong_role_scope_or_state_changes_nothing(app, world, login_as):
    assessment = gen_assessment(world["plan"], state="draft")
    with pytest.raises(DomainError):  # not reported yet
        assessments.approve(assessment.id, world["reviewer"])
    assessments.report(assessment.id, world["staff"])
    with pytest.raises(DomainError):  # the institution cannot approve its own
        assessments.approve(assessment.id, world["staff"])
    with pytest.raises(DomainError):  # Ningbo does not review Hangzhou
        assessments.approve(assessment.id, gen_regulator("330200"))
    with pytest.raises(DomainError):  # the province oversees; the city reviews
        assessments.approve(assessment.id, gen_regulator("330000", scope.PROVINCE_REGULATOR))
    with pytest.raises(DomainError):  # reported: no more edits
        assessments.update_values(assessment.id, world["staff"], _values(venue="别处"))
    assert world["client"].post(path("AssessmentPlanView.approve", pk=assessment.id)
                                ).status_code == 403
    ningbo = app.test_client()
    login_as(ningbo, gen_regulator("330200"))
    assert ningbo.post(path("AssessmentPlanView.approve", pk=assessment.id)).status_code == 404
    assessments.approve(assessment.id, world["reviewer"])
    with pytest.raises(DomainError):  # approved once
        assessments.approve(assessment.id, world["reviewer"])
    db.session.expire_all()
    assert db.session.get(AssessmentPlan, assessment.id).venue == "实训基地考场"
    assert db.session.scalar(select(func.count()).select_from(AdmissionTicket)) == 3
