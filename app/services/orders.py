"""Orders (订单): seats held for an hour, paid once through Alipay, released exactly once.

Every change of seats or order state is a conditional UPDATE, so the database decides
races: `seats_reserved + seats_paid <= quota` holds under any concurrency (and is a CHECK
constraint besides), an order moves out of 待支付 once, and a replayed notification finds
nothing left to change.
"""
import datetime as dt
import json
import logging
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from flask import current_app
from sqlalchemy import case, insert, select, update
from sqlalchemy.exc import IntegrityError

from app import clock
from app.extensions import db
from app.integrations import alipay
from app.services import N_, DomainError, InvalidState, NotFound, audit, photo_checks
from app.services.codes import mask_id_number
from app.services.enrolment import enrolling_plan
from app.services.transaction import after_commit, transactional
from models.enrolment import Enrolment
from models.orders import Order, OrderItem, PaymentNotice
from models.states import EnrolmentState, OrderState, RefundState
from models.training import TrainingPlan

log = logging.getLogger(__name__)

PENDING, PAID = OrderState.PENDING.value, OrderState.PAID.value
EXPIRED, CLOSED = OrderState.EXPIRED.value, OrderState.CLOSED.value


class OrderRefused(DomainError):
    message = N_("The order was not created.")


class TraineesNotReady(OrderRefused):
    """Refused for what some trainees still lack; `details()` names each of them."""

    def __init__(self, trainees: list[tuple[str, str, str]]):
        super().__init__()
        self.trainees = trainees  # (name, masked ID number, what is wrong)

    def details(self) -> list[str]:
        from flask_babel import gettext

        return [gettext("%(name)s (%(id)s): %(what)s", name=name, id=masked, what=what)
                for name, masked, what in self.trainees]


class PhotosMissing(TraineesNotReady):
    message = N_("Every trainee needs a 1-inch photo and an ID card photo before the order.")


class PhotosUnsettled(TraineesNotReady):
    message = N_("The photos of some trainees are still being checked, or differ from the "
                 "roster and nobody has decided yet. Settle them on the enrolment page first.")


class TooManyLapses(OrderRefused):
    message = N_("%(n)s of your orders for this plan lapsed unpaid within %(hours)s hours, so "
                 "the seats were held for nothing; you can order again from %(time)s.")


class SeatsShort(OrderRefused):
    message = N_("Only %(left)s seats are left in this plan, fewer than your %(n)s trainees; "
                 "nothing was reserved. Remove trainees or choose another plan.")


def _unlocked(statement):
    """An UPDATE that leaves the session's objects alone (we expire them ourselves)."""
    return db.session.execute(statement.execution_options(synchronize_session=False))


# Creating ---------------------------------------------------------------------------------

def orderable(plan_id: int, enterprise_id: int) -> list[Enrolment]:
    """The enterprise's trainees in the plan that no order holds yet."""
    return list(db.session.scalars(
        select(Enrolment).where(Enrolment.plan_id == plan_id,
                                Enrolment.enterprise_id == enterprise_id,
                                Enrolment.status == EnrolmentState.LIVE.value, Enrolment.order_id.is_(None))
        .order_by(Enrolment.id)))


def create_order(plan_id: int, user: Any) -> Order:
    """One order for every trainee of the user's enterprise in the plan not yet in an order.

    Two units of work on purpose: this plan's orders past their hour give their seats back
    (and count as lapses) whether or not the new order is then made or refused.
    """
    plan_id = enrolling_plan(plan_id, user).id
    release_lapsed_seats(plan_id)
    return _create_order(plan_id, user)


@transactional
def _create_order(plan_id: int, user: Any) -> Order:
    plan = enrolling_plan(plan_id, user)
    _check_lapses(plan.id, user.enterprise_id)
    trainees = orderable(plan.id, user.enterprise_id)
    if not trainees:
        raise OrderRefused(N_("Every trainee enrolled here is already in an order."), status=409)
    missing = [(t.person.name, mask_id_number(t.person.id_number), _missing_photos(t))
               for t in trainees if not t.photos_complete]
    if missing:
        raise PhotosMissing(missing)
    n, now = len(trainees), clock.now()
    fee = plan.fee
    try:
        if not reserve_seats(plan.id, n):
            db.session.refresh(plan)
            raise SeatsShort(left=max(plan.seats_left, 0), n=n, status=409)
        order = Order(out_trade_no=_out_trade_no(now), enterprise_id=user.enterprise_id,
                      plan_id=plan.id, trainees=n, fee=fee, amount=fee * n, state=PENDING,
                      created_at=now, created_by=user.id,
                      expires_at=now + dt.timedelta(minutes=_lifetime()))
        db.session.add(order)
        db.session.flush()
        ids = [t.id for t in trainees]
        claimed = _unlocked(update(Enrolment).where(
            Enrolment.id.in_(ids), Enrolment.order_id.is_(None),
            Enrolment.status == EnrolmentState.LIVE.value)
            .values(order_id=order.id)).rowcount
        if claimed != n:  # a trainee was removed or ordered by a parallel request
            raise OrderRefused(N_("The trainees changed while the order was being made; "
                                  "please look at the list and try again."), status=409)
        # After the claim: the trainees' rows are ours now, so a photo uploaded meanwhile has
        # its check here to wait for, and none can come later (photos._unordered).
        unsettled = photo_checks.unresolved(ids)
        if unsettled:
            raise PhotosUnsettled([(c.enrolment.person.name,
                                    mask_id_number(c.enrolment.person.id_number), _unsettled(c))
                                   for c in unsettled])
        db.session.execute(insert(OrderItem), [{"order_id": order.id, "enrolment_id": i}
                                               for i in ids])
        audit.record("order.create", order, after={
            "out_trade_no": order.out_trade_no, "plan": plan.id, "trainees": n,
            "amount": str(order.amount)}, region_code=plan.region_code)
        db.session.flush()  # a collision is refused here, not at the commit
    except IntegrityError:  # the CHECK on seats, or an out_trade_no collision
        raise OrderRefused(N_("The seats were taken meanwhile; please try again."),
                           status=409) from None
    db.session.expire_all()
    return order


@transactional
def release_lapsed_seats(plan_id: int, at: Optional[dt.datetime] = None) -> int:
    """Expire the plan's unpaid orders past their hour in one conditional UPDATE and give back
    their seats and trainees; no gateway call (the expire_orders task tells the gateway).

    Such an order keeps closed_at empty until the task has told the gateway: that is how the
    task finds it. Its lapse counts as one expired by the task (at its expires_at), and it
    gets the same "order.expire" audit row.
    """
    now = at or clock.now()
    lapsed = _unlocked(update(Order).where(Order.plan_id == plan_id, Order.state == PENDING,
                                           ~Order.payable_at(now))
                       .values(state=EXPIRED).returning(Order.id, Order.trainees)).all()
    if not lapsed:
        return 0
    ids = [order_id for order_id, _ in lapsed]
    _give_back(plan_id, db.session.scalars(
        select(Order).where(Order.id.in_(ids)).order_by(Order.id)
        .execution_options(populate_existing=True)).all(), EXPIRED, "order.expire")
    return len(lapsed)


def ordering_blocked_until(plan_id: int, enterprise_id: int,
                           at: Optional[dt.datetime] = None) -> Optional[dt.datetime]:
    """When the enterprise may order in the plan again, if ORDER_LAPSE_LIMIT of its orders
    there lapsed unpaid (expired or cancelled) within ORDER_LAPSE_WINDOW_HOURS; else None.

    Counted in SQL from the orders table. The check is advisory (two requests at once may
    both pass it); seats are still taken only by reserve_seats' conditional UPDATE.
    """
    config = current_app.config
    limit = int(config["ORDER_LAPSE_LIMIT"])
    window = dt.timedelta(hours=float(config["ORDER_LAPSE_WINDOW_HOURS"]))
    if limit < 1:
        return None
    at = at or clock.now()
    # The seats were free again at the cancellation, or at the end of the order's hour.
    lapsed_at = case((Order.closed_at < Order.expires_at, Order.closed_at),
                     else_=Order.expires_at)
    oldest = db.session.scalar(
        select(lapsed_at).where(Order.plan_id == plan_id, Order.enterprise_id == enterprise_id,
                                Order.state.in_((EXPIRED, CLOSED)), Order.trade_no.is_(None),
                                lapsed_at > at - window)
        .order_by(lapsed_at.desc()).offset(limit - 1).limit(1))
    return oldest + window if oldest is not None else None


def _check_lapses(plan_id: int, enterprise_id: int) -> None:
    until = ordering_blocked_until(plan_id, enterprise_id)
    if until is not None:
        config = current_app.config
        shown = (until + dt.timedelta(seconds=59)).replace(second=0, microsecond=0)
        raise TooManyLapses(n=int(config["ORDER_LAPSE_LIMIT"]),
                            hours=config["ORDER_LAPSE_WINDOW_HOURS"],
                            time=f"{shown:%Y-%m-%d %H:%M}", status=409)


def reserve_seats(plan_id: int, n: int) -> bool:
    """Hold n seats if that many are left: one conditional UPDATE, atomic on every database.

    (Reading seats_left and then writing a new count would let two requests both see the
    last seats; tests/integration/test_order_concurrency.py shows that such code oversells.)
    """
    return _unlocked(
        update(TrainingPlan)
        .where(TrainingPlan.id == plan_id,
               TrainingPlan.seats_left >= n)
        .values(seats_reserved=TrainingPlan.seats_reserved + n)).rowcount == 1


def pay_seats(plan_id: int, n: int) -> None:
    """Turn n seats the plan holds for a pending order into paid ones (its payment)."""
    _unlocked(update(TrainingPlan).where(TrainingPlan.id == plan_id).values(
        seats_reserved=TrainingPlan.seats_reserved - n, seats_paid=TrainingPlan.seats_paid + n))


def _missing_photos(trainee: Enrolment) -> str:
    from flask_babel import gettext

    from app.services.photos import KINDS

    return gettext("no %(what)s", what="、".join(gettext(KINDS[kind])
                                                 for kind in trainee.missing_photos))


def _unsettled(check) -> str:
    from flask_babel import gettext

    from app.services.photos import KINDS

    return gettext("%(kind)s %(state)s", kind=gettext(KINDS[check.kind]),
                   state=check.state_enum.label)


def _out_trade_no(now: dt.datetime) -> str:
    return f"JP{now:%Y%m%d%H%M%S}{secrets.randbelow(10**12):012d}"  # 28 characters


def _lifetime() -> int:
    return int(current_app.config["ORDER_LIFETIME_MINUTES"])


# Reading ----------------------------------------------------------------------------------

def shown_state(order: Order, at: Optional[dt.datetime] = None) -> OrderState:
    """The state users see: an unpaid order past its hour is expired (Order.shown_state)."""
    return order.shown_state(at or clock.now())


def own_order(order_id: int, user: Any) -> Order:
    order = db.session.get(Order, order_id)
    if order is None or order.enterprise_id != user.enterprise_id:
        raise NotFound()
    return order


def subject(order: Order) -> str:
    plan = order.plan
    return f"{plan.institution.name} {plan.occupation.name}·{plan.level.name} 培训费（{order.trainees}人）"


def payment_url(order_id: int, user: Any, return_url: str) -> str:
    """The gateway's cashier for an unpaid order of the user's enterprise."""
    order = own_order(order_id, user)
    if shown_state(order) != OrderState.PENDING:
        raise InvalidState(N_("This order can no longer be paid: it is %(state)s."),
                           state=shown_state(order).label)
    return alipay.page_pay_url(order.out_trade_no, order.amount, subject(order),
                               order.expires_at, return_url)


# Ending unpaid orders ---------------------------------------------------------------------

@transactional
def cancel_order(order_id: int, user: Any) -> Order:
    order = own_order(order_id, user)
    if not _lapse(order.id, CLOSED, "order.cancel"):
        db.session.refresh(order)
        raise InvalidState(N_("Only an unpaid order can be cancelled; this one is %(state)s."),
                           state=shown_state(order).label)
    from tasks.payments import close_trade

    after_commit(close_trade, order.id)  # the gateway is told by a task, not while the page waits
    return db.session.get(Order, order.id)


def expire_due(at: Optional[dt.datetime] = None) -> int:
    """Expire unpaid orders past their hour, each releasing its seats exactly once, and
    close their trades at the gateway; returns how many this run expired.

    Each order is its own unit of work, committed before the gateway is called. Orders that
    a request already expired (release_lapsed_seats: closed_at still empty) get their trade
    closed here too.
    """
    at = at or clock.now()
    due = select(Order.id).where(Order.state == PENDING, ~Order.payable_at(at))
    expired = [order_id for order_id in db.session.scalars(due).all()
               if _lapse(order_id, EXPIRED, "order.expire")]
    untold = select(Order.id).where(Order.state == EXPIRED, Order.closed_at.is_(None),
                                    Order.trade_no.is_(None))
    told = [order_id for order_id in db.session.scalars(untold).all() if _mark_closed(order_id)]
    for order_id in expired + told:
        close_at_gateway(order_id)
    return len(expired)


@transactional
def _mark_closed(order_id: int) -> bool:
    """Claim, once, the gateway close of an order a request expired."""
    return _unlocked(update(Order).where(Order.id == order_id, Order.state == EXPIRED,
                                         Order.closed_at.is_(None))
                     .values(closed_at=clock.now())).rowcount == 1


@transactional
def _lapse(order_id: int, state: str, action: str) -> bool:
    """Move a pending order to expired/closed and give back its seats and trainees, once."""
    # The conditional UPDATE is the lock: a second caller finds the order no longer pending.
    moved = _unlocked(update(Order).where(Order.id == order_id, Order.state == PENDING)
                      .values(state=state, closed_at=clock.now())).rowcount
    if moved != 1:
        return False
    order = db.session.get(Order, order_id, populate_existing=True)
    _give_back(order.plan_id, [order], state, action)
    return True


def _give_back(plan_id: int, lapsed: list[Order], state: str, action: str) -> None:
    """The plan's seats and the trainees of orders just moved out of pending, back; each
    order audited (`action`). The one release for a cancellation, an expiry and a lapse
    found by an order of the same plan."""
    _unlocked(update(TrainingPlan).where(TrainingPlan.id == plan_id).values(
        seats_reserved=TrainingPlan.seats_reserved - sum(order.trainees for order in lapsed)))
    _unlocked(update(Enrolment).where(Enrolment.order_id.in_([order.id for order in lapsed]))
              .values(order_id=None))
    for order in lapsed:
        audit.record(action, order, after={"out_trade_no": order.out_trade_no, "state": state,
                                           "seats_released": order.trainees},
                     region_code=order.plan.region_code)
    db.session.expire_all()


@transactional
def close_at_gateway(order_id: int) -> None:
    """Close the trade at Alipay; if it turns out paid meanwhile, take that payment."""
    order = db.session.get(Order, order_id)
    try:
        alipay.close(order.out_trade_no)
        return
    except alipay.GatewayError as error:
        log.warning("trade.close for %s failed: %s", order.out_trade_no, error)
    try:
        refresh_from_gateway(order.id)
    except alipay.GatewayError as error:
        log.warning("trade.query for %s failed: %s", order.out_trade_no, error)


# Payment ----------------------------------------------------------------------------------

# Anyone may post a notification: a payment notice keeps each field cut to NOTICE_FIELD_MAX
# characters and at most NOTICE_RAW_MAX characters in all (a real one is under 4 KB); the log
# and the audit log get the order number cut to NOTICE_TRADE_NO_MAX, never the fields.
NOTICE_FIELD_MAX = 1024
NOTICE_RAW_MAX = 8192
NOTICE_TRADE_NO_MAX = 64


def _clip(value: Any, limit: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _bounded_raw(fields: dict) -> str:
    """The notification as JSON for its payment notice, within NOTICE_RAW_MAX characters."""
    kept: dict[str, str] = {}
    size = 2
    for key in sorted(fields):
        name, value = _clip(key, 64), _clip(fields[key], NOTICE_FIELD_MAX)
        size += len(json.dumps({name: value}, ensure_ascii=False))
        if size > NOTICE_RAW_MAX:
            kept["…"] = f"{len(fields) - len(kept)} more fields left out"
            break
        kept[name] = value
    return json.dumps(kept, ensure_ascii=False, sort_keys=True)


@transactional
def receive_notification(fields: dict, remote_addr: Optional[str] = None) -> str:
    """Handle Alipay's asynchronous notification; the reply is "success" once it is settled."""
    raw = _bounded_raw(fields)
    order, problem = _check_notification(fields)
    if problem:
        _reject(fields.get("out_trade_no"), order, raw, problem, remote_addr)
        return "failure"
    if fields.get("trade_status") not in alipay.PAID_STATUSES:
        _note(order, fields.get("out_trade_no"), "ignored", raw, remote_addr,
              reason=f"trade_status {fields.get('trade_status')}")
        return "success"
    settle(order.id, fields["trade_no"], raw, remote_addr=remote_addr)
    return "success"


def _check_notification(fields: dict) -> tuple[Optional[Order], Optional[str]]:
    if not alipay.verify_notification(fields):
        return None, "signature does not verify (RSA2)"
    if fields.get("app_id") != current_app.config["ALIPAY_APP_ID"]:
        return None, f"foreign app_id {fields.get('app_id')!r}"
    order = db.session.scalars(select(Order).where(
        Order.out_trade_no == fields.get("out_trade_no", ""))).one_or_none()
    if order is None:
        return None, "unknown out_trade_no"
    try:
        amount = Decimal(fields.get("total_amount", ""))
    except InvalidOperation:
        amount = None
    if amount != order.amount:
        return order, f"total_amount {fields.get('total_amount')!r} is not {order.amount}"
    if not fields.get("trade_no"):
        return order, "no trade_no"
    if order.trade_no and order.trade_no != fields["trade_no"]:
        return order, f"trade_no {fields['trade_no']!r} differs from {order.trade_no!r}"
    return order, None


def _reject(out_trade_no, order, raw, reason, remote_addr) -> None:
    out_trade_no = _clip(out_trade_no, NOTICE_TRADE_NO_MAX) or None
    log.error("PAYMENT ALERT: notification rejected (%s) for %r from %s", _clip(reason, 256),
              out_trade_no, remote_addr)
    notice = _note(order, out_trade_no, "rejected", raw, remote_addr, reason=reason)
    db.session.flush()
    # The reason and the fields stay in the payment notice; the audit row points at it.
    audit.record("payment.rejected", order, after={"out_trade_no": out_trade_no,
                                                   "outcome": "rejected", "notice": notice.id},
                 region_code=order.plan.region_code if order else None)


def _note(order, out_trade_no, outcome, raw, remote_addr, reason=None) -> PaymentNotice:
    notice = PaymentNotice(received_at=clock.now(),
                           out_trade_no=(out_trade_no or "")[:NOTICE_TRADE_NO_MAX] or None,
                           order_id=order.id if order else None, outcome=outcome,
                           reason=reason[:256] if reason else None,
                           remote_addr=remote_addr, raw=raw)
    db.session.add(notice)
    return notice


@transactional
def settle(order_id: int, trade_no: str, raw: str, *, remote_addr: Optional[str] = None,
           source: str = "notify") -> str:
    """Take a verified payment for the order, exactly once; returns the outcome.

    paid: a pending order became paid. late_paid: an expired or cancelled order could
    still be served (seats and trainees free) and became paid. refund: it could not, and
    the money goes back. duplicate: this payment was already taken.
    """
    now = clock.now()
    moved = _unlocked(update(Order).where(Order.id == order_id, Order.state == PENDING)
                      .values(state=PAID, paid_at=now, trade_no=trade_no)).rowcount
    order = db.session.get(Order, order_id, populate_existing=True)
    if moved:
        pay_seats(order.plan_id, order.trainees)
        outcome = "paid"
    else:
        outcome = _late_payment(order, trade_no, now)
    _note(order, order.out_trade_no, outcome, raw, remote_addr, reason=source)
    if outcome != "duplicate":
        audit.record(f"order.{outcome}", order, after={
            "out_trade_no": order.out_trade_no, "trade_no": trade_no,
            "amount": str(order.amount), "via": source}, region_code=order.plan.region_code)
    if outcome == "refund":
        from tasks.payments import refund_order

        after_commit(refund_order, order_id)
    return outcome


def _late_payment(order: Order, trade_no: str, now: dt.datetime) -> str:
    """A payment for an order that is no longer pending: never dropped."""
    claimed = _unlocked(update(Order).where(
        Order.id == order.id, Order.state.in_((EXPIRED, CLOSED)), Order.trade_no.is_(None))
        .values(trade_no=trade_no)).rowcount
    if not claimed:
        return "duplicate"  # already paid, or this late payment is already being refunded
    savepoint = db.session.begin_nested()
    seats = _unlocked(update(TrainingPlan).where(
        TrainingPlan.id == order.plan_id,
        TrainingPlan.seats_left >= order.trainees)
        .values(seats_paid=TrainingPlan.seats_paid + order.trainees)).rowcount
    item_ids = select(OrderItem.enrolment_id).where(OrderItem.order_id == order.id)
    trainees = _unlocked(update(Enrolment).where(
        Enrolment.id.in_(item_ids), Enrolment.order_id.is_(None),
        Enrolment.status == EnrolmentState.LIVE.value)
        .values(order_id=order.id)).rowcount if seats else 0
    if seats and trainees == order.trainees:
        savepoint.commit()
        _unlocked(update(Order).where(Order.id == order.id).values(state=PAID, paid_at=now))
        return "late_paid"
    savepoint.rollback()
    reason = ("no seats left when the payment arrived" if not seats
              else "its trainees were removed or are in another order")
    _unlocked(update(Order).where(Order.id == order.id).values(
        refund_state=RefundState.PENDING.value, refund_reason=reason))
    return "refund"


@transactional
def refresh_from_gateway(order_id: int) -> Order:
    """Ask the gateway about an unpaid order (the return page, a failed close)."""
    order = db.session.get(Order, order_id)
    if order.state == PAID or order.refund_state:
        return order
    trade = alipay.query(order.out_trade_no)
    if trade and trade.get("trade_status") in alipay.PAID_STATUSES and trade.get("trade_no"):
        try:
            amount = Decimal(trade.get("total_amount", ""))
        except InvalidOperation:
            amount = None
        if amount == order.amount:
            settle(order.id, trade["trade_no"], json.dumps(trade, ensure_ascii=False),
                   source="query")
        else:
            log.error("PAYMENT ALERT: trade.query for %s says %s, order amount %s",
                      order.out_trade_no, trade.get("total_amount"), order.amount)
    db.session.expire_all()
    return db.session.get(Order, order_id)


# Refunds ----------------------------------------------------------------------------------

@transactional
def refund(order_id: int) -> bool:
    """Give back a late payment that could not be served; True once it is refunded."""
    order = db.session.get(Order, order_id)
    if order is None or order.refund_state != RefundState.PENDING.value:
        return order is not None and order.refund_state == RefundState.REFUNDED.value
    alipay.refund(order.out_trade_no, order.amount, request_no=f"{order.out_trade_no}R")
    # The conditional UPDATE decides: a parallel run that refunded first leaves nothing here.
    moved = _unlocked(update(Order).where(Order.id == order_id,
                                          Order.refund_state == RefundState.PENDING.value)
                      .values(refund_state=RefundState.REFUNDED.value,
                              refunded_at=clock.now())).rowcount
    if moved:
        order = db.session.get(Order, order_id, populate_existing=True)
        audit.record("order.refunded", order, after={"out_trade_no": order.out_trade_no,
                                                     "amount": str(order.amount)},
                     region_code=order.plan.region_code)
    return True


def refund_pending() -> int:
    """Retry refunds that could not reach the gateway before."""
    done = 0
    for order_id in db.session.scalars(select(Order.id).where(
            Order.refund_state == RefundState.PENDING.value)).all():
        try:
            done += refund(order_id)
        except alipay.GatewayError as error:
            log.warning("refund of order %s failed: %s", order_id, error)
    return done
