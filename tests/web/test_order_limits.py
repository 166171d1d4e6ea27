"""An enterprise cannot hold a plan's seats by ordering again and again without paying: after
ORDER_LAPSE_LIMIT unpaid lapses (expired or cancelled) in one plan within the window, it orders
again only once the window has passed, and is told when."""
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import scope
from app.extensions import db
from models.orders import Order
from models.training import TrainingPlan
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_user
from tests.helpers import path, visible_text
from tests.order_factories import gen_trainees

T0 = dt.datetime(2026, 11, 28, 10, 0)


@pytest.fixture
def world(app, login_as):
    app.config["CLOCK_FROZEN_AT"] = T0
    institution = gen_institution("330100")
    plan = gen_plan(institution, quota=5, fee=Decimal("680.00"),
                    enrol_start=T0 - dt.timedelta(days=1), enrol_end=T0 + dt.timedelta(days=10))
    enterprise = gen_enterprise("330100")
    gen_trainees(enterprise, plan, 5)  # the whole quota
    user = gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id)
    client = app.test_client()
    login_as(client, user)
    return {"app": app, "plan": plan, "enterprise": enterprise, "client": client,
            "institution": institution}


def _at(world, moment):
    world["app"].config["CLOCK_FROZEN_AT"] = moment


def _order(world):
    return world["client"].post(path("OrderView.create", plan_id=world["plan"].id),
                                follow_redirects=True)


def _orders(state=None) -> int:
    db.session.expire_all()
    query = select(func.count()).select_from(Order)
    if state:
        query = query.where(Order.state == state)
    return db.session.scalar(query)


def _seats_reserved(world) -> int:
    db.session.expire_all()
    return db.session.get(TrainingPlan, world["plan"].id).seats_reserved


def test_repeated_unpaid_expiries_block_reordering_until_the_window_passes(world):
    moment = T0
    for _ in range(3):  # hold the whole quota for an hour, let it lapse, order again
        _at(world, moment)
        assert "名学员生成订单" in visible_text(_order(world).get_data(as_text=True))
        assert _seats_reserved(world) == 5
        moment += dt.timedelta(minutes=61)
    _at(world, moment)  # the third order has expired: seats free, fourth order refused
    page = visible_text(_order(world).get_data(as_text=True))
    assert "已有 3 个订单在 24 小时内未支付即失效" in page
    # The window passes 24 hours after the oldest lapse (T0 + 60 minutes).
    assert "请于 2026-11-29 11:00 之后再下单" in page
    assert _orders() == 3 and _orders("expired") == 3 and _seats_reserved(world) == 0

    _at(world, T0 + dt.timedelta(hours=24, minutes=59))
    assert "未支付即失效" in visible_text(_order(world).get_data(as_text=True))
    _at(world, T0 + dt.timedelta(hours=25))
    assert "名学员生成订单" in visible_text(_order(world).get_data(as_text=True))
    assert _orders("pending") == 1 and _seats_reserved(world) == 5


def test_cancelling_counts_as_a_lapse_too(world):
    for minutes in (0, 10, 20):
        _at(world, T0 + dt.timedelta(minutes=minutes))
        _order(world)
        order = db.session.scalars(select(Order).where(Order.state == "pending")).one()
        world["client"].post(path("OrderView.cancel", pk=order.id))
    _at(world, T0 + dt.timedelta(minutes=30))
    page = visible_text(_order(world).get_data(as_text=True))
    assert "未支付即失效" in page and "请于 2026-11-29 10:00 之后再下单" in page
    assert _orders("closed") == 3 and _orders() == 3


def test_the_limit_is_per_plan_and_per_enterprise(world, login_as):
    for minutes in (0, 61, 122):
        _at(world, T0 + dt.timedelta(minutes=minutes))
        _order(world)
    _at(world, T0 + dt.timedelta(minutes=183))
    assert "未支付即失效" in visible_text(_order(world).get_data(as_text=True))

    other_plan = gen_plan(world["institution"], quota=5, enrol_start=T0 - dt.timedelta(days=1),
                          enrol_end=T0 + dt.timedelta(days=10))
    gen_trainees(world["enterprise"], other_plan, 2)
    response = world["client"].post(path("OrderView.create", plan_id=other_plan.id),
                                    follow_redirects=True)
    assert "名学员生成订单" in visible_text(response.get_data(as_text=True))

    neighbour = gen_enterprise("330100")
    gen_trainees(neighbour, world["plan"], 2)
    client = world["app"].test_client()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise_id=neighbour.id))
    response = client.post(path("OrderView.create", plan_id=world["plan"].id),
                           follow_redirects=True)
    assert "名学员生成订单" in visible_text(response.get_data(as_text=True))


def test_the_limit_comes_from_the_configuration(world):
    world["app"].config["ORDER_LAPSE_LIMIT"] = 1
    _order(world)
    _at(world, T0 + dt.timedelta(minutes=61))
    assert "已有 1 个订单" in visible_text(_order(world).get_data(as_text=True))
    assert _orders() == 1
