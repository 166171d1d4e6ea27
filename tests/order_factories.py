"""Trainees ready for an order, and orders whose seats move as the order services move them.

Trainees are rows written here: the enrolment services take an enterprise user and an open
enrolment window, while tests need trainees in finished plans too; enrolments hold no seats.
An order's seats and state changes go through app/services/orders.py, so the factories cannot
drift from the rules (the quota check, what paying and lapsing do to seats and trainees).
"""
import datetime as dt
import itertools
import secrets

from app import clock
from app.extensions import db
from app.integrations.storage import storage
from app.services import orders
from models.enrolment import Enrolment, Person
from models.orders import Order, OrderItem
from models.states import OrderState
from tests.images import plain_jpeg
from tests.rosters import id_number

_seq = itertools.count(1)
_PHOTO = None


def _photo_key() -> str:
    global _PHOTO
    if _PHOTO is None:
        _PHOTO = plain_jpeg(300, 400)
    return storage().save(_PHOTO, ".jpg")


def gen_trainees(enterprise, plan, n: int = 3, *, photos: bool = True) -> list[Enrolment]:
    """n live enrolments of the enterprise in the plan, with both photos unless told not."""
    now = clock.now()
    trainees = []
    for _ in range(n):
        k = next(_seq)
        birth = dt.date(1980, 1, 1) + dt.timedelta(days=k)
        person = Person(id_number=id_number(birth=birth), name=f"学员{k}", gender="男",
                        birth_date=birth, updated_at=now)
        enrolment = Enrolment(person=person, plan_id=plan.id, enterprise_id=enterprise.id,
                              occupation_id=plan.occupation_id, level_id=plan.level_id,
                              mobile="13800138000", education_id=1, title_id=1,
                              status="live", created_at=now)
        if photos:
            enrolment.photo_key = enrolment.photo_thumb_key = _photo_key()
            enrolment.id_photo_key = _photo_key()
        db.session.add(enrolment)
        trainees.append(enrolment)
    db.session.commit()
    return trainees


def gen_order(enterprise, plan, n: int = 2, *, state: str = OrderState.PAID.value,
              paid_at: dt.datetime | None = None, created_at: dt.datetime | None = None) -> Order:
    """An order of n new trainees in `state`, made as orders.create_order makes one (seats
    held by orders.reserve_seats, trainees claimed), then paid (orders.pay_seats) or lapsed
    (orders._lapse: expired or cancelled, seats and trainees given back).

    The order row is written here rather than by create_order, which takes the clock's time,
    an enterprise user in an open enrolment window, every unordered trainee of the enterprise
    and an audit row: tests need orders made at other times, of exactly these trainees.
    """
    if state not in {s.value for s in OrderState}:
        raise ValueError(f"gen_order cannot make a {state} order")
    trainees = gen_trainees(enterprise, plan, n)
    created = created_at or clock.now() - dt.timedelta(days=1)
    assert orders.reserve_seats(plan.id, n), f"plan {plan.id} has fewer than {n} seats left"
    number = f"JP{created:%Y%m%d%H%M%S}{secrets.randbelow(10**12):012d}"
    order = Order(out_trade_no=number, enterprise_id=enterprise.id,
                  plan_id=plan.id, trainees=n, fee=plan.fee, amount=plan.fee * n,
                  state=OrderState.PENDING.value,
                  created_at=created, expires_at=created + dt.timedelta(minutes=60))
    db.session.add(order)
    db.session.flush()
    for enrolment in trainees:
        db.session.add(OrderItem(order_id=order.id, enrolment_id=enrolment.id))
        enrolment.order_id = order.id
    if state == OrderState.PAID.value:
        orders.pay_seats(plan.id, n)
        order.state = state
        order.paid_at = paid_at or created + dt.timedelta(minutes=5)
        order.trade_no = f"{created:%Y%m%d}2200{secrets.randbelow(10**14):014d}"
    db.session.commit()
    if state in (OrderState.EXPIRED.value, OrderState.CLOSED.value):
        action = "order.expire" if state == OrderState.EXPIRED.value else "order.cancel"
        assert orders._lapse(order.id, state, action)
        db.session.commit()  # a no-op where _lapse commits its own unit of work
    return order
