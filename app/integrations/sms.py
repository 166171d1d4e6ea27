"""Sending SMS. The embedded default writes to an outbox table that admins can read."""
import logging
from typing import Protocol

from flask import current_app

from app.extensions import db
from app.services import clock
from models.accounts import SmsMessage

log = logging.getLogger(__name__)


class SmsBackend(Protocol):
    def send(self, phone: str, text: str, purpose: str) -> SmsMessage: ...


class OutboxSms:
    """Records the message in sms_message (in the caller's transaction); nothing leaves."""

    def send(self, phone: str, text: str, purpose: str) -> SmsMessage:
        message = SmsMessage(phone=phone, text=text, purpose=purpose, created_at=clock.now(),
                             state="sent")
        db.session.add(message)
        log.info("SMS outbox: to %s: %s", phone, text)  # the embedded default's "delivery"
        return message


BACKENDS = {"outbox": OutboxSms}


def backend() -> SmsBackend:
    name = current_app.config["SMS_BACKEND"]
    if name not in BACKENDS:
        raise RuntimeError(f"SMS backend {name!r} is not available in this build")
    return BACKENDS[name]()
