"""订单支付 through the Alipay protocol against the built-in gateway simulator: the cashier,
the signed notification (verified, checked, settled once), the return page, expiry with the
gateway's trade closed, and a late payment that is either taken or refunded."""
import datetime as dt
import urllib.parse
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import scope
from app.extensions import db
from app.integrations import alipay, alipay_sim
from app.integrations.alipay_sim import SimulatedTrade
from app.services import orders
from models.audit import AuditLog
from models.enrolment import Enrolment
from models.orders import Order, PaymentNotice
from models.training import TrainingPlan
from tasks.payments import expire_orders
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_user
from tests.helpers import path, visible_text
from tests.order_factories import gen_trainees

T0 = dt.datetime(2026, 11, 28, 10, 0)


@pytest.fixture
def world(app, login_as):
    app.config["CLOCK_FROZEN_AT"] = T0
    plan = gen_plan(gen_institution("330100"), quota=5, fee=Decimal("680.00"),
                    enrol_start=T0 - dt.timedelta(days=1), enrol_end=T0 + dt.timedelta(days=10))
    enterprise = gen_enterprise("330100")
    user = gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id)
    client = app.test_client()
    login_as(client, user)
    gen_trainees(enterprise, plan, 2)
    order = orders.create_order(plan.id, user)
    return {"plan": plan, "enterprise": enterprise, "user": user, "client": client,
            "order": order}


def _local(url: str) -> str:
    assert url.startswith("http://localhost/")
    return url[len("http://localhost"):]


def _open_cashier(world):
    """Pay → the browser goes to the gateway with a signed page-pay request."""
    response = world["client"].post(path("OrderView.pay", pk=world["order"].id))
    assert response.status_code == 302
    return world["client"].get(_local(response.location))


def _fresh(model, pk):
    db.session.expire_all()
    return db.session.get(model, pk)


def _plan(world) -> TrainingPlan:
    return _fresh(TrainingPlan, world["plan"].id)


def _paid_trade(order: Order) -> SimulatedTrade:
    """The simulator's record of a trade the buyer has paid (its notification not yet sent)."""
    trade = SimulatedTrade(out_trade_no=order.out_trade_no, app_id="2021000100000001",
                           subject="培训费", total_amount=order.amount, status="TRADE_SUCCESS",
                           trade_no=f"2026112822001{order.id:08d}", created_at=T0, paid_at=T0,
                           notify_url=alipay.notify_url())
    db.session.add(trade)
    db.session.commit()
    return trade


def _notify(client, fields):
    return client.post("/pay/notify", data=fields)


def test_pay_in_the_simulator_and_the_notification_marks_the_order_paid(world):
    cashier = _open_cashier(world)
    page = visible_text(cashier.get_data(as_text=True))
    assert cashier.status_code == 200 and "支付宝收银台（模拟器）" in page and "1360.00" in page
    order = world["order"]
    trade = db.session.get(SimulatedTrade, order.out_trade_no)
    assert trade.status == "WAIT_BUYER_PAY" and trade.time_expire == order.expires_at
    assert trade.notify_url == "http://localhost/pay/notify"
    paid = world["client"].post(f"/alipay-sim/cashier/{order.out_trade_no}",
                                data={"action": "pay"})
    assert paid.status_code == 302 and "/orders/return/" in paid.location
    order = _fresh(Order, order.id)
    assert order.state == "paid" and order.paid_at == T0 and order.trade_no == trade.trade_no
    assert (_plan(world).seats_reserved, _plan(world).seats_paid) == (0, 2)
    notice = db.session.scalars(select(PaymentNotice)).one()
    assert notice.outcome == "paid" and order.out_trade_no in notice.raw
    back = world["client"].get(_local(paid.location), follow_redirects=True)
    text = visible_text(back.get_data(as_text=True))
    assert "已收到付款" in text and "已支付" in text
    assert "order.paid" in db.session.scalars(select(AuditLog.action)).all()


def test_the_return_page_alone_marks_nothing_paid(world):
    _open_cashier(world)
    order = world["order"]
    forged = {"out_trade_no": order.out_trade_no, "trade_no": "2026000000", "total_amount":
              "1360.00", "method": "alipay.trade.page.pay.return", "sign": "AAAA"}
    response = world["client"].get(path("OrderView.paid_return", pk=order.id) + "?"
                                   + urllib.parse.urlencode(forged), follow_redirects=True)
    assert "尚未收到支付确认" in visible_text(response.get_data(as_text=True))
    assert _fresh(Order, order.id).state == "pending"
    assert _plan(world).seats_paid == 0


def test_a_lost_notification_is_made_good_by_the_trade_query(world, monkeypatch):
    _open_cashier(world)
    monkeypatch.setattr(alipay_sim, "deliver_notification", lambda trade: "")
    paid = world["client"].post(f"/alipay-sim/cashier/{world['order'].out_trade_no}",
                                data={"action": "pay"})
    assert _fresh(Order, world["order"].id).state == "pending"
    world["client"].get(_local(paid.location))
    assert _fresh(Order, world["order"].id).state == "paid"
    assert db.session.scalars(select(PaymentNotice.reason)).all() == ["query"]


def test_replayed_notifications_change_nothing_more(world):
    fields = alipay_sim.notification_fields(_paid_trade(world["order"]))
    replies = [_notify(world["client"], fields).get_data(as_text=True) for _ in range(5)]
    assert replies == ["success"] * 5
    assert (_plan(world).seats_reserved, _plan(world).seats_paid) == (0, 2)
    outcomes = db.session.scalars(select(PaymentNotice.outcome).order_by(PaymentNotice.id)).all()
    assert outcomes == ["paid"] + ["duplicate"] * 4
    assert db.session.scalars(select(AuditLog.action).where(
        AuditLog.action.like("order.%paid"))).all() == ["order.paid"]


@pytest.mark.parametrize("tamper, reason", [
    (lambda f: {**f, "total_amount": "0.01"}, "signature"),  # changed after signing
    (lambda f: alipay_sim.sign_notification({k: v for k, v in f.items() if k != "sign"}
                                            | {"total_amount": "0.01"}), "total_amount"),
    (lambda f: alipay_sim.sign_notification({k: v for k, v in f.items() if k != "sign"}
                                            | {"app_id": "2021999999999999"}), "app_id"),
    (lambda f: alipay_sim.sign_notification({k: v for k, v in f.items() if k != "sign"}
                                            | {"out_trade_no": "JP000"}), "out_trade_no"),
    (lambda f: {**f, "sign_type": "RSA"}, "RSA2"),
    (lambda f: {k: v for k, v in f.items() if k != "sign"}, "signature"),
])
def test_forged_or_mismatched_notifications_change_nothing(world, caplog, tamper, reason):
    fields = tamper(alipay_sim.notification_fields(_paid_trade(world["order"])))
    response = _notify(world["client"], fields)
    assert response.status_code == 400 and response.get_data(as_text=True) != "success"
    assert _fresh(Order, world["order"].id).state == "pending"
    assert (_plan(world).seats_reserved, _plan(world).seats_paid) == (2, 0)
    notice = db.session.scalars(select(PaymentNotice)).one()
    assert notice.outcome == "rejected" and reason in notice.reason
    assert "PAYMENT ALERT" in caplog.text
    assert "payment.rejected" in db.session.scalars(select(AuditLog.action)).all()


def test_the_notify_endpoint_alone_skips_login_and_csrf(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    assert client.post("/pay/notify", data={"out_trade_no": "x"}).status_code == 400  # not 302/CSRF
    cashier = client.post("/alipay-sim/cashier/JP1", data={"action": "pay"})
    assert cashier.status_code == 400  # the CSRF check still guards every other form
    assert client.post("/orders/cancel/1").status_code in (302, 400)


def test_expiry_releases_seats_once_and_closes_the_trade(app, world):
    _open_cashier(world)
    order = world["order"]
    app.config["CLOCK_FROZEN_AT"] = T0 + dt.timedelta(minutes=59)
    assert expire_orders.call_local() == {"expired": 0, "refunded": 0}
    app.config["CLOCK_FROZEN_AT"] = T0 + dt.timedelta(minutes=60)
    assert expire_orders.call_local() == {"expired": 1, "refunded": 0}
    assert expire_orders.call_local() == {"expired": 0, "refunded": 0}
    assert _fresh(Order, order.id).state == "expired"
    assert _plan(world).seats_reserved == 0
    assert db.session.get(SimulatedTrade, order.out_trade_no).status == "TRADE_CLOSED"
    assert all(e.order_id is None for e in db.session.scalars(select(Enrolment)))
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "order.expire")) == 1
    cashier = world["client"].get(f"/orders/show/{order.id}")
    assert "已过期" in visible_text(cashier.get_data(as_text=True))


def test_a_payment_made_in_the_last_second_is_taken_when_expiry_closes(app, world, monkeypatch):
    _open_cashier(world)
    monkeypatch.setattr(alipay_sim, "deliver_notification", lambda trade: "")  # it is late
    world["client"].post(f"/alipay-sim/cashier/{world['order'].out_trade_no}",
                         data={"action": "pay"})
    app.config["CLOCK_FROZEN_AT"] = T0 + dt.timedelta(minutes=61)
    expire_orders.call_local()  # close fails (paid), the query finds the payment
    order = _fresh(Order, world["order"].id)
    assert order.state == "paid" and order.refund_state is None
    assert (_plan(world).seats_reserved, _plan(world).seats_paid) == (0, 2)


def test_a_late_payment_without_seats_is_refunded(app, world, monkeypatch):
    _open_cashier(world)
    order = world["order"]
    monkeypatch.setattr(alipay_sim, "deliver_notification", lambda trade: "")
    world["client"].post(f"/alipay-sim/cashier/{order.out_trade_no}", data={"action": "pay"})
    fields = alipay_sim.notification_fields(db.session.get(SimulatedTrade, order.out_trade_no))
    # The gateway cannot be reached while the order expires, then others take every seat.
    monkeypatch.setattr(alipay, "close", _unreachable)
    monkeypatch.setattr(alipay, "query", _unreachable)
    app.config["CLOCK_FROZEN_AT"] = T0 + dt.timedelta(minutes=61)
    assert expire_orders.call_local()["expired"] == 1
    monkeypatch.undo()
    other = gen_enterprise()
    gen_trainees(other, world["plan"], 5)
    orders.create_order(world["plan"].id, gen_user(scope.ENTERPRISE, enterprise_id=other.id))

    assert _notify(world["client"], fields).get_data(as_text=True) == "success"
    order = _fresh(Order, order.id)
    assert order.state == "expired" and order.refund_state == "refunded"
    assert order.trade_no and order.refunded_at is not None
    assert (_plan(world).seats_reserved, _plan(world).seats_paid) == (5, 0)
    assert db.session.get(SimulatedTrade, order.out_trade_no).refunded == Decimal("1360.00")
    assert _notify(world["client"], fields).get_data(as_text=True) == "success"  # a replay
    assert db.session.get(SimulatedTrade, order.out_trade_no).refunded == Decimal("1360.00")
    shown = visible_text(world["client"].get(f"/orders/show/{order.id}").get_data(as_text=True))
    assert "已过期" in shown and "已退款" in shown
    actions = db.session.scalars(select(AuditLog.action)).all()
    assert actions.count("order.refund") == 1 and actions.count("order.refunded") == 1


def test_a_late_payment_with_seats_left_is_taken(app, world, monkeypatch):
    order = world["order"]
    fields = alipay_sim.notification_fields(_paid_trade(order))
    app.config["CLOCK_FROZEN_AT"] = T0 + dt.timedelta(minutes=61)
    monkeypatch.setattr(alipay, "close", _unreachable)
    monkeypatch.setattr(alipay, "query", _unreachable)
    orders.expire_due()
    monkeypatch.undo()
    assert _notify(world["client"], fields).get_data(as_text=True) == "success"
    order = _fresh(Order, order.id)
    assert order.state == "paid" and order.refund_state is None
    assert (_plan(world).seats_reserved, _plan(world).seats_paid) == (0, 2)
    assert {e.order_id for e in db.session.scalars(select(Enrolment))} == {order.id}
    assert db.session.scalars(select(PaymentNotice.outcome)).all() == ["late_paid"]


def test_the_simulator_refuses_payment_after_the_deadline(app, world):
    _open_cashier(world)
    app.config["CLOCK_FROZEN_AT"] = T0 + dt.timedelta(minutes=60)
    page = world["client"].post(f"/alipay-sim/cashier/{world['order'].out_trade_no}",
                                data={"action": "pay"})
    assert "该交易已关闭" in visible_text(page.get_data(as_text=True))
    assert _fresh(Order, world["order"].id).state == "pending"  # until the expiry task runs


def test_the_gateway_refuses_a_request_not_signed_by_our_key(world):
    response = world["client"].post(path("OrderView.pay", pk=world["order"].id))
    tampered = response.location.replace("1360.00", "1.00")
    answer = world["client"].get(_local(tampered))
    assert "isv.invalid-signature" in answer.get_data(as_text=True)
    assert db.session.get(SimulatedTrade, world["order"].out_trade_no) is None


def _unreachable(*_args, **_kwargs):
    raise alipay.GatewayError("gateway unreachable")
