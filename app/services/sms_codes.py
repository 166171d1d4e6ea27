"""Mobile verification codes: random, hashed, short-lived, bound to phone and purpose."""
import datetime as dt
import hashlib
import hmac
import math
import secrets

from flask import current_app
from sqlalchemy import func, select, update

from app import clock
from app.extensions import db
from app.integrations import sms
from app.services import N_, DomainError, sms_templates
from app.services.codes import MOBILE, normalize_mobile
from app.services.transaction import checkpoint, transactional
from models.accounts import SmsCode

REGISTER = "register"
RESET_PASSWORD = "reset_password"
CHANGE_MOBILE = "change_mobile"
PURPOSES = (REGISTER, RESET_PASSWORD, CHANGE_MOBILE)

LIFETIME = dt.timedelta(minutes=sms_templates.CODE_LIFETIME_MINUTES)
MAX_ATTEMPTS = 5
RESEND_AFTER = dt.timedelta(seconds=60)
DAILY_LIMIT = 10


class SmsRefused(DomainError):
    message = N_("The verification code could not be sent.")


class CodeInvalid(DomainError):
    message = N_("The verification code is wrong or has expired; please request a new one.")


def check_mobile(phone: str) -> str:
    phone = normalize_mobile(phone)
    if not MOBILE.match(phone):
        raise SmsRefused(N_("Please enter an 11-digit mainland mobile number."))
    return phone


def _digest(phone: str, purpose: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{phone}|{purpose}|{code}".encode(), hashlib.sha256).hexdigest()


def send_code(phone: str, purpose: str) -> None:
    """Send a new code, unless this phone was sent one in the last minute or ten today.

    The message is recorded in its own unit of work before the refusal is raised: a message
    the provider refused stays in the outbox (no code was given out).
    """
    state, error_kind = _send_code(phone, purpose)
    if state not in sms.ACCEPTED:
        if error_kind == sms.INVALID_NUMBER:
            raise SmsRefused(N_("This number cannot receive SMS; please check it."))
        raise SmsRefused(N_("The SMS could not be sent just now; please try again later."))


@transactional
def _send_code(phone: str, purpose: str) -> tuple[str, str | None]:
    """Send and record the message (and the code, if the provider took it); its state."""
    assert purpose in PURPOSES
    phone = check_mobile(phone)
    now = clock.now()
    last = db.session.scalar(select(func.max(SmsCode.created_at)).where(SmsCode.phone == phone))
    if last and now - last < RESEND_AFTER:
        wait = math.ceil((RESEND_AFTER - (now - last)).total_seconds())
        raise SmsRefused(N_("A code was just sent to this number; you can ask again in %(seconds)s s."),
                         seconds=wait)
    day_start = dt.datetime.combine(now.date(), dt.time())
    sent_today = db.session.scalar(
        select(func.count()).select_from(SmsCode)
        .where(SmsCode.phone == phone, SmsCode.created_at >= day_start))
    if sent_today >= DAILY_LIMIT:
        raise SmsRefused(N_("This number has had %(limit)s codes today; please try again tomorrow."),
                         limit=DAILY_LIMIT)
    code = f"{secrets.randbelow(1_000_000):06d}"
    message = sms.send(phone, purpose, {"code": code})
    if message.state in sms.ACCEPTED:
        db.session.add(SmsCode(phone=phone, purpose=purpose,
                               code_hash=_digest(phone, purpose, code),
                               created_at=now, expires_at=now + LIFETIME))
    return message.state, message.error_kind


def consume_code(phone: str, purpose: str, code: str) -> None:
    """Accept the latest live code once; a wrong try counts, five wrong tries kill it.

    The success is not committed here: it lands with the caller's transaction, so a code
    is only used up by an action that actually happened. A wrong try is committed at once.
    """
    phone = normalize_mobile(phone)
    now = clock.now()
    row = db.session.scalars(
        select(SmsCode)
        .where(SmsCode.phone == phone, SmsCode.purpose == purpose)
        .order_by(SmsCode.created_at.desc(), SmsCode.id.desc())
        .limit(1)
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= now or row.attempts >= MAX_ATTEMPTS:
        raise CodeInvalid()
    live = (SmsCode.id == row.id, SmsCode.used_at.is_(None), SmsCode.attempts < MAX_ATTEMPTS)
    if not hmac.compare_digest(row.code_hash, _digest(phone, purpose, (code or "").strip())):
        # Counted in the database, so parallel guesses cannot share one count.
        db.session.execute(update(SmsCode).where(*live).values(attempts=SmsCode.attempts + 1))
        # Committed before the refusal rolls the caller back, or guessing would cost nothing.
        checkpoint()
        raise CodeInvalid()
    # Claimed in the database: of two requests with the same code, only one gets it.
    claimed = db.session.execute(update(SmsCode).where(*live).values(used_at=now))
    if claimed.rowcount != 1:
        raise CodeInvalid()
