"""Notifications, delivered: the minute task that sends whatever is due, across trainee notices
(app/services/notices.py), the organisations' inbox with its contact SMS
(app/services/inbox.py) and order reminders (app/services/reminders.py)."""
from app import clock
from app.services import inbox, notices, reminders


def deliver_due() -> dict:
    """The minute task: trainee notices whose time came, contact SMS of new messages, and the
    reminders of orders about to expire.

    Each claim, each SMS and the reminders are units of work of their own (see
    notices.deliver_notices)."""
    now = clock.now()
    sent, due = notices.deliver_held(now)
    sent += inbox.deliver_contact_sms()
    reminders.remind_expiring_orders(now)
    return {"sent": sent, "notices_due": due}
