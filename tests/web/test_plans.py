"""Training plans: the review state machine, validation, edits after approval, the 报名 list."""
import datetime as dt

import pytest
from sqlalchemy import select

from app import scope
from app.extensions import db
from models.audit import AuditLog
from models.reference import Occupation, OccupationLevel
from models.training import TrainingPlan
from tests.factories import (
    dictionary_value,
    gen_enterprise,
    gen_institution,
    gen_plan,
    gen_regulator,
    gen_user,
)

T0 = dt.datetime(2026, 12, 1, 9, 0)


@pytest.fixture
def frozen(app):
    app.config["CLOCK_FROZEN_AT"] = T0
    return T0


@pytest.fixture
def institution(app):
    return gen_institution("330100", name="杭州甲培训机构")


def _client(app, login_as, user):
    client = app.test_client()
    login_as(client, user)
    return client


def _form(**overrides):
    values = {
        "occupation": dictionary_value(Occupation, "架子工").id,
        "level": dictionary_value(OccupationLevel, "四级/中级工").id,
        "quota": "30", "fee": "880.50",
        "enrol_start": "2026-12-05 09:00:00", "enrol_end": "2026-12-20 17:00:00",
        "train_start": "2026-12-25", "train_end": "2027-01-10",
        "venue": "杭州市拱墅区实训中心", "region": "330100", "contact": "王老师 0571-1234",
        "notes": "",
    }
    values.update(overrides)
    return values


def _plans():
    db.session.expire_all()
    return db.session.scalars(select(TrainingPlan)).all()


def test_institution_creates_a_draft_with_an_exact_fee(app, login_as, institution, frozen):
    client = _client(app, login_as, gen_user(scope.INSTITUTION, institution_id=institution.id))
    response = client.post("/trainingplanview/add", data=_form())
    assert response.status_code == 302
    plan = _plans()[0]
    assert (plan.review_state, plan.institution_id) == ("draft", institution.id)
    assert str(plan.fee) == "880.50"
    assert db.session.scalars(select(AuditLog.action)).all() == ["plan.create"]


@pytest.mark.parametrize("overrides, message", [
    ({"quota": "0"}, "名额应在 1 至 10000 之间"),
    ({"quota": "99999999999999999999"}, "名额应在 1 至 10000 之间"),
    ({"fee": "-1"}, "培训费应在 0 至"),
    ({"fee": "12.345"}, "最多两位小数"),
    ({"fee": "NaN"}, "培训费应在 0 至"),
    ({"fee": "1e30"}, "培训费应在 0 至"),
    ({"enrol_end": "2027-01-11 09:00:00"}, "培训开始日期不能早于报名截止时间所在的日期"),
    ({"enrol_end": "2026-12-05 09:00:00"}, "报名截止时间必须晚于报名开始时间"),
    ({"train_end": "2026-12-24"}, "培训结束日期必须晚于培训开始日期"),
    ({"train_start": "2026-12-01", "train_end": "2026-12-30"}, "培训开始日期不能早于报名截止时间"),
])
def test_validation_messages(app, login_as, institution, frozen, overrides, message):
    client = _client(app, login_as, gen_user(scope.INSTITUTION, institution_id=institution.id))
    page = client.post("/trainingplanview/add", data=_form(**overrides),
                       follow_redirects=True).get_data(as_text=True)
    assert message in page
    assert _plans() == []


def test_submit_review_reject_resubmit_approve(app, login_as, institution, frozen):
    plan = gen_plan(institution, review_state="draft")
    owner = _client(app, login_as, gen_user(scope.INSTITUTION, institution_id=institution.id))
    reviewer = _client(app, login_as, gen_regulator("330100"))

    owner.post(f"/trainingplanview/submit/{plan.id}")
    assert _plans()[0].review_state == "submitted"
    page = reviewer.post(f"/trainingplanview/reject/{plan.id}", data={"reason": ""},
                         follow_redirects=True).get_data(as_text=True)
    assert "请填写驳回原因" in page
    reviewer.post(f"/trainingplanview/reject/{plan.id}", data={"reason": "场地信息不全"})
    assert (_plans()[0].review_state, _plans()[0].review_reason) == ("rejected", "场地信息不全")
    assert "场地信息不全" in owner.get(f"/trainingplanview/show/{plan.id}").get_data(as_text=True)
    owner.post(f"/trainingplanview/edit/{plan.id}", data=_form(venue="补全后的场地"))
    owner.post(f"/trainingplanview/submit/{plan.id}")
    reviewer.post(f"/trainingplanview/approve/{plan.id}")
    assert _plans()[0].review_state == "approved"
    actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["plan.submit", "plan.reject", "plan.update", "plan.submit", "plan.approve"]


def test_only_the_city_authority_of_the_region_reviews(app, login_as, institution):
    plan = gen_plan(institution, review_state="submitted")
    ningbo = _client(app, login_as, gen_regulator("330200"))
    assert ningbo.post(f"/trainingplanview/approve/{plan.id}").status_code == 404
    province = _client(app, login_as, gen_regulator("330000", scope.PROVINCE_REGULATOR))
    assert province.post(f"/trainingplanview/approve/{plan.id}").status_code == 403
    owner = _client(app, login_as, gen_user(scope.INSTITUTION, institution_id=institution.id))
    assert owner.post(f"/trainingplanview/approve/{plan.id}").status_code == 403
    assert _plans()[0].review_state == "submitted"


def test_wrong_state_is_refused(app, login_as, institution):
    plan = gen_plan(institution, review_state="approved")
    reviewer = _client(app, login_as, gen_regulator("330100"))
    page = reviewer.post(f"/trainingplanview/approve/{plan.id}",
                         follow_redirects=True).get_data(as_text=True)
    assert "不在待审核状态" in page
    owner = _client(app, login_as, gen_user(scope.INSTITUTION, institution_id=institution.id))
    page = owner.post(f"/trainingplanview/submit/{plan.id}", follow_redirects=True).get_data(as_text=True)
    assert "只有草稿或已驳回" in page


def test_submitted_plan_cannot_be_edited(app, login_as, institution, frozen):
    plan = gen_plan(institution, review_state="submitted", venue="原场地")
    owner = _client(app, login_as, gen_user(scope.INSTITUTION, institution_id=institution.id))
    page = owner.post(f"/trainingplanview/edit/{plan.id}", data=_form(venue="新场地"),
                      follow_redirects=True).get_data(as_text=True)
    assert "正在审核中" in page
    assert _plans()[0].venue == "原场地"


def test_another_institution_cannot_edit_by_url(app, login_as, institution, frozen):
    plan = gen_plan(institution, venue="原场地")
    other = gen_institution("330100")
    client = _client(app, login_as, gen_user(scope.INSTITUTION, institution_id=other.id))
    assert client.get(f"/trainingplanview/edit/{plan.id}").status_code == 404
    assert client.post(f"/trainingplanview/edit/{plan.id}", data=_form()).status_code == 404
    assert client.post(f"/trainingplanview/submit/{plan.id}").status_code == 404
    assert _plans()[0].venue == "原场地"


def _approved_with_seats(institution, taken):
    return gen_plan(institution, review_state="approved", quota=30, seats_reserved=taken,
                    occupation_id=dictionary_value(Occupation, "架子工").id,
                    level_id=dictionary_value(OccupationLevel, "四级/中级工").id,
                    fee="880.50", enrol_start=dt.datetime(2026, 12, 5, 9),
                    enrol_end=dt.datetime(2026, 12, 20, 17), train_start=dt.date(2026, 12, 25),
                    train_end=dt.date(2027, 1, 10), venue="杭州市拱墅区实训中心",
                    contact="王老师 0571-1234")


def test_terms_are_frozen_once_trainees_hold_seats(app, login_as, institution, frozen):
    plan = _approved_with_seats(institution, 5)
    owner = _client(app, login_as, gen_user(scope.INSTITUTION, institution_id=institution.id))
    page = owner.post(f"/trainingplanview/edit/{plan.id}", data=_form(fee="999.00"),
                      follow_redirects=True).get_data(as_text=True)
    assert "已有学员报名" in page
    page = owner.post(f"/trainingplanview/edit/{plan.id}", data=_form(region="330200"),
                      follow_redirects=True).get_data(as_text=True)
    assert "已有学员报名" in page
    page = owner.post(f"/trainingplanview/edit/{plan.id}", data=_form(quota="4"),
                      follow_redirects=True).get_data(as_text=True)
    assert "名额不能少于已占用的 5 个名额" in page
    assert (str(_plans()[0].fee), _plans()[0].quota) == ("880.50", 30)
    owner.post(f"/trainingplanview/edit/{plan.id}", data=_form(quota="5"))
    assert (_plans()[0].quota, _plans()[0].review_state) == (5, "approved")
    owner.post(f"/trainingplanview/edit/{plan.id}", data=_form(quota="60"))
    assert (_plans()[0].quota, _plans()[0].review_state) == (60, "approved")


def test_changed_terms_without_trainees_go_back_to_review(app, login_as, institution, frozen):
    plan = _approved_with_seats(institution, 0)
    owner = _client(app, login_as, gen_user(scope.INSTITUTION, institution_id=institution.id))
    owner.post(f"/trainingplanview/edit/{plan.id}", data=_form(fee="900.00"))
    saved = _plans()[0]
    assert (str(saved.fee), saved.review_state) == ("900.00", "submitted")


def test_open_plans_are_what_an_approved_enterprise_can_enrol_in(app, login_as, institution,
                                                                 frozen):
    window = dict(enrol_start=T0 - dt.timedelta(days=1), enrol_end=T0 + dt.timedelta(days=5))
    gen_plan(institution, venue="可报名基地", **window)
    gen_plan(institution, venue="已满基地", quota=10, seats_paid=10, **window)
    gen_plan(institution, venue="待审基地", review_state="submitted", **window)
    gen_plan(institution, venue="未开始基地", enrol_start=T0 + dt.timedelta(days=1),
             enrol_end=T0 + dt.timedelta(days=5))
    gen_plan(institution, venue="已截止基地", enrol_start=T0 - dt.timedelta(days=9),
             enrol_end=T0 - dt.timedelta(seconds=1))
    gen_plan(gen_institution("330200"), venue="宁波基地", **window)
    approved = gen_enterprise("330100")
    page = _client(app, login_as, gen_user(scope.ENTERPRISE, enterprise_id=approved.id)).get(
        "/openplanview/list/").get_data(as_text=True)
    assert "可报名基地" in page and "宁波基地" in page
    for hidden in ("已满基地", "待审基地", "未开始基地", "已截止基地"):
        assert hidden not in page
    assert "下载《报名人员信息表》" in page and "295 × 413" in page
    pending = gen_enterprise("330100", review_state="pending")
    page = _client(app, login_as, gen_user(scope.ENTERPRISE, enterprise_id=pending.id)).get(
        "/openplanview/list/").get_data(as_text=True)
    assert "可报名基地" not in page


def test_open_plans_filter_by_occupation_and_city(app, login_as, institution, frozen):
    window = dict(enrol_start=T0 - dt.timedelta(days=1), enrol_end=T0 + dt.timedelta(days=5))
    mason = dictionary_value(Occupation, "砌筑工")
    gen_plan(institution, venue="钢筋基地", **window)
    gen_plan(institution, venue="砌筑基地", occupation_id=mason.id, **window)
    gen_plan(gen_institution("330200"), venue="宁波钢筋基地", **window)
    client = _client(app, login_as, gen_user(scope.ENTERPRISE,
                                             enterprise_id=gen_enterprise().id))
    page = client.get(f"/openplanview/list/?_flt_0_occupation={mason.id}").get_data(as_text=True)
    assert "砌筑基地" in page and "钢筋基地" not in page
    page = client.get("/openplanview/list/?_flt_0_region=330200").get_data(as_text=True)
    assert "宁波钢筋基地" in page and "砌筑基地" not in page


def test_regulators_see_phases_and_seats(app, login_as, institution, frozen):
    gen_plan(institution, venue="进行中基地", quota=40, seats_reserved=3, seats_paid=7,
             enrol_start=T0 - dt.timedelta(days=1), enrol_end=T0 + dt.timedelta(days=5))
    page = _client(app, login_as, gen_regulator("330100")).get(
        "/trainingplanview/list/").get_data(as_text=True)
    assert "进行中基地" in page and "报名中" in page and ">30<" in page.replace(" ", "")


def test_terms_are_frozen_once_anyone_is_enrolled(app, login_as, institution, frozen):
    from app import clock
    from models.enrolment import Enrolment, Person

    plan = _approved_with_seats(institution, 0)
    person = Person(id_number="330106199001011237", name="张三", gender="男",
                    birth_date=dt.date(1990, 1, 1), updated_at=clock.now())
    db.session.add(Enrolment(person=person, plan_id=plan.id, enterprise_id=gen_enterprise().id,
                             occupation_id=plan.occupation_id, level_id=plan.level_id,
                             mobile="13800138000", education_id=1, title_id=1,
                             created_at=clock.now()))
    db.session.commit()
    owner = _client(app, login_as, gen_user(scope.INSTITUTION, institution_id=institution.id))
    page = owner.post(f"/trainingplanview/edit/{plan.id}", data=_form(fee="999.00"),
                      follow_redirects=True).get_data(as_text=True)
    assert "已有学员报名" in page
    assert (str(_plans()[0].fee), _plans()[0].review_state) == ("880.50", "approved")


def test_moving_an_approved_plan_to_another_city_needs_its_review(app, login_as, institution,
                                                                  frozen):
    plan = _approved_with_seats(institution, 0)
    owner = _client(app, login_as, gen_user(scope.INSTITUTION, institution_id=institution.id))
    owner.post(f"/trainingplanview/edit/{plan.id}", data=_form(region="330200"))
    saved = _plans()[0]
    assert (saved.region_code, saved.review_state) == ("330200", "submitted")
