"""Sending SMS, and hearing whether they arrived.

Two backends (`SMS_BACKEND`): "outbox", the embedded default, keeps each message in
sms_message for admins (数据管理台 → 短信发件箱) and sends nothing; "aliyun" sends through Alibaba
Cloud SMS (app/integrations/aliyun_sms.py). Either way every message, and how its sending went,
is a row of sms_message written in the caller's transaction. Logs carry the purpose, the masked
number and the outcome: never a message's text, a code or a full number.
"""
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Protocol, Sequence

from flask import current_app
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.services import sms_templates
from app.services.codes import mask_mobile
from models.accounts import SmsMessage

log = logging.getLogger(__name__)

# What went wrong, as far as a sender needs to know: only RETRYABLE kinds can succeed later.
RATE_LIMITED = "rate_limited"
INVALID_NUMBER = "invalid_number"
TEMPLATE = "template"
BALANCE = "balance"
CREDENTIALS = "credentials"
UNAVAILABLE = "unavailable"
REFUSED = "refused"
RETRYABLE = frozenset({RATE_LIMITED, UNAVAILABLE})
ERROR_LABELS = {
    RATE_LIMITED: _l("Rate-limited by the SMS provider"),
    INVALID_NUMBER: _l("Invalid mobile number"),
    TEMPLATE: _l("SMS template or signature not approved"),
    BALANCE: _l("SMS account balance too low"),
    CREDENTIALS: _l("SMS credentials rejected"),
    UNAVAILABLE: _l("SMS provider unreachable"),
    REFUSED: _l("Refused by the SMS provider"),
}
# sms_message.state: "sent" (outbox), "submitted" (the provider took it), then "delivered",
# "failed" (the receipt says so) or "unconfirmed" (no receipt in time); "refused" and "retry"
# (not taken; a retry may succeed) are sends the provider did not take.
ACCEPTED = frozenset({"sent", "submitted", "delivered", "failed", "unconfirmed"})
WAITING = "submitted"
RECEIPTS_PER_RUN = 100
# A receipt comes within minutes; the provider keeps them for days. After this, we stop asking.
RECEIPT_GIVE_UP = dt.timedelta(hours=72)


class SmsError(Exception):
    """The provider did not take the message."""

    def __init__(self, kind: str, code: str, reason: str = ""):
        super().__init__(f"{code}: {reason}" if reason else code)
        self.kind, self.code, self.reason = kind, code, reason

    @property
    def retry(self) -> bool:
        return self.kind in RETRYABLE


@dataclass(frozen=True)
class Outgoing:
    phone: str
    template_code: str
    params: Mapping[str, str]
    text: str  # as rendered here, for the outbox


@dataclass(frozen=True)
class Receipt:
    status: str  # "waiting", "delivered" or "failed"
    code: str = ""  # the provider's ErrCode ("DELIVERED", "MOBILE_NOT_ON_SERVICE", ...)
    received_at: Optional[dt.datetime] = None


class SmsBackend(Protocol):
    accepted_state: str  # what a message the backend took is: "sent" or "submitted"
    batch_max: int

    def send(self, item: Outgoing) -> Optional[str]:
        """Send one; returns the provider's BizId. Raises SmsError."""

    def send_batch(self, items: Sequence[Outgoing]) -> Optional[str]:
        """Send up to batch_max messages of one template; one BizId. Raises SmsError."""

    def receipt(self, phone: str, biz_id: str, sent_on: dt.date) -> Optional[Receipt]: ...


class OutboxSms:
    """Nothing leaves: sms_message is the outbox, readable by admins."""

    accepted_state = "sent"
    batch_max = 1000

    def send(self, item: Outgoing) -> Optional[str]:
        return None

    def send_batch(self, items: Sequence[Outgoing]) -> Optional[str]:
        return None

    def receipt(self, phone: str, biz_id: str, sent_on: dt.date) -> Optional[Receipt]:
        return None


def _aliyun():
    from app.integrations.aliyun_sms import AliyunSms

    return AliyunSms.from_config(current_app.config)


BACKENDS = {"outbox": OutboxSms, "aliyun": _aliyun}


def backend() -> SmsBackend:
    name = current_app.config["SMS_BACKEND"]
    if name not in BACKENDS:
        raise RuntimeError(f"SMS backend {name!r} is not available in this build")
    return BACKENDS[name]()


def send(phone: str, purpose: str, values: Mapping[str, Any]) -> SmsMessage:
    """Send one templated SMS now and record it (caller's transaction); see its `state`."""
    return send_batch(purpose, [(phone, values)])[0]


def send_batch(purpose: str, items: Sequence[tuple[str, Mapping[str, Any]]]) -> list[SmsMessage]:
    """One template to many phones (SendBatchSms): one row per phone, in the given order."""
    sender = backend()
    code = sms_templates.template_code(purpose)
    secret = sms_templates.template(purpose).secret
    # A code's text is kept in full only where admins must read it: the outbox.
    hide_code = secret and sender.accepted_state != "sent"
    now = clock.now()
    outgoing, messages = [], []
    for phone, values in items:
        params = sms_templates.params(purpose, values)
        text = sms_templates.render(purpose, params)
        outgoing.append(Outgoing(phone, code, params, text))
        messages.append(SmsMessage(
            phone=phone, purpose=purpose, template_code=code, created_at=now, state="retry",
            text=sms_templates.render(purpose, params, mask_code=True) if hide_code else text))
    for start in range(0, len(outgoing), sender.batch_max):
        chunk = slice(start, start + sender.batch_max)
        _submit(sender, outgoing[chunk], messages[chunk], purpose)
    db.session.add_all(messages)
    return messages


def _submit(sender: SmsBackend, outgoing: list[Outgoing], messages: list[SmsMessage],
            purpose: str) -> None:
    try:
        biz_id = sender.send(outgoing[0]) if len(outgoing) == 1 else sender.send_batch(outgoing)
    except Exception as error:  # noqa: BLE001 - whatever the transport raised, the row says it
        if not isinstance(error, SmsError):
            error = SmsError(UNAVAILABLE, type(error).__name__, str(error))
        for message in messages:
            message.state = "retry" if error.retry else "refused"
            message.error_kind = error.kind
            message.error_code, message.reason = error.code[:64], error.reason[:256]
        level = logging.ERROR if error.kind in (BALANCE, CREDENTIALS, TEMPLATE) else logging.WARNING
        log.log(level, "SMS %s to %s not taken: %s %s", purpose, _phones(messages), error.kind,
                error.code)
        return
    for message in messages:
        message.state, message.biz_id = sender.accepted_state, biz_id
    log.info("SMS %s to %s: %s %s", purpose, _phones(messages), sender.accepted_state,
             biz_id or "")


def _phones(messages: list[SmsMessage]) -> str:
    shown = ", ".join(mask_mobile(m.phone) for m in messages[:3])
    return shown + (f" and {len(messages) - 3} more" if len(messages) > 3 else "")


def problem(message: SmsMessage) -> str:
    """Why a message was not taken or not delivered, in Chinese (for notices and 详情)."""
    with force_locale("zh_CN"):
        if message.state in ("refused", "retry"):
            label = ERROR_LABELS.get(message.error_kind or "", ERROR_LABELS[REFUSED])
            return f"{label}（{message.error_code or ''}）" + (
                f"：{message.reason}" if message.reason else "")
        if message.state == "failed":
            return gettext("Not delivered: %(code)s", code=message.error_code or "")
        return ""


def sent_today(phone: str, now: dt.datetime) -> int:
    """Messages the provider took for this phone since midnight (what the daily cap counts)."""
    start = dt.datetime.combine(now.date(), dt.time())
    return db.session.scalar(select(func.count()).select_from(SmsMessage).where(
        SmsMessage.phone == phone, SmsMessage.created_at >= start,
        SmsMessage.state.in_(ACCEPTED))) or 0


def check_receipts(limit: int = RECEIPTS_PER_RUN) -> dict:
    """Ask the provider about messages still "submitted": delivered, failed, or still waiting."""
    sender = backend()
    now = clock.now()
    waiting = list(db.session.scalars(
        select(SmsMessage).where(SmsMessage.state == WAITING, SmsMessage.biz_id.is_not(None))
        .order_by(func.coalesce(SmsMessage.checked_at, SmsMessage.created_at), SmsMessage.id)
        .limit(limit)))
    counts = {"delivered": 0, "failed": 0, "waiting": 0, "unconfirmed": 0, "errors": 0}
    for message in waiting:
        try:
            receipt = sender.receipt(message.phone, message.biz_id, message.created_at.date())
        except Exception as error:  # noqa: BLE001 - asked again next run
            counts["errors"] += 1
            message.checked_at = now
            log.warning("SMS receipt for %s not read: %s", mask_mobile(message.phone),
                        getattr(error, "code", type(error).__name__))
            continue
        message.checked_at = now
        if receipt is None or receipt.status == "waiting":
            if now - message.created_at >= RECEIPT_GIVE_UP:
                message.state = "unconfirmed"
                counts["unconfirmed"] += 1
            else:
                counts["waiting"] += 1
            continue
        message.state = "delivered" if receipt.status == "delivered" else "failed"
        message.error_code = (receipt.code or "")[:64] if message.state == "failed" else None
        message.reported_at = receipt.received_at or now
        counts[message.state] += 1
        log.info("SMS %s to %s: %s %s", message.purpose, mask_mobile(message.phone),
                 message.state, receipt.code)
    db.session.commit()
    return counts
