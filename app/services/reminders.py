"""Order reminders: an order's enterprise hears shortly before its order expires, once, in its
inbox and by SMS to its contact. Run by the minute task (app/services/notifications.py)."""
import datetime as dt

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.services import inbox
from app.services.transaction import transactional
from models.orders import Order


@transactional
def remind_expiring_orders(now: dt.datetime) -> int:
    """An order's enterprise hears 10 minutes before the order expires (once)."""
    soon = now + dt.timedelta(minutes=current_app.config["ORDER_REMINDER_MINUTES"])
    made = 0
    for order in db.session.scalars(select(Order).where(
            Order.payable_at(now), Order.expires_at <= soon)):
        if inbox.post_with_sms(f"order.expiring:{order.id}", "order_reminder",
                               enterprise=order.enterprise,
                               link=inbox.link_to("order", order.id),
                               number=order.out_trade_no, amount=f"{order.amount:.2f}",
                               time=f"{order.expires_at:%H:%M}"):
            made += 1
    return made
