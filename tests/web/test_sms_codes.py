"""Verification codes: random, hashed, five minutes, bound to phone and purpose, not floodable."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.services import sms_codes
from models.accounts import SmsCode, SmsMessage
from tests.accounts_helpers import last_code

T0 = dt.datetime(2026, 5, 1, 10, 0)
PHONE = "13700001111"


@pytest.fixture
def at(app):
    def _at(when):
        app.config["CLOCK_FROZEN_AT"] = when
    _at(T0)
    return _at


def _messages():
    return db.session.scalar(select(func.count()).select_from(SmsMessage))


def test_code_is_six_random_digits_stored_hashed(app, at):
    sms_codes.send_code(PHONE, sms_codes.REGISTER)
    code = last_code(PHONE)
    row = db.session.scalars(select(SmsCode)).one()
    assert len(code) == 6 and code not in row.code_hash
    assert row.expires_at - row.created_at == dt.timedelta(minutes=5)
    sms_codes.consume_code(PHONE, sms_codes.REGISTER, code)
    assert row.used_at == T0


def test_code_is_bound_to_purpose_and_phone(app, at):
    sms_codes.send_code(PHONE, sms_codes.REGISTER)
    code = last_code(PHONE)
    with pytest.raises(sms_codes.CodeInvalid):
        sms_codes.consume_code(PHONE, sms_codes.RESET_PASSWORD, code)
    with pytest.raises(sms_codes.CodeInvalid):
        sms_codes.consume_code("13700002222", sms_codes.REGISTER, code)


def test_code_expires_after_five_minutes(app, at):
    sms_codes.send_code(PHONE, sms_codes.REGISTER)
    code = last_code(PHONE)
    at(T0 + dt.timedelta(minutes=5))
    with pytest.raises(sms_codes.CodeInvalid):
        sms_codes.consume_code(PHONE, sms_codes.REGISTER, code)


def test_five_wrong_tries_kill_the_code(app, at):
    sms_codes.send_code(PHONE, sms_codes.REGISTER)
    code = last_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(sms_codes.CodeInvalid):
            sms_codes.consume_code(PHONE, sms_codes.REGISTER, wrong)
    with pytest.raises(sms_codes.CodeInvalid):
        sms_codes.consume_code(PHONE, sms_codes.REGISTER, code)
    assert db.session.scalars(select(SmsCode.attempts)).one() == 5


def test_one_send_per_minute(app, at):
    sms_codes.send_code(PHONE, sms_codes.REGISTER)
    at(T0 + dt.timedelta(seconds=30))
    with pytest.raises(sms_codes.SmsRefused, match="30"):
        sms_codes.send_code(PHONE, sms_codes.RESET_PASSWORD)
    assert _messages() == 1  # a refused send sends nothing
    at(T0 + dt.timedelta(seconds=61))
    sms_codes.send_code(PHONE, sms_codes.REGISTER)
    assert _messages() == 2


def test_ten_per_phone_per_day(app, at):
    for i in range(10):
        at(T0 + dt.timedelta(minutes=2 * i))
        sms_codes.send_code(PHONE, sms_codes.REGISTER)
    at(T0 + dt.timedelta(hours=3))
    with pytest.raises(sms_codes.SmsRefused) as refused:
        sms_codes.send_code(PHONE, sms_codes.REGISTER)
    assert "明天" in str(refused.value)
    assert _messages() == 10
    at(dt.datetime.combine(T0.date() + dt.timedelta(days=1), dt.time(0, 1)))
    sms_codes.send_code(PHONE, sms_codes.REGISTER)
    assert _messages() == 11


def test_bad_mobile_sends_nothing(client):
    answer = client.post("/register/sms", data={"mobile": "12345"})
    assert answer.status_code == 400 and "11 位" in answer.get_json()["error"]
    assert _messages() == 0


def test_flooding_the_endpoint(client, at):
    codes = [client.post("/register/sms", data={"mobile": PHONE}).status_code for _ in range(3)]
    assert codes == [200, 400, 400]
    assert _messages() == 1


def test_outbox_is_visible_to_admin_in_console(app, client, login_as, at):
    from tests.factories import gen_user

    sms_codes.send_code(PHONE, sms_codes.REGISTER)
    login_as(client, gen_user("Admin"))
    page = client.get("/console/console_sms_outbox/").get_data(as_text=True)
    assert PHONE in page and last_code(PHONE) in page
    assert clock.now() == T0
