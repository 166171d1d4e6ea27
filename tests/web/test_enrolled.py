"""已报名: the enterprise follows its trainees after payment and downloads admission tickets
(one, or all of a plan) once the assessment plan is approved — not before, and never another
enterprise's."""
import datetime as dt

import pytest
from pypdf import PdfReader

from app import scope
from app.extensions import db
from app.services import assessments
from tests.assessment_factories import gen_assessment, gen_finished_plan, gen_paid_trainees
from tests.factories import gen_enterprise, gen_institution, gen_regulator, gen_user
from tests.helpers import path, visible_text

T0 = dt.datetime(2026, 11, 28, 10, 0)


@pytest.fixture
def world(app, login_as):
    app.config["CLOCK_FROZEN_AT"] = T0
    plan = gen_finished_plan(gen_institution("330100"))
    enterprise = gen_enterprise()
    mine = gen_paid_trainees(plan, 2, enterprise=enterprise)
    theirs = gen_paid_trainees(plan, 1)
    client = app.test_client()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    assessment = gen_assessment(plan, state="reported")
    return {"plan": plan, "mine": mine, "theirs": theirs, "client": client,
            "assessment": assessment}


def _pdf_text(data: bytes) -> list[str]:
    import io

    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def test_tickets_are_refused_before_approval_and_offered_after(world):
    client, plan, mine = world["client"], world["plan"], world["mine"]
    page = visible_text(client.get(path("EnrolledView.plan", plan_id=plan.id)).get_data(
        as_text=True))
    assert "未审核" in page and "下载全部准考证" not in page
    assert client.get(path("EnrolledView.ticket", enrolment_id=mine[0].id)).status_code == 404
    assert client.get(path("EnrolledView.plan_tickets", plan_id=plan.id)).status_code == 404

    assessments.approve(world["assessment"].id, gen_regulator("330100"))
    listing = visible_text(client.get(path("EnrolledView.plans")).get_data(as_text=True))
    assert "培训结束" in listing and "已审核" in listing and "下载全部准考证" in listing
    page = visible_text(client.get(path("EnrolledView.plan", plan_id=plan.id)).get_data(
        as_text=True))
    assert mine[0].person.name in page and world["theirs"][0].person.name not in page
    one = client.get(path("EnrolledView.ticket", enrolment_id=mine[0].id))
    assert one.status_code == 200 and one.mimetype == "application/pdf"
    assert len(_pdf_text(one.data)) == 1 and mine[0].person.name in _pdf_text(one.data)[0]
    every = client.get(path("EnrolledView.plan_tickets", plan_id=plan.id))
    pages = _pdf_text(every.data)
    assert len(pages) == 2  # only this enterprise's trainees
    assert all(any(t.person.name in p for p in pages) for t in mine)
    assert all(world["theirs"][0].person.name not in p for p in pages)


def test_another_enterprises_ticket_is_not_found(world):
    assessments.approve(world["assessment"].id, gen_regulator("330100"))
    response = world["client"].get(path("EnrolledView.ticket",
                                        enrolment_id=world["theirs"][0].id))
    assert response.status_code == 404


def test_the_ticket_verification_page(app, world):
    assessments.approve(world["assessment"].id, gen_regulator("330100"))
    db.session.expire_all()
    from models.assessment import AdmissionTicket

    ticket = db.session.scalars(db.select(AdmissionTicket).where(
        AdmissionTicket.enrolment_id == world["mine"][0].id)).one()
    page = visible_text(app.test_client().get(f"/verify/ticket/{ticket.verify_token}").get_data(
        as_text=True))
    person = world["mine"][0].person
    assert ticket.number in page and person.name in page and person.id_number not in page
    assert "实训基地考场" in page and "已审核" in page
