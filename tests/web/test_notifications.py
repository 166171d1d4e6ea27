"""Notifications: each state change writes exactly one message; trainee SMS are previewed
exactly as sent, confirmed when repeated, held in quiet hours, capped per phone, retried and
then failed; mobiles are masked; an enterprise can notify only its own trainees."""
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import scope
from app.extensions import db
from app.integrations import sms
from app.services import (
    assessments,
    certificates,
    enterprises,
    inbox,
    invoices,
    notices,
    notifications,
    orders,
    plans,
)
from models.accounts import SmsMessage
from models.assessment import Score, ScoreReport
from models.notifications import Message, TraineeNotice
from tests.assessment_factories import gen_assessment, gen_finished_plan, gen_paid_trainees
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_regulator, gen_user
from tests.helpers import path, visible_text
from tests.order_factories import gen_order, gen_trainees

T0 = dt.datetime(2026, 11, 28, 10, 0)


def _messages(**where) -> list[Message]:
    db.session.expire_all()
    query = select(Message).order_by(Message.id)
    for key, value in where.items():
        query = query.where(getattr(Message, key) == value)
    return list(db.session.scalars(query))


def _outbox(phone=None) -> list[SmsMessage]:
    query = select(SmsMessage).order_by(SmsMessage.id)
    if phone:
        query = query.where(SmsMessage.phone == phone)
    return list(db.session.scalars(query))


@pytest.fixture
def clock_at(app):
    def _set(moment):
        app.config["CLOCK_FROZEN_AT"] = moment
    _set(T0)
    return _set


# Triggers -------------------------------------------------------------------------------------

def test_registration_review_tells_the_enterprise_once(app, clock_at):
    reviewer = gen_regulator("330000", scope.PROVINCE_REGULATOR)
    enterprise = gen_enterprise(review_state="pending", contact_mobile="13711112222",
                                reviewing_authority_id=reviewer.authority_id)
    enterprises.reject(enterprise.id, reviewer, "营业执照不清晰")
    notifications.deliver_due()
    notifications.deliver_due()  # the minute task again: nothing more
    [message] = _messages(enterprise_id=enterprise.id)
    assert "注册审核未通过：营业执照不清晰" in message.text and message.sms_state == "sent"
    assert [m.text for m in _outbox("13711112222")] == [message.text]


def test_reviews_waiting_reach_the_authority_and_returns_the_institution(app, clock_at):
    institution = gen_institution("330100")
    staff = gen_user(scope.INSTITUTION, institution_id=institution.id)
    plan = gen_plan(institution, review_state="draft")
    plans.submit(plan.id, staff)
    hangzhou = gen_regulator("330100")
    [waiting] = _messages(authority_id=hangzhou.authority_id)
    assert "待审核" in waiting.text and waiting.sms_state is None  # in-app only

    finished = gen_finished_plan(institution)
    gen_paid_trainees(finished, 2)
    assessment = gen_assessment(finished, state="reported")
    assessments.reject(assessment.id, hangzhou, "考场不合适")
    [returned] = _messages(institution_id=institution.id)
    assert "考场不合适" in returned.text
    assert len(_messages(authority_id=hangzhou.authority_id)) == 1


def test_tickets_scores_invoice_and_certificates_tell_the_enterprise(app, clock_at):
    enterprise = gen_enterprise(contact_mobile="13733334444")
    plan = gen_finished_plan(gen_institution("330100"))
    trainees = gen_paid_trainees(plan, 2, enterprise=enterprise)
    reviewer = gen_regulator("330100")
    assessment = gen_assessment(plan, state="reported")
    assessments.approve(assessment.id, reviewer)
    report = ScoreReport(assessment_id=assessment.id, state="accepted", imported_at=T0)
    report.scores = [Score(enrolment_id=t.id, theory=Decimal(90), practical=Decimal(90),
                           passed=True) for t in trainees]
    db.session.add(report)
    db.session.commit()
    clock_at(assessment.exam_end)  # scores are approved once the exam is over
    certificates.approve_scores(report.id, reviewer)  # certificates pushed inline in tests
    invoices.issue_invoices(T0.date() + dt.timedelta(days=1))
    texts = [m.text for m in _messages(enterprise_id=enterprise.id)]
    assert len(texts) == 4
    assert any("准考证已可下载" in t for t in texts)
    assert any("考核成绩已审核" in t for t in texts)
    assert any("2 本培训证书" in t for t in texts)
    assert any("电子发票" in t for t in texts)
    notifications.deliver_due()
    assert len(_outbox("13733334444")) == 4


def test_informational_sms_respect_the_opt_out(app, clock_at):
    enterprise = gen_enterprise(contact_mobile="13755556666", sms_opt_out=True)
    gen_order(enterprise, gen_plan(gen_institution()), 1, state="paid",
              paid_at=T0 - dt.timedelta(days=1))
    invoices.issue_invoices(T0.date())
    [message] = _messages(enterprise_id=enterprise.id)
    assert message.sms_state == "skipped"
    notifications.deliver_due()
    assert _outbox("13755556666") == []


def test_an_order_is_reminded_ten_minutes_before_it_expires_once(app, clock_at):
    enterprise = gen_enterprise(contact_mobile="13777778888")
    plan = gen_plan(gen_institution())
    gen_trainees(enterprise, plan, 1)
    order = orders.create_order(plan.id, gen_user(scope.ENTERPRISE,
                                                  enterprise_id=enterprise.id))
    clock_at(T0 + dt.timedelta(minutes=49))
    notifications.deliver_due()
    assert _messages(enterprise_id=enterprise.id) == []
    clock_at(T0 + dt.timedelta(minutes=50))
    notifications.deliver_due()
    clock_at(T0 + dt.timedelta(minutes=55))
    notifications.deliver_due()
    [reminder] = _messages(enterprise_id=enterprise.id)
    assert order.out_trade_no in reminder.text and "11:00" in reminder.text
    assert len(_outbox("13777778888")) == 1


# Trainee notices ------------------------------------------------------------------------------

@pytest.fixture
def class_(app, clock_at, login_as):
    enterprise = gen_enterprise()
    plan = gen_plan(gen_institution(), contact="王老师 0571-88886666")
    trainees = [item.enrolment for item in gen_order(enterprise, plan, 3).items]  # paid
    for i, trainee in enumerate(trainees):
        trainee.mobile = f"1390000000{i}"
    db.session.commit()
    user = gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id)
    client = app.test_client()
    login_as(client, user)
    return {"plan": plan, "trainees": trainees, "user": user, "client": client}


def test_the_preview_is_exactly_what_is_sent(class_):
    client, plan, trainees = class_["client"], class_["plan"], class_["trainees"]
    ids = [t.id for t in trainees]
    page = client.post(path("EnrolledView.notify_preview", plan_id=plan.id),
                       data={"ids": ids, "kind": "training"}).get_data(as_text=True)
    previewed = notices.preview(class_["user"], ids, "training")
    for item in previewed:
        assert item.text in page and "王老师 0571-88886666" in item.text
    assert "139****0000" in visible_text(page) and "13900000000" not in page
    client.post(path("EnrolledView.notify_send", plan_id=plan.id),
                data={"ids": ids, "kind": "training"})
    sent = {m.phone: m.text for m in _outbox()}
    assert sent == {item.enrolment.mobile: item.text for item in previewed}
    rows = db.session.scalars(select(TraineeNotice)).all()
    assert {n.state for n in rows} == {"sent"} and len(rows) == 3
    detail = visible_text(client.get(path("TraineeView.detail", enrolment_id=ids[0])).get_data(
        as_text=True))
    assert "培训通知" in detail and "已发送" in detail and "139****0000" in detail


def test_sending_again_asks_for_confirmation(class_):
    user, trainee = class_["user"], class_["trainees"][0]
    notices.send(user, [trainee.id], "training")
    with pytest.raises(notices.NeedsConfirmation) as asked:
        notices.send(user, [trainee.id], "training")
    assert asked.value.names == [trainee.person.name]
    page = class_["client"].post(path("EnrolledView.notify_send", plan_id=class_["plan"].id),
                                 data={"ids": [trainee.id], "kind": "training"})
    assert "部分学员已收到过该通知" in visible_text(page.get_data(as_text=True))
    assert db.session.scalar(select(func.count()).select_from(TraineeNotice)) == 1
    notices.send(user, [trainee.id], "training", confirm_repeat=True)
    assert db.session.scalar(select(func.count()).select_from(TraineeNotice)) == 2


def test_quiet_hours_hold_trainee_sms_until_morning(class_, clock_at):
    clock_at(dt.datetime(2026, 11, 28, 22, 30))
    notices.send(class_["user"], [class_["trainees"][0].id], "training")
    notice = db.session.scalars(select(TraineeNotice)).one()
    assert notice.state == "queued" and notice.send_after == dt.datetime(2026, 11, 29, 8, 0)
    clock_at(dt.datetime(2026, 11, 29, 7, 59))
    notifications.deliver_due()
    assert _outbox() == []
    clock_at(dt.datetime(2026, 11, 29, 8, 0))
    notifications.deliver_due()
    db.session.expire_all()
    assert db.session.get(TraineeNotice, notice.id).state == "sent" and len(_outbox()) == 1


def test_a_failing_provider_is_retried_then_failed(class_, monkeypatch):
    class Down:
        accepted_state, batch_max = "submitted", 100

        def send(self, *args):
            raise ConnectionError("provider unreachable")

    monkeypatch.setattr(sms, "backend", lambda: Down())
    notices.send(class_["user"], [class_["trainees"][0].id], "training")
    notice = db.session.scalars(select(TraineeNotice)).one()
    db.session.expire_all()
    assert (notice.state, notice.attempts) == ("queued", 1)
    notifications.deliver_due()
    notifications.deliver_due()
    db.session.expire_all()
    notice = db.session.get(TraineeNotice, notice.id)
    assert (notice.state, notice.attempts) == ("failed", 3)
    assert "provider unreachable" in notice.last_error
    notifications.deliver_due()
    db.session.expire_all()
    assert db.session.get(TraineeNotice, notice.id).attempts == 3  # failed stays failed


def test_a_phone_gets_at_most_the_daily_cap(app, class_):
    app.config["SMS_DAILY_CAP"] = 2
    trainee = class_["trainees"][0]
    for _ in range(3):
        notices.send(class_["user"], [trainee.id], "training", confirm_repeat=True)
    states = sorted(n.state for n in db.session.scalars(select(TraineeNotice)))
    assert states == ["queued", "sent", "sent"] and len(_outbox(trainee.mobile)) == 2


def test_an_enterprise_notifies_only_its_own_trainees(app, class_):
    stranger = gen_trainees(gen_enterprise(), class_["plan"], 1)[0]
    with pytest.raises(notices.NotFound):
        notices.preview(class_["user"], [class_["trainees"][0].id, stranger.id], "training")
    response = class_["client"].post(path("EnrolledView.notify_send", plan_id=class_["plan"].id),
                                     data={"ids": [stranger.id], "kind": "training"})
    assert response.status_code == 404 and _outbox() == []


def test_the_exam_notice_needs_an_admission_ticket(app, clock_at):
    enterprise = gen_enterprise()
    plan = gen_finished_plan(gen_institution("330100"))
    trainee = gen_paid_trainees(plan, 1, enterprise=enterprise)[0]
    user = gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id)
    [item] = notices.preview(user, [trainee.id], "exam")
    assert item.text is None and "尚无准考证" in item.reason
    assessment = gen_assessment(plan, state="reported")
    assessments.approve(assessment.id, gen_regulator("330100"))
    [item] = notices.preview(user, [trainee.id], "exam")
    assert "准考证号ZK" in item.text and "实训基地考场" in item.text


def test_the_top_bar_counts_unread_messages(app, clock_at, login_as):
    enterprise = gen_enterprise(review_state="pending")
    reviewer = gen_regulator("330000", scope.PROVINCE_REGULATOR)
    enterprise.reviewing_authority_id = reviewer.authority_id
    db.session.commit()
    enterprises.approve(enterprise.id, reviewer)
    client = app.test_client()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    home = client.get("/").get_data(as_text=True)
    assert 'id="unread">1<' in home
    inbox = visible_text(client.get(path("MessageView.inbox")).get_data(as_text=True))
    assert "注册审核已通过" in inbox
    client.post(path("MessageView.read_all"))
    assert 'id="unread"' not in client.get("/").get_data(as_text=True)


def test_the_enterprise_turns_informational_sms_off(app, clock_at, login_as):
    enterprise = gen_enterprise()
    client = app.test_client()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    client.post(path("MyEnterpriseView.sms_preference"), data={"opt_out": "1"})
    db.session.expire_all()
    assert db.session.get(type(enterprise), enterprise.id).sms_opt_out is True
    client.post(path("MyEnterpriseView.sms_preference"), data={})
    db.session.expire_all()
    assert db.session.get(type(enterprise), enterprise.id).sms_opt_out is False


def test_a_message_opens_the_page_it_names(app, clock_at, login_as):
    """Services name the page (views/links.py builds its URL); a message stored with a path
    before that keeps its link, and an unknown page shows no link."""
    from views.links import PAGES, page_url

    enterprise = gen_enterprise(review_state="pending")
    reviewer = gen_regulator("330000", scope.PROVINCE_REGULATOR)
    enterprise.reviewing_authority_id = reviewer.authority_id
    db.session.commit()
    enterprises.approve(enterprise.id, reviewer)
    [message] = _messages(enterprise_id=enterprise.id)
    assert message.link == "my_enterprise"
    for key, link in (("old", "/orders/show/7"), ("gone", "no_such_page:3")):
        inbox.post(key, "%(name)s is waiting for registration review.",
                   enterprise=enterprise, link=link, name="x")
    db.session.commit()
    client = app.test_client()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    page = client.get(path("MessageView.inbox")).get_data(as_text=True)
    assert f'<a href="{path("MyEnterpriseView.info")}">' in page
    assert '<a href="/orders/show/7">' in page
    assert page.count("<a href=", page.index('id="message-list"')) == 2
    with app.test_request_context():
        assert page_url("order", 5) == path("OrderView.show", pk=5)
        for target, (endpoint, argument) in PAGES.items():  # every page resolves
            assert page_url(target, 1 if argument else None)
