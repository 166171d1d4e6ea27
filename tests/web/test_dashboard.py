"""The home page of each role, against a known data set in two cities (杭州 330100, 宁波 330200):
regulators' waiting counts and charts within their scope; enterprises' and institutions'
actions needed now."""
import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from app import scope
from app.extensions import db
from app.services import dashboard
from models.enrolment import Enrolment, PhotoCheck
from models.assessment import Score, ScoreReport
from models.reference import Occupation
from models.states import CertificateState
from tests.assessment_factories import (
    gen_assessment,
    gen_certificate,
    gen_finished_plan,
    gen_paid_trainees,
)
from tests.factories import (
    authority_of,
    dictionary_value,
    gen_enterprise,
    gen_institution,
    gen_plan,
    gen_regulator,
    gen_user,
)
from tests.helpers import path
from tests.order_factories import gen_order, gen_trainees

NOW = dt.datetime(2026, 3, 15, 10, 0)
HZ, NB = "330100", "330200"
MONTHS = ["2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "2025-09", "2025-10",
          "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]


def _dated(enrolments, at: dt.datetime):
    for enrolment in enrolments:
        enrolment.created_at = at
    db.session.commit()
    return enrolments


def _past_exam(plan, state="approved", **fields):
    """An assessment whose exam took place five days ago."""
    start = NOW - dt.timedelta(days=5)
    return gen_assessment(plan, state, exam_start=start, exam_end=start + dt.timedelta(hours=2),
                          **fields)


def _scores(assessment, trainees, passed, state):
    report = ScoreReport(assessment_id=assessment.id, state=state, imported_at=NOW,
                         filename="scores.xlsx")
    for trainee, ok in zip(trainees, passed):
        mark = Decimal(80 if ok else 40)
        report.scores.append(Score(enrolment_id=trainee.id, theory=mark, practical=mark,
                                   passed=ok))
    db.session.add(report)
    db.session.commit()
    return report


@pytest.fixture
def world(app):
    """The known data set; the comments give what each row adds to the figures."""
    app.config["CLOCK_FROZEN_AT"] = NOW
    rebar = dictionary_value(Occupation, "钢筋工").id
    masonry = dictionary_value(Occupation, "砌筑工").id
    scaffold = dictionary_value(Occupation, "架子工").id
    hz_inst, nb_inst = gen_institution(HZ), gen_institution(NB)
    hz_ent, nb_ent = gen_enterprise(HZ), gen_enterprise(NB)

    # Enterprises waiting for review: two for Hangzhou's authority, one for Ningbo's, and a
    # province-owned one in Hangzhou that the province reviews.
    for region, reviewer in ((HZ, HZ), (HZ, HZ), (NB, NB)):
        gen_enterprise(region, review_state="pending",
                       reviewing_authority_id=authority_of(reviewer).id)
    gen_enterprise(HZ, review_state="pending", province_owned=True,
                   reviewing_authority_id=authority_of("330000").id)
    rejected = gen_enterprise(HZ, review_state="rejected", review_reason="营业执照不清晰")

    # Plans submitted for review: 1 in Hangzhou, 2 in Ningbo.
    gen_plan(hz_inst, review_state="submitted")
    gen_plan(nb_inst, review_state="submitted")
    gen_plan(nb_inst, review_state="submitted")

    # A: Hangzhou, 钢筋工, enrolling; 6 trainees of hz_ent this month.
    a = gen_plan(hz_inst, occupation_id=rebar)
    gen_trainees(hz_ent, a, 2, photos=False)  # photos missing
    gen_trainees(hz_ent, a, 1)  # ready for an order
    to_pay = gen_order(hz_ent, a, 2, state="pending", created_at=NOW - dt.timedelta(minutes=10))
    past_due = gen_order(hz_ent, a, 1, state="pending", created_at=NOW - dt.timedelta(hours=2))

    # B: Hangzhou, 钢筋工, finished; 4 paid in January; scores approved 3/4; certificates
    # 2 pushed, 1 generated.
    b = gen_finished_plan(hz_inst, occupation_id=rebar)
    b_trainees = _dated(gen_paid_trainees(b, 4, hz_ent), dt.datetime(2026, 1, 14, 10))
    _scores(_past_exam(b), b_trainees, [True, True, True, False], "approved")
    gen_certificate(b_trainees[0], state=CertificateState.PUSHED.value, pushed_at=NOW)
    gen_certificate(b_trainees[1], state=CertificateState.PUSHED.value, pushed_at=NOW)
    gen_certificate(b_trainees[2])

    # C: Hangzhou, 架子工, finished; 2 paid in April 2025; exam approved and still to come.
    c = gen_finished_plan(hz_inst, occupation_id=scaffold)
    _dated(gen_paid_trainees(c, 2, hz_ent), dt.datetime(2025, 4, 10, 9))
    gen_assessment(c)

    # D: Hangzhou, 钢筋工, finished, 1 paid in March 2025 (outside the 12 months), no
    # assessment plan yet. E: finished with nobody paid (no assessment needed).
    d = gen_finished_plan(hz_inst, occupation_id=rebar)
    _dated(gen_paid_trainees(d, 1, hz_ent), dt.datetime(2025, 3, 20, 9))
    gen_finished_plan(hz_inst, occupation_id=rebar)

    # G, H, I, J: Hangzhou, 钢筋工, finished, 1 paid each in February.
    # G: assessment returned. H: score report not passed (its failure does not count).
    # I: assessment reported. J: score report accepted, not yet reviewed.
    after = {}
    for key in "GHIJ":
        plan = gen_finished_plan(hz_inst, occupation_id=rebar)
        after[key] = (plan, _dated(gen_paid_trainees(plan, 1, hz_ent),
                                   dt.datetime(2026, 2, 3, 9)))
    returned = _past_exam(after["G"][0], "rejected", review_reason="考场与培训地点不符")
    h_assessment = _past_exam(after["H"][0])
    _scores(h_assessment, after["H"][1], [False], "rejected")
    _past_exam(after["I"][0], "reported")
    _scores(_past_exam(after["J"][0]), after["J"][1], [True], "accepted")

    # K: Ningbo, 砌筑工, enrolling; 2 of nb_ent and 1 of hz_ent (no photos), this month.
    k = gen_plan(nb_inst, occupation_id=masonry)
    gen_trainees(nb_ent, k, 2)
    gen_trainees(hz_ent, k, 1, photos=False)

    # L: Ningbo, 砌筑工, finished; 5 paid in December; scores approved 2/5; 2 certificates
    # generated, not pushed. N: Ningbo, 砌筑工, 1 paid in January, assessment reported.
    el = gen_finished_plan(nb_inst, occupation_id=masonry)
    l_trainees = _dated(gen_paid_trainees(el, 5, nb_ent), dt.datetime(2025, 12, 1, 9))
    _scores(_past_exam(el), l_trainees, [True, False, True, False, False], "approved")
    gen_certificate(l_trainees[0])
    gen_certificate(l_trainees[2])
    n = gen_finished_plan(nb_inst, occupation_id=masonry)
    _dated(gen_paid_trainees(n, 1, nb_ent), dt.datetime(2026, 1, 20, 9))
    _past_exam(n, "reported")

    return {
        "hz_regulator": gen_regulator(HZ),
        "nb_regulator": gen_regulator(NB),
        "province": gen_regulator("330000", scope.PROVINCE_REGULATOR),
        "admin": gen_user(scope.ADMIN),
        "hz_enterprise": gen_user(scope.ENTERPRISE, hz_ent.uscc, enterprise_id=hz_ent.id),
        "nb_enterprise": gen_user(scope.ENTERPRISE, nb_ent.uscc, enterprise_id=nb_ent.id),
        "rejected_enterprise": gen_user(scope.ENTERPRISE, rejected.uscc,
                                        enterprise_id=rejected.id),
        "hz_institution": gen_user(scope.INSTITUTION, institution_id=hz_inst.id),
        "nb_institution": gen_user(scope.INSTITUTION, institution_id=nb_inst.id),
        "plans": {"A": a, "C": c, "D": d, "K": k, **{key: p for key, (p, _) in after.items()}},
        "to_pay": to_pay, "past_due": past_due, "returned": returned,
        "h_assessment": h_assessment,
    }


def _cards(user) -> dict[str, int]:
    return {card.target: card.value for card in dashboard.cards(user)}


def _charts(user) -> dict[str, dashboard.Chart]:
    return {chart.key: chart for chart in dashboard.charts(user)}


def _month_values(counts: dict[str, int]) -> dict[str, int]:
    return {month: counts.get(month, 0) for month in MONTHS}


# Regulators: the service's numbers -----------------------------------------------------------

def test_city_regulator_waits_for_its_own_city_only(world):
    assert _cards(world["hz_regulator"]) == {
        "enterprise_review": 2,  # not the province-owned one, not Ningbo's
        "plans": 1,
        "assessment_plans": 1,
        "score_reports": 1,
    }
    assert _cards(world["nb_regulator"]) == {
        "enterprise_review": 1, "plans": 2,
        "assessment_plans": 1, "score_reports": 0,
    }


def test_province_waits_for_everything_but_reviews_only_its_own_enterprises(world):
    assert _cards(world["province"]) == {
        "enterprise_review": 1,  # the province-owned enterprise
        "plans": 3,
        "assessment_plans": 2,
        "score_reports": 1,
    }


def test_city_regulator_charts_count_its_city_only(world):
    charts = _charts(world["hz_regulator"])
    assert list(charts) == ["per_month", "per_occupation", "pass_rate", "certificates"]
    assert charts["per_month"].values() == _month_values(
        {"2025-04": 2, "2026-01": 4, "2026-02": 4, "2026-03": 6})
    # 钢筋工: A 6 + B 4 + D 1 + G, H, I, J 1 each; the trainee of hz_ent in Ningbo's K is
    # Ningbo's.
    assert charts["per_occupation"].values() == {"钢筋工": 15, "架子工": 2}
    assert charts["pass_rate"].values() == {"钢筋工": 75.0}
    assert [bar.text for bar in charts["pass_rate"].bars] == ["75.0%"]
    assert [bar.value for bar in charts["certificates"].bars] == [2, 1]

    ningbo = _charts(world["nb_regulator"])
    assert ningbo["per_month"].values() == _month_values(
        {"2025-12": 5, "2026-01": 1, "2026-03": 3})
    assert ningbo["pass_rate"].values() == {"砌筑工": 40.0}
    assert [bar.value for bar in ningbo["certificates"].bars] == [0, 2]


def test_province_charts_count_every_city(world):
    charts = _charts(world["province"])
    assert list(charts) == ["per_month", "per_occupation", "per_city", "pass_rate",
                            "certificates"]
    assert charts["per_month"].values() == _month_values(
        {"2025-04": 2, "2025-12": 5, "2026-01": 5, "2026-02": 4, "2026-03": 9})
    assert [(bar.label, bar.value) for bar in charts["per_occupation"].bars] == [
        ("钢筋工", 15), ("砌筑工", 9), ("架子工", 2)]
    per_city = charts["per_city"].values()
    assert len(per_city) == 11 and sum(per_city.values()) == 26
    assert per_city["杭州市"] == 17 and per_city["宁波市"] == 9
    # Ordered by trainees scored: 砌筑工 5 (2 passed), 钢筋工 4 (3 passed); rejected and
    # unreviewed reports do not count.
    assert [(bar.label, bar.value, bar.note) for bar in charts["pass_rate"].bars] == [
        ("砌筑工", 40.0, "2/5"), ("钢筋工", 75.0, "3/4")]
    assert charts["pass_rate"].top == 100
    certificates = charts["certificates"].bars
    assert [(bar.label, bar.value) for bar in certificates] == [
        (CertificateState.PUSHED.label, 2), (CertificateState.GENERATED.label, 3)]


def test_the_month_window_moves_with_the_clock(app, world):
    app.config["CLOCK_FROZEN_AT"] = dt.datetime(2026, 5, 1, 0, 0)
    months = _charts(world["province"])["per_month"].values()
    assert list(months)[0] == "2025-06" and list(months)[-1] == "2026-05"
    assert months["2025-12"] == 5 and "2025-04" not in months


def test_other_roles_get_no_charts(world):
    for key in ("admin", "hz_enterprise", "hz_institution"):
        assert dashboard.charts(world[key]) == []


# Enterprises and institutions: actions ---------------------------------------------------------

def _actions(user) -> dict[str, dashboard.Action]:
    return {action.key: action for action in dashboard.actions(user)}


def test_enterprise_sees_what_needs_its_action(world):
    actions = _actions(world["hz_enterprise"])
    assert list(actions) == ["orders_to_pay", "photos_missing", "tickets"]
    # The pending order past its hour reads as expired: nothing to pay there.
    assert actions["orders_to_pay"].count == 1
    assert [(item.target, item.id) for item in actions["orders_to_pay"].items] == [
        ("order", world["to_pay"].id)]
    assert "1360.00" in actions["orders_to_pay"].items[0].detail
    # Trainees not yet ordered without both photos, in plans still enrolling (its own, in
    # Hangzhou's A and Ningbo's K); those in orders have their photos.
    plans = world["plans"]
    assert actions["photos_missing"].count == 3
    assert [(item.id, item.count) for item in actions["photos_missing"].items] == [
        (plans["A"].id, 2), (plans["K"].id, 1)]
    # Tickets: C's exam is approved and still to come; B, H and J's exams are over.
    assert [(item.target, item.id, item.count) for item in actions["tickets"].items] == [
        ("enrolled_plan", plans["C"].id, 2)]


def _check(enrolment, state: str, kind: str = "id_photo", photo_key: str | None = None):
    key = photo_key or (enrolment.id_photo_key if kind == "id_photo" else enrolment.photo_key)
    db.session.add(PhotoCheck(enrolment_id=enrolment.id, kind=kind, photo_key=key, state=state,
                              queued_at=NOW))


def test_photo_findings_wait_for_the_enterprise(app, login_as, world):
    plans = world["plans"]
    ready, = [e for e in _live(plans["A"]) if e.order_id is None and e.photo_key]
    ordered = next(e for e in _live(plans["A"]) if e.order_id == world["to_pay"].id)
    k_ningbo = next(e for e in _live(plans["K"]) if e.enterprise_id != ready.enterprise_id)
    _check(ready, "mismatch")  # the ID card differs from the roster row
    _check(ready, "unreadable", kind="photo")  # the same trainee: counted once
    _check(ordered, "mismatch")  # in an order already: nothing to do here
    _check(k_ningbo, "mismatch")  # another enterprise's trainee
    db.session.commit()
    actions = _actions(world["hz_enterprise"])
    assert list(actions) == ["orders_to_pay", "photos_missing", "photos_to_settle", "tickets"]
    assert actions["photos_to_settle"].count == 1
    assert [(i.target, i.id, i.count) for i in actions["photos_to_settle"].items] == [
        ("enrolment_plan", plans["A"].id, 1)]
    page = _home(app, login_as, world["hz_enterprise"])
    settle = page.split('id="action-photos_to_settle"')[1].split("</li>")[0]
    assert "照片核对待处理的学员" in page and path("EnrolmentView.plan", plan_id=plans["A"].id) in settle
    assert _actions(world["nb_enterprise"])["photos_to_settle"].count == 1

    # Settled (confirmed, or a new photo whose check is under way): nothing waits.
    for check in db.session.scalars(select(PhotoCheck).where(PhotoCheck.enrolment_id == ready.id)):
        check.state = "confirmed" if check.kind == "id_photo" else "queued"
    db.session.commit()
    assert "photos_to_settle" not in _actions(world["hz_enterprise"])

    # A finding about a file since replaced holds nothing either.
    db.session.execute(delete(PhotoCheck).where(PhotoCheck.enrolment_id == ready.id))
    _check(ready, "mismatch", photo_key="an-older-file.jpg")
    db.session.commit()
    assert "photos_to_settle" not in _actions(world["hz_enterprise"])


def _live(plan) -> list[Enrolment]:
    return list(db.session.scalars(select(Enrolment).where(Enrolment.plan_id == plan.id)
                                   .order_by(Enrolment.id)))


def test_enterprise_with_nothing_to_do_and_a_rejected_one(world):
    assert dashboard.actions(world["nb_enterprise"]) == []
    actions = _actions(world["rejected_enterprise"])
    assert list(actions) == ["registration"]
    assert actions["registration"].items[0].text == "营业执照不清晰"
    assert actions["registration"].items[0].target == "my_enterprise"


def test_institution_sees_what_needs_its_action(world):
    plans = world["plans"]
    actions = _actions(world["hz_institution"])
    assert list(actions) == ["assessments_returned", "scores_not_passed",
                             "assessments_missing"]
    assert [(i.target, i.id, i.detail) for i in actions["assessments_returned"].items] == [
        ("assessment_plan", world["returned"].id, "考场与培训地点不符")]
    assert [(i.target, i.id) for i in actions["scores_not_passed"].items] == [
        ("assessment_plan", world["h_assessment"].id)]
    # D is finished with a paid trainee and no assessment plan; E has nobody paid.
    assert [(i.target, i.id, i.count) for i in actions["assessments_missing"].items] == [
        ("new_assessment_plan", plans["D"].id, 1)]
    assert _cards(world["hz_institution"])["plans"] == 1  # awaiting review
    assert dashboard.actions(world["nb_institution"]) == []


# The rendered pages -------------------------------------------------------------------------

def _home(app, login_as, user) -> str:
    client = app.test_client()
    login_as(client, user)
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _bar(page: str, chart: str, label: str) -> str:
    svg = re.search(rf'<svg id="chart-{chart}".*?</svg>', page, re.S).group(0)
    return re.search(rf'<g class="bar" data-label="{label}" data-value="([^"]+)"', svg).group(1)


def _card_values(page: str) -> list[str]:
    return re.findall(r'<h3 class="dashboard-value">([^<]*)</h3>', page)


def test_province_home_page_draws_the_charts(app, login_as, world):
    page = _home(app, login_as, world["province"])
    assert page.count("<svg") == 5
    assert 'role="img"' in page and "<title" in page
    assert _card_values(page) == ["1", "3", "2", "1"]
    assert _bar(page, "per_city", "杭州市") == "17"
    assert _bar(page, "per_city", "宁波市") == "9"
    assert _bar(page, "per_month", "2026-03") == "9"
    assert _bar(page, "per_occupation", "钢筋工") == "15"
    assert _bar(page, "pass_rate", "砌筑工") == "40.0"
    assert ">75.0%</text>" in page
    for endpoint, args in (("EnterpriseReviewView.queue", ""),
                           ("TrainingPlanView.list", "?_flt_3_review_state=submitted"),
                           ("AssessmentPlanView.list", "?_flt_3_state=reported"),
                           ("ScoreReportView.list", "?_flt_3_state=accepted")):
        assert f'href="{path(endpoint)}{args}"' in page


def test_city_home_page_has_no_city_chart_and_the_card_links_work(app, login_as, world):
    client = app.test_client()
    login_as(client, world["hz_regulator"])
    page = client.get("/").get_data(as_text=True)
    assert page.count("<svg") == 4 and "chart-per_city" not in page
    assert _card_values(page) == ["2", "1", "1", "1"]
    assert _bar(page, "per_month", "2026-03") == "6"
    # Each card opens its list, filtered to what it counts.
    links = re.findall(r'<a href="([^"]+)">', page.split('id="dashboard-cards"')[1]
                       .split('id="dashboard-charts"')[0])
    assert len(links) == 4
    for link, value in zip(links[1:], _card_values(page)[1:]):
        listed = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
        assert re.search(r"<strong>[^<]*:</strong>\s*(\d+)", listed).group(1) == value, link
    assert client.get(links[0]).status_code == 200


def test_enterprise_home_page_lists_its_actions(app, login_as, world):
    page = _home(app, login_as, world["hz_enterprise"])
    assert "<svg" not in page
    counts = dict(re.findall(r'id="action-(\w+)".*?class="badge action-count">(\d+)<', page,
                             re.S))
    assert counts == {"orders_to_pay": "1", "photos_missing": "3", "tickets": "1"}
    assert path("OrderView.show", pk=world["to_pay"].id) in page
    assert path("OrderView.show", pk=world["past_due"].id) not in page
    assert path("EnrolmentView.plan", plan_id=world["plans"]["A"].id) in page
    assert path("EnrolledView.plan", plan_id=world["plans"]["C"].id) in page


def test_institution_home_page_lists_its_actions(app, login_as, world):
    page = _home(app, login_as, world["hz_institution"])
    assert 'id="action-assessments_returned"' in page
    assert path("AssessmentPlanView.create_for", plan_id=world["plans"]["D"].id) in page
    assert path("AssessmentPlanView.show", pk=world["h_assessment"].id) in page


def test_nothing_to_do_and_admin_overview(app, login_as, world):
    page = _home(app, login_as, world["nb_enterprise"])
    assert 'id="dashboard-actions"' in page and 'id="action-' not in page
    admin = _home(app, login_as, world["admin"])
    assert "<svg" not in admin and 'id="dashboard-actions"' not in admin
    assert path("InstitutionView.list") in admin
