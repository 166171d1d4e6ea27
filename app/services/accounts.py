"""Passwords: forgotten (SMS code to the enterprise's mobile) and changed (old one required)."""
from typing import Any

from flask import current_app
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.services import N_, DomainError, audit, sms_codes
from app.services.codes import normalize_uscc
from models.organisation import Enterprise

MIN_PASSWORD = 8


class PasswordRefused(DomainError):
    message = N_("The password was not changed.")


class AccountMismatch(PasswordRefused):
    message = N_("The credit code and mobile number do not match a registered enterprise, or the "
                 "verification code is wrong.")


def _enterprise_account(uscc: str, mobile: str):
    uscc = normalize_uscc(uscc)
    mobile = sms_codes.normalize_mobile(mobile)
    enterprise = db.session.scalars(select(Enterprise).where(Enterprise.uscc == uscc)).first()
    user = current_app.appbuilder.sm.find_user(username=uscc)
    if enterprise is None or user is None or enterprise.contact_mobile != mobile:
        return None
    return user


def send_reset_code(uscc: str, mobile: str) -> bool:
    """Send a reset code only if the account and mobile match; callers say the same either way."""
    mobile = sms_codes.check_mobile(mobile)
    if _enterprise_account(uscc, mobile) is None:
        return False
    sms_codes.send_code(mobile, sms_codes.RESET_PASSWORD)
    return True


def reset_password(uscc: str, mobile: str, code: str, password: str, confirm: str) -> None:
    """Set a new password after an SMS check; every session of the account ends."""
    check_new_password(password, confirm)
    user = _enterprise_account(uscc, mobile)
    if user is None:
        raise AccountMismatch()
    try:
        sms_codes.consume_code(sms_codes.normalize_mobile(mobile), sms_codes.RESET_PASSWORD, code)
    except sms_codes.CodeInvalid:
        raise AccountMismatch() from None
    _set(user, password, "account.reset_password")


def change_password(user: Any, old: str, password: str, confirm: str) -> None:
    """The signed-in user's own change; other sessions of the account end."""
    if not check_password_hash(user.password or "", old or ""):
        raise PasswordRefused(N_("The current password is not right."))
    check_new_password(password, confirm)
    _set(user, password, "account.change_password")


def check_new_password(password: str, confirm: str) -> None:
    """The one password rule, for registration, reset and change."""
    if len(password or "") < MIN_PASSWORD:
        raise PasswordRefused(N_("The password must have at least %(n)s characters."),
                              n=MIN_PASSWORD)
    if password != confirm:
        raise PasswordRefused(N_("The two passwords are not the same."))


def _set(user: Any, password: str, action: str) -> None:
    user.password = generate_password_hash(password)
    user.session_version = (user.session_version or 0) + 1
    audit.record(action, user, region_code=user.enterprise.region_code if user.enterprise else None)
    db.session.commit()
