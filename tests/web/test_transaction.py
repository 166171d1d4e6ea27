"""One unit of work per service call (app/services/transaction.py): the outermost call
commits or rolls back, nested calls join it, after-commit work runs only once it is committed,
and no service throws away what its caller had pending. Creating an order touches other
enterprises' lapsed orders only through one conditional UPDATE, never through the gateway."""
import datetime as dt
from decimal import Decimal

import pytest
from flask import current_app
from sqlalchemy import func, select

from app import scope
from app.extensions import db
from app.integrations import alipay
from app.integrations.alipay_sim import SimulatedTrade
from app.services import audit, orders
from app.services.transaction import after_commit, after_rollback, transaction, transactional
from models.audit import AuditLog
from models.orders import Order
from models.training import TrainingPlan
from tasks.payments import expire_orders
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_user
from tests.helpers import path, visible_text
from tests.order_factories import gen_trainees

T0 = dt.datetime(2026, 11, 28, 10, 0)


def _committed(action: str) -> int:
    """Audit rows of `action` that another session (another request) can see."""
    with current_app.app_context():  # a new app context: its own session and connection
        return db.session.scalar(select(func.count()).select_from(AuditLog)
                                 .where(AuditLog.action == action))


def _mine(action: str) -> int:
    """Audit rows of `action` this session sees, pending ones included."""
    return db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == action))


class Boom(Exception):
    pass


@transactional
def note(text: str, fail: bool = False) -> None:
    audit.record("test.note", after={"text": text})
    if fail:
        raise Boom(text)


# The unit of work ---------------------------------------------------------------------------

def test_the_outermost_call_commits(app):
    note("a")
    assert _committed("test.note") == 1


def test_an_error_rolls_back_and_leaves_the_database_unchanged(app):
    with pytest.raises(Boom):
        note("b", fail=True)
    assert _committed("test.note") == 0 and _mine("test.note") == 0


def test_a_nested_call_joins_the_outer_unit(app):
    seen = []

    @transactional
    def outer() -> None:
        note("inner")
        seen.append(_committed("test.note"))  # the inner call did not commit
        note("second")

    outer()
    assert seen == [0] and _committed("test.note") == 2


def test_an_error_in_a_nested_call_rolls_back_everything(app):
    @transactional
    def outer() -> None:
        note("first")
        note("inner", fail=True)

    with pytest.raises(Boom):
        outer()
    assert _committed("test.note") == 0 and _mine("test.note") == 0
    note("after")  # the session is usable again, and counts from zero
    assert _committed("test.note") == 1


def test_after_commit_runs_once_committed_and_never_after_a_rollback(app):
    ran = []

    @transactional
    def work(fail: bool) -> None:
        audit.record("test.note")
        after_commit(lambda: ran.append(("commit", _committed("test.note"))))
        after_rollback(lambda: ran.append(("rollback", _committed("test.note"))))
        note("nested")  # joins: its commit is the outer one
        assert ran == []
        if fail:
            raise Boom()

    work(False)
    assert ran == [("commit", 2)]  # ran after the commit: another session saw both rows
    ran.clear()
    with pytest.raises(Boom):
        work(True)
    assert ran == [("rollback", 2)]  # the commit callback was dropped
    with pytest.raises(RuntimeError):
        after_commit(print, "outside any unit of work")


def test_a_with_block_is_a_unit_too(app):
    with pytest.raises(Boom):
        with transaction():
            note("in a block")
            raise Boom()
    assert _mine("test.note") == 0
    with transaction():
        note("kept")
        assert _committed("test.note") == 0
    assert _committed("test.note") == 1


# Services keep their caller's pending work ---------------------------------------------------

@pytest.fixture
def world(app, login_as):
    app.config["CLOCK_FROZEN_AT"] = T0
    institution = gen_institution("330100")
    window = dict(enrol_start=T0 - dt.timedelta(days=1), enrol_end=T0 + dt.timedelta(days=10))
    plan = gen_plan(institution, quota=5, fee=Decimal("680.00"), **window)
    other_plan = gen_plan(institution, quota=5, fee=Decimal("680.00"), **window)
    late, other = gen_enterprise("330100"), gen_enterprise("330100")
    gen_trainees(late, plan, 3)
    gen_trainees(late, other_plan, 1)
    gen_trainees(other, plan, 2)
    late_user = gen_user(scope.ENTERPRISE, enterprise_id=late.id)
    lapsing = orders.create_order(plan.id, late_user)
    elsewhere = orders.create_order(other_plan.id, late_user)
    client = app.test_client()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise_id=other.id))
    return {"app": app, "plan": plan, "lapsing": lapsing.id, "elsewhere": elsewhere.id,
            "client": client}


def _order(order_id: int) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order_id)


@pytest.mark.parametrize("service", ["expire", "settle"])
def test_a_service_keeps_the_work_its_caller_has_pending(world, service):
    """expire_due and settle began with a rollback, which threw away the caller's work."""
    world["app"].config["CLOCK_FROZEN_AT"] = T0 + dt.timedelta(minutes=61)
    audit.record("test.pending")  # the caller's work, not flushed nor committed
    if service == "expire":
        orders.expire_due()
    else:
        orders.settle(world["lapsing"], "2026112822001234567890", "{}", source="test")
    assert _committed("test.pending") == 1
    assert _order(world["lapsing"]).state == ("expired" if service == "expire" else "paid")


def test_a_service_inside_a_unit_that_fails_is_rolled_back_with_it(world):
    user = gen_user(scope.ENTERPRISE, enterprise_id=_order(world["lapsing"]).enterprise_id)
    with pytest.raises(Boom):
        with transaction():
            orders.cancel_order(world["lapsing"], user)
            assert _committed("order.cancel") == 0
            raise Boom()
    order = _order(world["lapsing"])
    assert order.state == "pending" and _mine("order.cancel") == 0
    assert db.session.get(TrainingPlan, world["plan"].id).seats_reserved == 3


# Creating an order -----------------------------------------------------------------------------

def test_creating_an_order_frees_lapsed_seats_without_calling_the_gateway(world, monkeypatch):
    called = []

    def gateway(*args, **kwargs):
        called.append(args)
        raise AssertionError("a request must not call the gateway for other orders")

    monkeypatch.setattr(alipay, "close", gateway)
    monkeypatch.setattr(alipay, "query", gateway)
    world["app"].config["CLOCK_FROZEN_AT"] = T0 + dt.timedelta(minutes=61)

    page = world["client"].post(path("OrderView.create", plan_id=world["plan"].id),
                                follow_redirects=True)
    assert "名学员生成订单" in visible_text(page.get_data(as_text=True))
    assert called == []
    lapsed = _order(world["lapsing"])
    # The conditional UPDATE expired the other enterprise's order in this plan and gave its
    # three seats back; the gateway is not told yet (closed_at empty), its lapse is audited.
    assert lapsed.state == "expired" and lapsed.closed_at is None
    assert db.session.get(TrainingPlan, world["plan"].id).seats_reserved == 2
    assert _committed("order.expire") == 1
    assert _order(world["elsewhere"]).state == "pending"  # another plan: not this request's
    world["app"].config["ORDER_LAPSE_LIMIT"] = 1  # the lapse counts like one the task made
    window = dt.timedelta(hours=float(world["app"].config["ORDER_LAPSE_WINDOW_HOURS"]))
    assert orders.ordering_blocked_until(lapsed.plan_id, lapsed.enterprise_id) \
        == lapsed.expires_at + window

    monkeypatch.undo()
    assert expire_orders.call_local() == {"expired": 1, "refunded": 0}  # the other plan's
    lapsed = _order(world["lapsing"])
    assert lapsed.state == "expired" and lapsed.closed_at is not None  # the task told the gateway
    assert _committed("order.expire") == 2  # one row per lapsed order, never two
    assert db.session.get(SimulatedTrade, lapsed.out_trade_no) is None  # never opened: no trade
    assert expire_orders.call_local() == {"expired": 0, "refunded": 0}


def _second_connection_can_take(enterprise_id: int) -> bool:
    """Whether another connection could lock the enterprise's row right now (without waiting)."""
    import sqlalchemy as sa

    engine = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool,
                              **({"connect_args": {"timeout": 0.2}}
                                 if db.engine.dialect.name == "sqlite" else {}))
    try:
        with engine.begin() as other:
            if engine.dialect.name == "sqlite":
                other.execute(sa.text("UPDATE enterprise SET id = id WHERE id = :id"),
                              {"id": enterprise_id})
            else:
                other.execute(sa.text("SELECT id FROM enterprise WHERE id = :id FOR UPDATE NOWAIT"),
                              {"id": enterprise_id})
        return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def test_lock_holds_the_row_until_the_unit_of_work_ends(app):
    from app.services.transaction import lock
    from models.organisation import Enterprise

    enterprise = gen_enterprise()
    db.session.commit()
    enterprise_id = enterprise.id
    with pytest.raises(RuntimeError):
        lock(Enterprise, enterprise_id)
    db.session.rollback()
    assert _second_connection_can_take(enterprise_id)
    with transaction():
        held = lock(Enterprise, enterprise_id)
        assert held.id == enterprise_id
        assert not _second_connection_can_take(enterprise_id)
    assert _second_connection_can_take(enterprise_id)
