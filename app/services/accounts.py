"""Passwords: forgotten (SMS code to the enterprise's mobile) and changed (old one required);
sessions: logout and every password change end all of an account's sessions and API tokens."""
from typing import Any

from flask import current_app
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.services import N_, DomainError, audit, sms_codes
from app.services.codes import normalize_mobile, normalize_uscc
from app.services.transaction import transactional
from models.organisation import Enterprise
from models.user import JianpeiUser

MIN_PASSWORD = 8


class PasswordRefused(DomainError):
    message = N_("The password was not changed.")


class AccountMismatch(PasswordRefused):
    message = N_("The credit code and mobile number do not match a registered enterprise, or the "
                 "verification code is wrong.")


def _enterprise_account(uscc: str, mobile: str):
    uscc = normalize_uscc(uscc)
    mobile = normalize_mobile(mobile)
    enterprise = db.session.scalars(select(Enterprise).where(Enterprise.uscc == uscc)).first()
    user = current_app.appbuilder.sm.find_user(username=uscc)
    if enterprise is None or user is None or enterprise.contact_mobile != mobile:
        return None
    return user


def send_reset_code(uscc: str, mobile: str) -> None:
    """Send a reset code only if the account and mobile match.

    The outcome is the same either way, so that nobody learns which pairs are real: the
    phone's own limits (one code a minute, ten a day) still hold but refuse silently.
    """
    mobile = sms_codes.check_mobile(mobile)
    if _enterprise_account(uscc, mobile) is None:
        return
    try:
        sms_codes.send_code(mobile, sms_codes.RESET_PASSWORD)
    except sms_codes.SmsRefused:
        pass  # this phone's limit; saying so would tell a real pair from a wrong one


@transactional
def reset_password(uscc: str, mobile: str, code: str, password: str, confirm: str) -> None:
    """Set a new password after an SMS check; every session of the account ends."""
    check_new_password(password, confirm)
    user = _enterprise_account(uscc, mobile)
    if user is None:
        raise AccountMismatch()
    try:
        sms_codes.consume_code(normalize_mobile(mobile), sms_codes.RESET_PASSWORD, code)
    except sms_codes.CodeInvalid:
        raise AccountMismatch() from None
    _set(user, password, "account.reset_password")


@transactional
def change_password(user: Any, old: str, password: str, confirm: str) -> None:
    """The signed-in user's own change; other sessions of the account end."""
    if not check_password_hash(user.password or "", old or ""):
        raise PasswordRefused(N_("The current password is not right."))
    check_new_password(password, confirm)
    _set(user, password, "account.change_password")


@transactional
def set_password(user: Any, password: str) -> None:
    """An administrator's reset (Flask-AppBuilder's user list); every session of the account ends."""
    _set(user, password, "account.admin_reset_password")


@transactional
def sign_out(user: Any) -> None:
    """Logout ends every session and API token of the account on the server, not only a cookie."""
    _end_sessions(user)


def check_new_password(password: str, confirm: str) -> None:
    """The one password rule, for registration, reset and change."""
    if len(password or "") < MIN_PASSWORD:
        raise PasswordRefused(N_("The password must have at least %(n)s characters."),
                              n=MIN_PASSWORD)
    if password != confirm:
        raise PasswordRefused(N_("The two passwords are not the same."))


def _set(user: Any, password: str, action: str) -> None:
    user.password = generate_password_hash(password)
    _end_sessions(user)
    audit.record(action, user, region_code=user.enterprise.region_code if user.enterprise else None)


def _end_sessions(user: Any) -> None:
    """Sessions and tokens carry the session version they began at (views/security.py); bump it.

    In SQL, so that two bumps at once both count.
    """
    user.session_version = JianpeiUser.session_version + 1
