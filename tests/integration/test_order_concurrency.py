"""Orders under real concurrency: seats are never oversold, a payment is taken once, seats are
released once, and forged notifications change nothing.

Real threads, each with its own app context, session and database connection, released
together by a barrier; the same tests run on SQLite (WAL, one writer at a time) and on
PostgreSQL (DATABASE_URL, READ COMMITTED, row locks). What they prove:

* 200 simultaneous order attempts on a 50-seat plan reserve exactly 50 seats; every other
  attempt is refused cleanly (orders.OrderRefused with the Chinese seats message), never with
  a database error. `oversell_violations` checks this from the database's rows, and a naive
  read-then-write reservation (SELECT seats left, then write "what I read + n") run through
  the same check is caught, so the check can see an oversell.
* The same paid notification delivered 10 times at once pays the order once: one state
  change, one audit row, one "paid" notice and nine "duplicate" ones, and one e-invoice.
* Two expiry runs at once release each order's seats once (the CHECK constraint would also
  refuse a negative count).
* A notification racing expiry at the 60-minute mark has exactly one outcome per order, in
  either order of arrival, and the plan's seat counts equal its live orders' trainees.
* A notification with a tampered amount, or one correctly signed for another app_id, is
  answered "failure" and changes nothing but the rejected notice it leaves.
"""
import datetime as dt
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pytest
from flask import current_app
from sqlalchemy import func, select, update

from app import scope
from app.extensions import db
from app.integrations import alipay_sim
from app.integrations.alipay_sim import SimulatedTrade
from app.services import DomainError, orders
from models.audit import AuditLog
from models.enrolment import Enrolment
from models.orders import Invoice, Order, PaymentNotice
from models.training import TrainingPlan
from models.user import JianpeiUser
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_user
from tests.order_factories import gen_trainees

NOW = dt.datetime(2026, 11, 28, 10, 0)
WORKERS = 25  # 200 attempts = 8 waves of 25 threads released together
FOREIGN_APP_ID = "2021999999999999"


@pytest.fixture
def app(make_app):
    """An app whose connection pool lets every worker thread hold a connection at once."""
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": WORKERS + 5, "max_overflow": 5,
                                              "pool_timeout": 60})
    app.config["CLOCK_FROZEN_AT"] = NOW
    with app.app_context():
        yield app
    app.config.pop("CLOCK_FROZEN_AT", None)


# Helpers ----------------------------------------------------------------------------------

def enterprise_users(plan: TrainingPlan, count: int, trainees: int = 1) -> list[int]:
    """`count` approved enterprises with `trainees` photographed trainees each in the plan,
    and one enterprise user each; returns the users' ids."""
    sm = current_app.appbuilder.sm
    enterprise_ids = [gen_enterprise().id for _ in range(count)]
    first = gen_user(scope.ENTERPRISE, enterprise_id=enterprise_ids[0])
    role = sm.find_role(scope.ENTERPRISE)
    users = [first]
    for enterprise_id in enterprise_ids[1:]:  # add_user hashes each time: copy the first hash
        name = f"ent{secrets.token_hex(6)}"
        users.append(JianpeiUser(username=name, first_name=name, last_name="",
                                 email=f"{name}@test.invalid", active=True,
                                 password=first.password, roles=[role],
                                 enterprise_id=enterprise_id))
    db.session.add_all(users[1:])
    db.session.commit()
    for user in users:
        gen_trainees(user.enterprise, plan, trainees)
    return [user.id for user in users]


def in_threads(app, work: Callable[[Any, Callable[[], None]], Any], jobs: list,
               workers: int) -> list:
    """Run work(job, ready) for every job in `workers` threads, each in its own app context.

    work prepares, then calls ready(): threads wait there for each other (a barrier of
    `workers`, reused for every wave) so the interesting part starts at the same moment.
    Returns work's results in job order; an exception escaping work is returned as is.
    """
    assert len(jobs) % workers == 0, "every wave must fill the barrier"
    barrier = threading.Barrier(workers, timeout=60)

    def ready():
        db.session.rollback()  # hold no connection (or SQLite snapshot) while waiting
        barrier.wait()

    def run(job):
        with app.app_context():
            try:
                return work(job, ready)
            except BaseException as error:  # noqa: BLE001 (reported, not hidden)
                return error
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, jobs))


@dataclass
class Attempt:
    """What one create_order call did; messages are rendered in the thread's app context."""

    order_id: Optional[int] = None
    trainees: int = 0
    refusal: Optional[str] = None  # exception class name of a DomainError
    message: str = ""
    error: Optional[str] = None  # repr of any other exception: an unclean refusal


def order_attempt(plan_id: int):
    def work(user_id, ready):
        user = db.session.get(JianpeiUser, user_id)
        ready()
        try:
            order = orders.create_order(plan_id, user)
            return Attempt(order_id=order.id, trainees=order.trainees)
        except DomainError as refused:
            return Attempt(refusal=type(refused).__name__, message=str(refused))
        except Exception as error:  # noqa: BLE001
            db.session.rollback()
            return Attempt(error=repr(error))

    return work


def oversell_violations(plan_id: int, attempts: list, demand: int) -> list[str]:
    """Everything wrong with a burst of order attempts, read fresh from the database.

    `demand` is the number of trainees asking for seats in all. Any exception other than a
    DomainError is a violation (an unclean refusal), as is any refusal that is not an
    OrderRefused with the seats message.
    """
    problems = []
    for attempt in attempts:
        if isinstance(attempt, BaseException):
            problems.append(f"thread died: {attempt!r}")
        elif attempt.error:
            problems.append(f"unclean refusal: {attempt.error}")
        elif attempt.refusal and (attempt.refusal not in ("SeatsShort", "OrderRefused")
                                  or "名额" not in attempt.message):
            problems.append(f"refusal {attempt.refusal}: {attempt.message!r}")
    created = [a for a in attempts if isinstance(a, Attempt) and a.order_id]
    ordered = sum(a.trainees for a in created)

    db.session.rollback()
    db.session.expire_all()
    plan = db.session.get(TrainingPlan, plan_id)
    rows, row_trainees = db.session.execute(
        select(func.count(Order.id), func.coalesce(func.sum(Order.trainees), 0))
        .where(Order.plan_id == plan_id)).one()
    held = db.session.scalar(select(func.count(Enrolment.id)).where(
        Enrolment.plan_id == plan_id, Enrolment.order_id.is_not(None)))
    if ordered > plan.quota:
        problems.append(f"oversold: {ordered} trainees in orders, quota {plan.quota}")
    if plan.seats_reserved != ordered:
        problems.append(f"seats_reserved {plan.seats_reserved} != {ordered} trainees in orders")
    if plan.seats_paid != 0:
        problems.append(f"seats_paid {plan.seats_paid} != 0")
    if plan.seats_reserved + plan.seats_paid > plan.quota:
        problems.append(f"seats {plan.seats_reserved}+{plan.seats_paid} > quota {plan.quota}")
    if (rows, row_trainees) != (len(created), ordered):
        problems.append(f"{rows} order rows with {row_trainees} trainees, but {len(created)} "
                        f"orders with {ordered} trainees were returned")
    if held != ordered:
        problems.append(f"{held} enrolments hold an order, {ordered} trainees were ordered")
    if ordered != min(plan.quota, demand):
        problems.append(f"{ordered} seats sold, expected {min(plan.quota, demand)}")
    return problems


def naive_reserve_seats(plan_id: int, n: int) -> bool:
    """The race the service must not have: read the seats left, then write what was read + n."""
    left, reserved = db.session.execute(
        select(TrainingPlan.quota - TrainingPlan.seats_reserved - TrainingPlan.seats_paid,
               TrainingPlan.seats_reserved).where(TrainingPlan.id == plan_id)).one()
    if left < n:
        return False
    time.sleep(0.01)  # widen the window between the read and the write
    db.session.execute(update(TrainingPlan).where(TrainingPlan.id == plan_id)
                       .values(seats_reserved=reserved + n)
                       .execution_options(synchronize_session=False))
    return True


def paid_trade(order: Order) -> SimulatedTrade:
    """The simulator's record of the order's trade, paid (as its cashier leaves it)."""
    now = NOW
    trade = SimulatedTrade(
        out_trade_no=order.out_trade_no, app_id=current_app.config["ALIPAY_APP_ID"],
        subject=orders.subject(order), total_amount=order.amount, status="TRADE_SUCCESS",
        trade_no=f"{now:%Y%m%d}2200{secrets.randbelow(10**14):014d}", created_at=now,
        paid_at=now)
    db.session.add(trade)
    db.session.commit()
    return trade


def audits(action: str, order_id: int) -> int:
    return db.session.scalar(select(func.count(AuditLog.id)).where(
        AuditLog.action == action, AuditLog.object_type == "Order",
        AuditLog.object_id == str(order_id)))


def notices(order_id: Optional[int] = None) -> list[str]:
    query = select(PaymentNotice.outcome).order_by(PaymentNotice.id)
    if order_id is not None:
        query = query.where(PaymentNotice.order_id == order_id)
    return list(db.session.scalars(query))


def fresh(model, pk):
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(model, pk)


def new_orders(plan: TrainingPlan, sizes: list[int]) -> list[Order]:
    """One pending order per size, each by its own enterprise, created through the service."""
    made = []
    for size in sizes:
        user = db.session.get(JianpeiUser, enterprise_users(plan, 1, trainees=size)[0])
        made.append(orders.create_order(plan.id, user))
    return made


# Seats ------------------------------------------------------------------------------------

def _burst(app, plan: TrainingPlan, attempts: int = 200) -> list:
    user_ids = enterprise_users(plan, attempts)
    return in_threads(app, order_attempt(plan.id), user_ids, WORKERS)


def test_200_attempts_on_50_seats_reserve_exactly_50(app):
    plan = gen_plan(gen_institution(), quota=50)
    attempts = _burst(app, plan)

    assert oversell_violations(plan.id, attempts, demand=200) == []
    created = [a for a in attempts if a.order_id]
    refused = [a for a in attempts if a.refusal]
    assert sum(a.trainees for a in created) == 50 and len(created) == 50
    assert len(refused) == 150
    plan = fresh(TrainingPlan, plan.id)
    assert (plan.seats_reserved, plan.seats_paid) == (50, 0)
    assert db.session.scalar(select(func.count(Order.id))) == 50
    assert db.session.scalar(select(func.count(Enrolment.id))
                             .where(Enrolment.order_id.is_not(None))) == 50
    assert all("名额" in a.message for a in refused), refused[0].message


def test_a_naive_read_then_write_reservation_is_caught(app, monkeypatch):
    monkeypatch.setattr(orders, "reserve_seats", naive_reserve_seats)
    plan = gen_plan(gen_institution(), quota=50)
    attempts = _burst(app, plan)

    problems = oversell_violations(plan.id, attempts, demand=200)
    assert problems, "the check did not see the naive reservation's race"
    print(f"{db.engine.dialect.name}: naive reservation caught: {problems[:3]}")


# Payment ----------------------------------------------------------------------------------

def test_one_notification_ten_times_at_once_pays_once(app):
    from app.services import invoices

    plan = gen_plan(gen_institution(), quota=50)
    order, = new_orders(plan, [3])
    fields = alipay_sim.notification_fields(paid_trade(order))

    def notify(_, ready):
        ready()
        return orders.receive_notification(dict(fields), "127.0.0.1")

    replies = in_threads(app, notify, list(range(10)), 10)

    assert replies == ["success"] * 10
    order = fresh(Order, order.id)
    plan = db.session.get(TrainingPlan, plan.id)
    assert order.state == "paid" and order.trade_no == fields["trade_no"]
    assert order.refund_state is None
    assert (plan.seats_reserved, plan.seats_paid) == (0, 3)
    assert audits("order.paid", order.id) == 1
    assert sorted(notices(order.id)) == ["duplicate"] * 9 + ["paid"]
    assert db.session.scalar(select(func.count(Enrolment.id))
                             .where(Enrolment.order_id == order.id)) == 3

    first = invoices.issue_invoices(NOW.date() + dt.timedelta(days=1))
    again = invoices.issue_invoices(NOW.date() + dt.timedelta(days=1))
    assert len(first["issued"]) == 1 and again["issued"] == []
    assert db.session.scalar(select(func.count(Invoice.id))
                             .where(Invoice.order_id == order.id)) == 1


def test_two_expiry_runs_at_once_release_seats_once(app):
    plan = gen_plan(gen_institution(), quota=50)
    made = new_orders(plan, [1, 2, 3])
    assert fresh(TrainingPlan, plan.id).seats_reserved == 6
    app.config["CLOCK_FROZEN_AT"] = NOW + dt.timedelta(minutes=61)

    def expire(_, ready):
        ready()
        return orders.expire_due()

    counts = in_threads(app, expire, [0, 1], 2)

    assert sum(counts) == 3, counts  # each order expired by exactly one of the runs
    plan = fresh(TrainingPlan, plan.id)
    assert (plan.seats_reserved, plan.seats_paid) == (0, 0)
    for order in made:
        order = db.session.get(Order, order.id)
        assert order.state == "expired"
        assert audits("order.expire", order.id) == 1
    assert db.session.scalar(select(func.count(Enrolment.id))
                             .where(Enrolment.order_id.is_not(None))) == 0


def test_a_notification_racing_expiry_has_exactly_one_outcome(app):
    plan = gen_plan(gen_institution(), quota=50)
    races = 12
    made = []
    for k in range(races):  # order k expires at NOW + 60 + k minutes: one race at a time
        app.config["CLOCK_FROZEN_AT"] = NOW + dt.timedelta(minutes=k)
        made.extend(new_orders(plan, [1 + k % 3]))
    trades = {order.id: paid_trade(order) for order in made}
    ids = [order.id for order in made]

    for k, order_id in enumerate(ids):
        order = fresh(Order, order_id)
        app.config["CLOCK_FROZEN_AT"] = order.expires_at  # the 60-minute mark exactly
        fields = alipay_sim.notification_fields(db.session.get(SimulatedTrade,
                                                               order.out_trade_no))
        head_start = {0: None, 1: "expiry", 2: "notification"}[k % 3]
        first_done = threading.Event()  # with a head start, the other side waits for it

        def race(side, ready, fields=fields, head_start=head_start, first_done=first_done):
            ready()
            if head_start and side != head_start:
                first_done.wait(timeout=30)  # not a sleep: a busy machine keeps the order
            try:
                if side == "expiry":
                    return orders.expire_due()
                return orders.receive_notification(dict(fields), "127.0.0.1")
            finally:
                if side == head_start:
                    first_done.set()

        expired, reply = in_threads(app, race, ["expiry", "notification"], 2)
        assert reply == "success", reply
        assert expired in (0, 1), expired

    outcomes = {}
    for order_id in ids:
        order = fresh(Order, order_id)
        settled = [n for n in notices(order_id) if n != "duplicate"]
        assert len(settled) == 1, (order.out_trade_no, notices(order_id))
        outcomes[order_id] = settled[0]
        held = db.session.scalar(select(func.count(Enrolment.id))
                                 .where(Enrolment.order_id == order_id))
        if order.state == "paid":
            assert order.refund_state is None
            assert order.trade_no == trades[order_id].trade_no
            assert held == order.trainees
            assert audits(f"order.{settled[0]}", order_id) == 1
            assert settled[0] in ("paid", "late_paid")
            # Expired first, then paid late: the expiry happened too, once.
            assert audits("order.expire", order_id) == (1 if settled[0] == "late_paid" else 0)
        else:
            assert order.state == "expired", order.state
            assert order.refund_state in ("pending", "refunded")
            assert held == 0 and settled[0] == "refund"
    plan = fresh(TrainingPlan, plan.id)
    live = dict(db.session.execute(select(Order.state, func.sum(Order.trainees))
                                   .where(Order.plan_id == plan.id).group_by(Order.state)).all())
    assert plan.seats_reserved + plan.seats_paid == live.get("pending", 0) + live.get("paid", 0)
    assert plan.seats_reserved == live.get("pending", 0) == 0
    assert plan.seats_paid == live.get("paid", 0)
    # Seats were free, so a payment arriving after expiry is served, not refunded.
    assert set(outcomes.values()) <= {"paid", "late_paid"}
    assert {"paid", "late_paid"} <= set(outcomes.values()), outcomes  # both arrival orders


def test_a_late_payment_for_a_seat_taken_meanwhile_is_refunded_once(app):
    """The last seat: its order's payment, its expiry and another enterprise's order race.

    Either the payment keeps the seat (the other order is refused), or the seat goes to the
    other order and the payment goes back, once; never both, never neither counted twice.
    """
    modes = [None, "expiry", "notification", "other"] * 2
    rounds = []
    for k, head_start in enumerate(modes):
        app.config["CLOCK_FROZEN_AT"] = NOW + dt.timedelta(minutes=k)
        plan = gen_plan(gen_institution(), quota=1)
        order, = new_orders(plan, [1])
        other = enterprise_users(plan, 1)[0]
        rounds.append((plan.id, order.id, other, head_start, paid_trade(order).trade_no))

    for plan_id, order_id, other, head_start, _ in rounds:
        order = fresh(Order, order_id)
        app.config["CLOCK_FROZEN_AT"] = order.expires_at
        fields = alipay_sim.notification_fields(db.session.get(SimulatedTrade,
                                                               order.out_trade_no))

        first_done = threading.Event()  # with a head start, the others wait for it

        def race(side, ready, fields=fields, head_start=head_start, plan_id=plan_id,
                 other=other, first_done=first_done):
            user = db.session.get(JianpeiUser, other)
            ready()
            if head_start and side != head_start:
                first_done.wait(timeout=30)  # not a sleep: a busy machine keeps the order
            try:
                if side == "expiry":
                    return orders.expire_due()
                if side == "notification":
                    return orders.receive_notification(dict(fields), "127.0.0.1")
                try:
                    return orders.create_order(plan_id, user).id
                except orders.OrderRefused as refused:
                    return str(refused)
            finally:
                if side == head_start:
                    first_done.set()

        expired, reply, taken = in_threads(app, race, ["expiry", "notification", "other"], 3)
        assert reply == "success" and expired in (0, 1), (reply, expired)
        assert isinstance(taken, (int, str)), taken

    kinds = set()
    for plan_id, order_id, other, head_start, trade_no in rounds:
        order = fresh(Order, order_id)
        plan = db.session.get(TrainingPlan, plan_id)
        settled = [n for n in notices(order_id) if n != "duplicate"]
        assert len(settled) == 1, notices(order_id)
        others = db.session.scalars(select(Order).where(Order.plan_id == plan_id,
                                                        Order.id != order_id)).all()
        live = [o for o in [order, *others] if o.state in ("pending", "paid")]
        assert plan.seats_reserved + plan.seats_paid == sum(o.trainees for o in live) <= 1
        assert plan.seats_paid == sum(o.trainees for o in live if o.state == "paid")
        trade = db.session.get(SimulatedTrade, order.out_trade_no)
        if order.state == "paid":
            assert order.refund_state is None and settled[0] in ("paid", "late_paid")
            assert others == [] and trade.refunded == 0
        else:
            assert order.state == "expired" and settled[0] == "refund"
            assert order.refund_state == "refunded" and order.trade_no == trade_no
            assert trade.refunded == order.amount  # the money went back, once
            assert audits("order.refund", order_id) == 1
            assert audits("order.refunded", order_id) == 1
            assert [o.state for o in others] == ["pending"]
        kinds.add(settled[0])
    assert "refund" in kinds and kinds & {"paid", "late_paid"}, kinds


# Forged notifications ---------------------------------------------------------------------

def _unchanged(order_id: int, plan_id: int) -> None:
    order = fresh(Order, order_id)
    plan = db.session.get(TrainingPlan, plan_id)
    assert order.state == "pending" and order.trade_no is None and order.paid_at is None
    assert (plan.seats_reserved, plan.seats_paid) == (order.trainees, 0)
    assert audits("order.paid", order_id) == 0


def test_a_tampered_amount_changes_nothing(app):
    plan = gen_plan(gen_institution(), quota=50)
    order, = new_orders(plan, [2])
    fields = alipay_sim.notification_fields(paid_trade(order))

    tampered = {**fields, "total_amount": "0.01"}  # changed after signing
    assert orders.receive_notification(tampered, "10.0.0.9") == "failure"
    _unchanged(order.id, plan.id)
    assert notices() == ["rejected"]

    # Signed by the gateway's key but for another amount: the order's amount decides.
    resigned = {k: v for k, v in tampered.items() if k not in ("sign", "sign_type")}
    assert orders.receive_notification(alipay_sim.sign_notification(resigned),
                                       "10.0.0.9") == "failure"
    _unchanged(order.id, plan.id)
    assert notices() == ["rejected", "rejected"]
    assert notices(order.id) == ["rejected"]  # the second one names the order it tried


def test_a_notification_for_another_app_changes_nothing(app):
    plan = gen_plan(gen_institution(), quota=50)
    order, = new_orders(plan, [2])
    fields = alipay_sim.notification_fields(paid_trade(order))

    foreign = {k: v for k, v in fields.items() if k not in ("sign", "sign_type")}
    foreign["app_id"] = FOREIGN_APP_ID
    assert orders.receive_notification(alipay_sim.sign_notification(foreign),
                                       "10.0.0.9") == "failure"
    _unchanged(order.id, plan.id)
    assert notices() == ["rejected"]
    reason = db.session.scalar(select(PaymentNotice.reason))
    assert FOREIGN_APP_ID in reason
