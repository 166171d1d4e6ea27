"""成绩报审 review and 培训证书: the city authority approves a score report (a certificate for
each trainee who passed, numbered uniquely even under concurrent approvals) or sends it back;
anyone can look a certificate up by number and name, masked, rate limited."""
import datetime as dt
import re
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import scope
from app.extensions import db
from app.services import DomainError, certificates
from models.assessment import Certificate, Score, ScoreReport
from models.user import JianpeiUser
from tests.assessment_factories import (
    gen_assessment,
    gen_certificate,
    gen_finished_plan,
    gen_held_assessment,
    gen_paid_trainees,
)
from tests.factories import gen_institution, gen_regulator
from tests.helpers import path, visible_text

T0 = dt.datetime(2026, 11, 28, 10, 0)
NUMBER = re.compile(r"^332026ZY\d{3}\d{6}$")


def gen_score_report(plan, results, state="accepted"):
    """A score report of an approved assessment: results = [(enrolment, theory, practical)]."""
    assessment = gen_held_assessment(plan)
    report = ScoreReport(assessment_id=assessment.id, state=state, imported_at=T0,
                         filename="scores.xlsx")
    for enrolment, theory, practical in results:
        report.scores.append(Score(enrolment_id=enrolment.id, theory=Decimal(theory),
                                   practical=Decimal(practical),
                                   passed=theory >= 60 and practical >= 60))
    db.session.add(report)
    db.session.commit()
    return report


@pytest.fixture
def world(app):
    app.config["CLOCK_FROZEN_AT"] = T0
    plan = gen_finished_plan(gen_institution("330100"))
    trainees = gen_paid_trainees(plan, 3)
    report = gen_score_report(plan, [(trainees[0], 90, 80), (trainees[1], 60, 60),
                                     (trainees[2], 59.5, 95)])
    return {"plan": plan, "trainees": trainees, "report": report,
            "reviewer": gen_regulator("330100")}


def test_approval_certifies_who_passed_and_pushes_them(app, world, login_as):
    client = app.test_client()
    login_as(client, world["reviewer"])
    page = visible_text(client.get(path("ScoreReportView.show", pk=world["report"].id)).get_data(
        as_text=True))
    assert "学员人数 3 · 合格 2 · 不合格 1 · 合格率 66.7%" in page
    assert "审核通过并生成证书" in page and "59.5" in page
    response = client.post(path("ScoreReportView.approve", pk=world["report"].id),
                           follow_redirects=True)
    assert "已生成 2 本证书" in visible_text(response.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.get(ScoreReport, world["report"].id).state == "approved"
    made = db.session.scalars(select(Certificate).order_by(Certificate.number)).all()
    assert [c.enrolment_id for c in made] == [world["trainees"][0].id, world["trainees"][1].id]
    assert all(NUMBER.match(c.number) for c in made)
    assert [c.number[-6:] for c in made] == ["000001", "000002"]
    assert made[0].number.startswith("332026" + world["trainees"][0].occupation.code)
    assert made[0].issued_on == T0.date() and made[0].holder_name == world["trainees"][0].person.name
    assert {c.state for c in made} == {"pushed"}  # the push task ran (immediate in tests)


def test_not_passed_with_a_reason_makes_no_certificate(world):
    with pytest.raises(DomainError, match="不通过的原因"):
        certificates.reject_scores(world["report"].id, world["reviewer"], "")
    certificates.reject_scores(world["report"].id, world["reviewer"], "第3行实操成绩有误")
    db.session.expire_all()
    report = db.session.get(ScoreReport, world["report"].id)
    assert report.state == "rejected" and report.review_reason == "第3行实操成绩有误"
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 0
    with pytest.raises(DomainError):  # no longer awaiting review
        certificates.approve_scores(report.id, world["reviewer"])


def test_only_the_city_authority_of_the_region_reviews(world):
    for user in (gen_regulator("330200"), gen_regulator("330000", scope.PROVINCE_REGULATOR)):
        with pytest.raises(DomainError):
            certificates.approve_scores(world["report"].id, user)
    certificates.approve_scores(world["report"].id, world["reviewer"])
    with pytest.raises(DomainError):
        certificates.approve_scores(world["report"].id, world["reviewer"])
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 2


def test_concurrent_approvals_never_share_a_certificate_number(app):
    app.config["CLOCK_FROZEN_AT"] = T0
    reports = []
    for _ in range(4):  # four plans of the same occupation, approved at once
        plan = gen_finished_plan(gen_institution("330100"))
        trainees = gen_paid_trainees(plan, 5)
        reports.append(gen_score_report(plan, [(t, 80, 80) for t in trainees]).id)
    reviewer_id = gen_regulator("330100").id
    barrier = threading.Barrier(len(reports), timeout=30)
    failures = []

    def approve(report_id):
        with app.app_context():
            try:
                barrier.wait()
                certificates.approve_scores(report_id, db.session.get(JianpeiUser, reviewer_id))
            except Exception as error:  # noqa: BLE001 - every failure is a finding
                failures.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve, args=(r,)) for r in reports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    db.session.expire_all()
    numbers = sorted(db.session.scalars(select(Certificate.number)))
    assert len(numbers) == 20 == len(set(numbers))
    assert [n[-6:] for n in numbers] == [f"{i:06d}" for i in range(1, 21)]  # no gaps either


def test_the_public_lookup_needs_number_and_name_and_masks_the_id(app, world):
    certificate = gen_certificate(world["trainees"][0])
    person = world["trainees"][0].person
    client = app.test_client()
    login_page = visible_text(client.get("/login/").get_data(as_text=True))
    assert "证书查询" in login_page
    found = client.post(path("CertificateLookupView.index"),
                        data={"number": certificate.number.lower(), "name": person.name})
    text = visible_text(found.get_data(as_text=True))
    assert certificate.number in text and person.name in text and "钢筋工" in text
    assert person.id_number not in text and person.id_number[:4] + "**********" in text
    assert "证书已生成未推送" in text
    answers = set()
    for number, name in ((certificate.number, "别人"), ("332026ZY001999999", person.name),
                         (certificate.number, ""), ("", person.name)):
        page = visible_text(client.post(path("CertificateLookupView.index"),
                                        data={"number": number, "name": name}).get_data(
            as_text=True))
        assert person.id_number[-4:] not in page or "未查到" in page
        answers.add("未查到与该证书编号和姓名相符的证书" in page)
    assert answers == {True}


def test_the_lookup_is_rate_limited_per_address(make_app):
    app = make_app(RATELIMIT_ENABLED=True, CERTIFICATE_LOOKUP_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [client.post("/certificate-lookup/", data={"number": "X", "name": "Y"}).status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    other = client.post("/certificate-lookup/", data={"number": "X", "name": "Y"},
                        environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200


def test_the_verification_page_and_qr_code(app, world):
    certificate = gen_certificate(world["trainees"][1])
    client = app.test_client()
    page = visible_text(client.get(f"/verify/certificate/{certificate.verify_token}").get_data(
        as_text=True))
    assert certificate.number in page and world["trainees"][1].person.id_number not in page
    qr = client.get(f"/verify/certificate/{certificate.verify_token}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml" and b"<svg" in qr.data
    assert client.get("/verify/certificate/nope").status_code == 404
    assert client.get("/verify/ticket/nope").status_code == 404
