"""Trainees ready for an order, and orders written straight to the database."""
import datetime as dt
import itertools
import secrets

from app.extensions import db
from app.integrations.storage import storage
from app.services import clock
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
    """An order of n new trainees, its seats held (reserved if pending, paid if paid)."""
    trainees = gen_trainees(enterprise, plan, n)
    created = created_at or clock.now() - dt.timedelta(days=1)
    number = f"JP{created:%Y%m%d%H%M%S}{secrets.randbelow(10**12):012d}"
    order = Order(out_trade_no=number, enterprise_id=enterprise.id,
                  plan_id=plan.id, trainees=n, fee=plan.fee, amount=plan.fee * n, state=state,
                  created_at=created, expires_at=created + dt.timedelta(minutes=60))
    if state == OrderState.PAID.value:
        order.paid_at = paid_at or created + dt.timedelta(minutes=5)
        order.trade_no = f"{created:%Y%m%d}2200{secrets.randbelow(10**14):014d}"
        plan.seats_paid += n
    elif state == OrderState.PENDING.value:
        plan.seats_reserved += n
    db.session.add(order)
    db.session.flush()
    for enrolment in trainees:
        db.session.add(OrderItem(order_id=order.id, enrolment_id=enrolment.id))
        if state in (OrderState.PAID.value, OrderState.PENDING.value):
            enrolment.order_id = order.id
    db.session.commit()
    return order
