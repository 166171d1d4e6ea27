"""生成订单 and 订单: one order per enterprise's unordered trainees, seats held atomically,
cancelled orders give their seats back, and everyone sees only the orders in scope."""
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import scope
from app.extensions import db
from app.services import orders
from models.audit import AuditLog
from models.enrolment import Enrolment
from models.orders import Order, OrderItem
from models.training import TrainingPlan
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_regulator, gen_user
from tests.helpers import path, visible_text
from tests.order_factories import gen_order, gen_trainees

T0 = dt.datetime(2026, 11, 28, 10, 0)


@pytest.fixture
def world(app, login_as):
    app.config["CLOCK_FROZEN_AT"] = T0
    institution = gen_institution("330100")
    plan = gen_plan(institution, quota=10, fee=Decimal("680.00"),
                    enrol_start=T0 - dt.timedelta(days=1), enrol_end=T0 + dt.timedelta(days=10))
    enterprise = gen_enterprise("330100")
    user = gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id)
    client = app.test_client()
    login_as(client, user)
    return {"plan": plan, "enterprise": enterprise, "user": user, "client": client,
            "institution": institution}


def _plan(world) -> TrainingPlan:
    db.session.expire_all()
    return db.session.get(TrainingPlan, world["plan"].id)


def test_generate_order_reserves_seats_for_every_unordered_trainee(world):
    trainees = gen_trainees(world["enterprise"], world["plan"], 3)
    response = world["client"].post(path("OrderView.create", plan_id=world["plan"].id))
    order = db.session.scalars(select(Order)).one()
    assert response.status_code == 302 and response.location.endswith(f"/orders/show/{order.id}")
    assert order.state == "pending" and order.trainees == 3
    assert order.amount == Decimal("2040.00") and order.fee == Decimal("680.00")
    assert order.expires_at == T0 + dt.timedelta(minutes=60)
    assert order.out_trade_no.startswith("JP20261128100000")
    assert _plan(world).seats_reserved == 3 and _plan(world).seats_paid == 0
    assert {e.order_id for e in db.session.scalars(select(Enrolment))} == {order.id}
    assert sorted(i.enrolment_id for i in order.items) == sorted(t.id for t in trainees)
    assert db.session.scalars(select(AuditLog.action)).all() == ["order.create"]
    page = visible_text(world["client"].get(response.location).get_data(as_text=True))
    assert "待支付" in page and "60:00" in page and "2040.00" in page
    assert "用支付宝支付" in page and "取消订单" in page


def test_a_second_order_takes_only_the_trainees_added_since(world):
    gen_trainees(world["enterprise"], world["plan"], 2)
    orders.create_order(world["plan"].id, world["user"])
    gen_trainees(world["enterprise"], world["plan"], 1)
    second = orders.create_order(world["plan"].id, world["user"])
    assert second.trainees == 1 and _plan(world).seats_reserved == 3
    with pytest.raises(orders.OrderRefused, match="已在订单中"):
        orders.create_order(world["plan"].id, world["user"])


def test_missing_photos_block_the_order_and_say_who_misses_what(world):
    gen_trainees(world["enterprise"], world["plan"], 1)
    no_photo = gen_trainees(world["enterprise"], world["plan"], 1, photos=False)[0]
    page = visible_text(world["client"].get(
        path("EnrolmentView.plan", plan_id=world["plan"].id)).get_data(as_text=True))
    assert f"{no_photo.person.name}" in page and "仍缺" in page
    response = world["client"].post(path("OrderView.create", plan_id=world["plan"].id),
                                    follow_redirects=True)
    text = visible_text(response.get_data(as_text=True))
    assert "每位学员都需要上传一寸照片和身份证照片" in text
    assert f"{no_photo.person.name}" in text and "缺少一寸照片、身份证正面照" in text
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
    assert _plan(world).seats_reserved == 0


def test_too_few_seats_reserve_nothing_and_say_how_many_are_left(world):
    plan = world["plan"]
    other = gen_enterprise()
    gen_order(other, plan, 8, state="paid")
    gen_trainees(world["enterprise"], plan, 3)
    response = world["client"].post(path("OrderView.create", plan_id=plan.id),
                                    follow_redirects=True)
    assert "仅剩 2 个名额" in visible_text(response.get_data(as_text=True))
    assert db.session.scalar(select(func.count()).select_from(Order).where(
        Order.enterprise_id == world["enterprise"].id)) == 0
    assert _plan(world).seats_reserved == 0 and _plan(world).seats_paid == 8


def test_an_expired_order_no_longer_holds_seats_for_a_new_one(app, world):
    plan = world["plan"]
    gen_order(gen_enterprise(), plan, 9, state="pending", created_at=T0 - dt.timedelta(minutes=61))
    gen_trainees(world["enterprise"], plan, 3)
    order = orders.create_order(plan.id, world["user"])  # the stale hold lapses first
    assert order.trainees == 3 and _plan(world).seats_reserved == 3


def test_cancel_releases_seats_and_trainees(world):
    gen_trainees(world["enterprise"], world["plan"], 2)
    order = orders.create_order(world["plan"].id, world["user"])
    response = world["client"].post(path("OrderView.cancel", pk=order.id), follow_redirects=True)
    assert "订单已取消" in visible_text(response.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.get(Order, order.id).state == "closed"
    assert _plan(world).seats_reserved == 0
    assert all(e.order_id is None for e in db.session.scalars(select(Enrolment)))
    assert db.session.scalar(select(func.count()).select_from(OrderItem)) == 2  # history kept
    again = world["client"].post(path("OrderView.cancel", pk=order.id), follow_redirects=True)
    assert "只有未支付的订单可以取消" in visible_text(again.get_data(as_text=True))
    assert _plan(world).seats_reserved == 0  # released once
    assert orders.create_order(world["plan"].id, world["user"]).trainees == 2


def test_a_paid_order_cannot_be_cancelled(world):
    order = gen_order(world["enterprise"], world["plan"], 2, state="paid")
    with pytest.raises(orders.InvalidState):
        orders.cancel_order(order.id, world["user"])
    assert db.session.get(Order, order.id).state == "paid" and _plan(world).seats_paid == 2


def test_a_trainee_in_an_order_cannot_be_removed(world):
    trainee = gen_trainees(world["enterprise"], world["plan"], 1)[0]
    orders.create_order(world["plan"].id, world["user"])
    response = world["client"].post(path("EnrolmentView.remove", enrolment_id=trainee.id),
                                    data={"plan_id": world["plan"].id}, follow_redirects=True)
    assert "该学员已在订单中" in visible_text(response.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.get(Enrolment, trainee.id).status == "live"


def test_the_list_counts_down_and_shows_a_past_due_order_as_expired(app, world):
    gen_trainees(world["enterprise"], world["plan"], 1)
    order = orders.create_order(world["plan"].id, world["user"])
    app.config["CLOCK_FROZEN_AT"] = T0 + dt.timedelta(minutes=20)
    listing = world["client"].get(path("OrderView.list")).get_data(as_text=True)
    assert 'data-seconds="2400"' in listing and "待支付" in visible_text(listing)
    app.config["CLOCK_FROZEN_AT"] = T0 + dt.timedelta(minutes=60)  # the task has not run yet
    listing = visible_text(world["client"].get(path("OrderView.list")).get_data(as_text=True))
    assert "已过期" in listing and "待支付" not in listing
    paying = world["client"].post(path("OrderView.pay", pk=order.id), follow_redirects=True)
    assert "该订单已不能支付" in visible_text(paying.get_data(as_text=True))


def test_orders_are_seen_only_in_scope(app, world, login_as):
    mine = gen_order(world["enterprise"], world["plan"], 1, state="pending",
                     created_at=T0 - dt.timedelta(minutes=5))
    ningbo_plan = gen_plan(gen_institution("330200"))
    theirs = gen_order(gen_enterprise("330200"), ningbo_plan, 1, state="paid")
    client = world["client"]
    listing = client.get(path("OrderView.list")).get_data(as_text=True)
    assert mine.out_trade_no in listing and theirs.out_trade_no not in listing
    for endpoint in ("OrderView.pay", "OrderView.cancel"):
        assert client.post(path(endpoint, pk=theirs.id)).status_code == 404
    assert client.get(path("OrderView.show", pk=theirs.id)).status_code in (302, 404)
    assert db.session.get(Order, theirs.id).state == "paid"

    views = {
        "institution": gen_user(scope.INSTITUTION, institution_id=world["institution"].id),
        "hangzhou": gen_regulator("330100"),
        "ningbo": gen_regulator("330200"),
    }
    seen = {}
    for name, user in views.items():
        other = app.test_client()
        login_as(other, user)
        page = other.get(path("OrderView.list")).get_data(as_text=True)
        seen[name] = {mine.out_trade_no in page, theirs.out_trade_no in page}
        seen[name] = (mine.out_trade_no in page, theirs.out_trade_no in page)
        assert "用支付宝支付" not in other.get(path("OrderView.show", pk=mine.id)).get_data(
            as_text=True)
    assert seen == {"institution": (True, False), "hangzhou": (True, False),
                    "ningbo": (False, True)}


def test_the_enrolment_page_offers_the_order_with_its_amount(world):
    gen_trainees(world["enterprise"], world["plan"], 2)
    page = visible_text(world["client"].get(
        path("EnrolmentView.plan", plan_id=world["plan"].id)).get_data(as_text=True))
    assert "生成订单" in page and "1360.00" in page


def test_the_enterprise_downloads_the_invoice_from_the_order_page(app, world, login_as):
    from app.services import invoices

    order = gen_order(world["enterprise"], world["plan"], 2, state="paid",
                      paid_at=T0 - dt.timedelta(hours=2))
    page = visible_text(world["client"].get(path("OrderView.show", pk=order.id)).get_data(
        as_text=True))
    assert "电子发票将在支付次日生成" in page and "下载电子发票" not in page
    assert world["client"].get(path("OrderView.invoice", pk=order.id)).status_code == 404
    report = invoices.issue_invoices(T0.date() + dt.timedelta(days=1))
    assert len(report["issued"]) == 1
    number = report["issued"][0]
    page = visible_text(world["client"].get(path("OrderView.show", pk=order.id)).get_data(
        as_text=True))
    assert f"下载电子发票 {number}" in page
    pdf = world["client"].get(path("OrderView.invoice", pk=order.id))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF") and number in pdf.headers["Content-Disposition"]
    stranger = app.test_client()
    login_as(stranger, gen_user(scope.ENTERPRISE, enterprise_id=gen_enterprise().id))
    assert stranger.get(path("OrderView.invoice", pk=order.id)).status_code == 404
