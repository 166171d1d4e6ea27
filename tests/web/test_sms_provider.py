"""Alibaba Cloud SMS against a local fake of the provider: an HTTP server on 127.0.0.1 that
speaks dysmsapi 2017-05-25 (SendSms, SendBatchSms, QuerySendDetails), with the official SDK's
endpoint pointed at it over http. No test reaches the internet."""
import datetime as dt
import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from app import create_app, scope
from app.config_loader import ConfigError
from app.extensions import db
from app.integrations import sms
from app.services import enterprises, notices, notifications, sms_codes, sms_templates
from models.accounts import SmsCode, SmsMessage
from models.notifications import Message, TraineeNotice
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_regulator, gen_user
from tests.helpers import path, visible_text
from tests.order_factories import gen_order

T0 = dt.datetime(2026, 11, 28, 10, 0)
KEY_ID = "LTAI5tFakeKeyId"
MOBILE = re.compile(r"1[3-9][0-9]{9}\Z")


class FakeAliyunSms:
    """What the provider does, as far as we rely on it: checks the signature header and the
    template, renders the approved text from TemplateParam, keeps receipts to be read later."""

    def __init__(self, templates: dict[str, str]):
        self.templates = templates  # template code -> approved body with ${name}
        self.requests: list[dict] = []
        self.sent: list[dict] = []  # {"phone", "text", "biz_id", "code"}
        self.errors: list[str] = []  # the next send requests are answered with these codes
        self.delay = 0.0  # seconds before answering a send: a timeout when above the SDK's
        self.receipts: dict[tuple, tuple] = {}  # (phone, biz_id) -> (SendStatus, ErrCode)
        self._biz = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def actions(self) -> list[str]:
        return [r["action"] for r in self.requests]

    def answer(self, action: str, query: dict, form: dict, headers) -> dict:
        auth = headers.get("Authorization", "")
        if not auth.startswith("ACS3-HMAC-SHA256 ") or f"Credential={KEY_ID}" not in auth:
            return {"Code": "IncompleteSignature", "Message": "no ACS3 signature"}
        if headers.get("x-acs-version") != "2017-05-25":
            return {"Code": "InvalidVersion", "Message": "version"}
        if action == "QuerySendDetails":
            return self._details(query)
        if action not in ("SendSms", "SendBatchSms"):
            return {"Code": "InvalidAction.NotFound", "Message": action}
        if self.delay:
            time.sleep(self.delay)
        if self.errors:
            code = self.errors.pop(0)
            return {"Code": code, "Message": f"fake {code}", "RequestId": "fake"}
        if action == "SendSms":
            phones = query["PhoneNumbers"].split(",")
            signs = [query["SignName"]] * len(phones)
            params = [json.loads(query.get("TemplateParam", "{}"))] * len(phones)
            code = query["TemplateCode"]
        else:
            phones = json.loads(form["PhoneNumberJson"])
            signs = json.loads(form["SignNameJson"])
            params = json.loads(form["TemplateParamJson"])
            code = query["TemplateCode"]
        if code not in self.templates:
            return {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "模板不合法"}
        if not all(MOBILE.match(p) for p in phones) or len(phones) != len(params):
            return {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"}
        texts = []
        for sign, values in zip(signs, params):
            try:
                texts.append(f"【{sign}】" + re.sub(r"\$\{([a-z_]+)\}",
                                                  lambda m: str(values[m.group(1)]),
                                                  self.templates[code]))
            except KeyError:
                return {"Code": "isv.TEMPLATE_MISSING_PARAMETERS", "Message": "缺少参数"}
        self._biz += 1
        biz_id = f"{900000 + self._biz}^0"
        for phone, text in zip(phones, texts):
            self.sent.append({"phone": phone, "text": text, "biz_id": biz_id, "code": code})
        return {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": "fake"}

    def _details(self, query: dict) -> dict:
        phone, biz_id = query.get("PhoneNumber"), query.get("BizId")
        assert re.fullmatch(r"[0-9]{8}", query.get("SendDate", "")), query
        found = [s for s in self.sent if s["phone"] == phone and s["biz_id"] == biz_id]
        rows = []
        for item in found:
            status, err = self.receipts.get((phone, biz_id), (1, ""))
            rows.append({"PhoneNum": phone, "SendStatus": status, "ErrCode": err,
                         "TemplateCode": item["code"], "Content": item["text"],
                         "SendDate": "2026-11-28 10:00:00",
                         "ReceiveDate": "2026-11-28 10:00:05" if status != 1 else ""})
        return {"Code": "OK", "Message": "OK", "RequestId": "fake", "TotalCount": len(rows),
                "SmsSendDetailDTOs": {"SmsSendDetailDTO": rows}}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length).decode()
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                action = self.headers.get("x-acs-action", "")
                fake.requests.append({"action": action, "query": query, "form": form,
                                      "auth": self.headers.get("Authorization", "")})
                body = json.dumps(fake.answer(action, query, form, self.headers),
                                  ensure_ascii=False).encode()
                try:
                    self.send_response(200)
                    self.send_header("content-type", "application/json;charset=utf-8")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up (timeout)
                    pass

            def log_message(self, *args):
                pass

        return Handler


def _codes() -> dict[str, str]:
    return {t.config_key: f"SMS_4650000{n:02d}" for n, t in enumerate(
        sms_templates.TEMPLATES.values())}


@pytest.fixture
def provider(app):
    """The app on SMS_BACKEND=aliyun, its SDK talking to the fake over http."""
    codes = _codes()
    fake = FakeAliyunSms({codes[t.config_key]: t.text for t in sms_templates.TEMPLATES.values()})
    app.config.update(SMS_BACKEND="aliyun", SMS_ENDPOINT=fake.endpoint, SMS_ACCESS_KEY_ID=KEY_ID,
                      SMS_ACCESS_KEY_SECRET="fake-secret", SMS_TIMEOUT_SECONDS=1, **codes)
    app.config["CLOCK_FROZEN_AT"] = T0
    yield fake
    fake.stop()


@pytest.fixture
def class_(app, provider, login_as):
    enterprise = gen_enterprise()
    plan = gen_plan(gen_institution(), contact="王老师 0571-88886666")
    trainees = [item.enrolment for item in gen_order(enterprise, plan, 3).items]  # paid
    for i, trainee in enumerate(trainees):
        trainee.mobile = f"1390000000{i}"
    db.session.commit()
    user = gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id)
    client = app.test_client()
    login_as(client, user)
    return {"plan": plan, "trainees": trainees, "user": user, "client": client}


def _notices() -> list[TraineeNotice]:
    db.session.expire_all()
    return list(db.session.scalars(select(TraineeNotice).order_by(TraineeNotice.id)))


def _outbox() -> list[SmsMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(SmsMessage).order_by(SmsMessage.id)))


# Codes ----------------------------------------------------------------------------------------

def test_a_registration_code_reaches_the_provider_and_never_the_log(app, client, provider,
                                                                     caplog):
    caplog.set_level(logging.DEBUG)
    phone = "13912345678"
    assert client.post("/register/sms", data={"mobile": phone}).status_code == 200
    [request] = provider.requests
    assert request["action"] == "SendSms" and request["auth"].startswith("ACS3-HMAC-SHA256 ")
    assert request["query"]["TemplateCode"] == app.config["SMS_TEMPLATE_REGISTER"]
    assert request["query"]["SignName"] == "建培"
    code = json.loads(request["query"]["TemplateParam"])["code"]
    [sent] = provider.sent
    assert sent["text"] == f"【建培】您的注册验证码是{code}，5分钟内有效。如非本人操作，请忽略。"
    [message] = _outbox()
    assert (message.state, message.biz_id) == ("submitted", sent["biz_id"])
    assert code not in message.text and "******" in message.text  # hashed codes stay secret
    assert phone not in caplog.text and code not in caplog.text
    assert "139****5678" in caplog.text
    sms_codes.consume_code(phone, sms_codes.REGISTER, code)  # the code the phone got works


def test_the_outbox_logs_neither_the_code_nor_the_number(app, caplog):
    caplog.set_level(logging.DEBUG)
    app.config["CLOCK_FROZEN_AT"] = T0
    sms_codes.send_code("13912345678", sms_codes.RESET_PASSWORD)
    [message] = _outbox()
    code = re.search(r"[0-9]{6}", message.text).group(0)  # the outbox shows it to admins
    assert message.state == "sent" and "重置密码" in message.text
    assert "13912345678" not in caplog.text and code not in caplog.text
    assert "139****5678" in caplog.text


def test_a_refused_code_says_why_and_gives_out_no_code(app, client, provider):
    provider.errors = ["isv.MOBILE_NUMBER_ILLEGAL"]
    page = client.post("/register/sms", data={"mobile": "13912345678"})
    assert page.status_code == 400 and "该号码无法接收短信" in page.json["error"]
    assert db.session.scalar(select(func.count()).select_from(SmsCode)) == 0
    [message] = _outbox()
    assert (message.state, message.error_code) == ("refused", "isv.MOBILE_NUMBER_ILLEGAL")
    provider.delay = 2  # above the 1 s timeout: nothing answered
    app.config["CLOCK_FROZEN_AT"] = T0 + dt.timedelta(minutes=2)
    page = client.post("/register/sms", data={"mobile": "13912345678"})
    assert page.status_code == 400 and "短信暂时无法发送" in page.json["error"]
    assert db.session.scalar(select(func.count()).select_from(SmsCode)) == 0
    assert _outbox()[-1].state == "retry"


# Trainee notices ------------------------------------------------------------------------------

def test_a_notice_to_many_trainees_is_one_batch_rendered_as_previewed(class_, provider):
    client, plan, trainees = class_["client"], class_["plan"], class_["trainees"]
    ids = [t.id for t in trainees]
    previewed = notices.preview(class_["user"], ids, "training")
    page = client.post(path("EnrolledView.notify_preview", plan_id=plan.id),
                       data={"ids": ids, "kind": "training"}).get_data(as_text=True)
    assert all(item.text in page for item in previewed)
    client.post(path("EnrolledView.notify_send", plan_id=plan.id),
                data={"ids": ids, "kind": "training"})
    assert provider.actions() == ["SendBatchSms"]
    # what the provider rendered from TemplateParam is exactly the preview
    assert {s["phone"]: s["text"] for s in provider.sent} == {
        item.enrolment.mobile: item.text for item in previewed}
    assert {n.state for n in _notices()} == {"sent"}
    messages = _outbox()
    assert len(messages) == 3 and {m.biz_id for m in messages} == {provider.sent[0]["biz_id"]}
    assert {m.state for m in messages} == {"submitted"}


@pytest.mark.parametrize("code, notice_state, message_state, label", [
    ("isv.BUSINESS_LIMIT_CONTROL", "queued", "retry", "短信服务商限流"),
    ("isv.MOBILE_NUMBER_ILLEGAL", "failed", "refused", "手机号码无效"),
    ("isv.SMS_TEMPLATE_ILLEGAL", "failed", "refused", "短信模板或签名未通过审核"),
    ("isv.AMOUNT_NOT_ENOUGH", "failed", "refused", "短信账户余额不足"),
])
def test_provider_errors_map_to_states_and_only_temporary_ones_are_retried(
        class_, provider, code, notice_state, message_state, label):
    provider.errors = [code]
    notices.send(class_["user"], [class_["trainees"][0].id], "training")
    [notice] = _notices()
    assert (notice.state, notice.attempts) == (notice_state, 1)
    assert label in notice.last_error and code in notice.last_error
    [message] = _outbox()
    assert (message.state, message.error_code) == (message_state, code)
    notifications.deliver_due()  # the minute task: only the temporary error is tried again
    [notice] = _notices()
    if notice_state == "queued":
        assert (notice.state, notice.attempts) == ("sent", 2) and len(provider.sent) == 1
    else:
        assert (notice.state, notice.attempts) == ("failed", 1) and provider.sent == []


def test_a_timeout_is_retried_then_failed(app, class_, provider):
    provider.delay = 2  # the SDK gives up after SMS_TIMEOUT_SECONDS = 1
    notices.send(class_["user"], [class_["trainees"][0].id], "training")
    [notice] = _notices()
    assert (notice.state, notice.attempts) == ("queued", 1)
    assert "短信服务暂不可用" in notice.last_error
    notifications.deliver_due()
    notifications.deliver_due()
    [notice] = _notices()
    assert (notice.state, notice.attempts) == ("failed", app.config["NOTIFY_RETRIES"])
    assert {m.state for m in _outbox()} == {"retry"}


def test_quiet_hours_and_the_daily_cap_apply_before_the_provider_is_called(app, class_,
                                                                          provider):
    user, trainee = class_["user"], class_["trainees"][0]
    app.config["CLOCK_FROZEN_AT"] = dt.datetime(2026, 11, 28, 22, 30)
    notices.send(user, [trainee.id], "training")
    notifications.deliver_due()
    assert provider.requests == [] and _notices()[0].state == "queued"
    app.config["CLOCK_FROZEN_AT"] = dt.datetime(2026, 11, 29, 8, 0)
    app.config["SMS_DAILY_CAP"] = 1
    notices.send(user, [trainee.id], "training", confirm_repeat=True)
    notifications.deliver_due()
    assert [s["phone"] for s in provider.sent] == [trainee.mobile]  # one of two went
    assert sorted(n.state for n in _notices()) == ["queued", "sent"]


# Receipts -------------------------------------------------------------------------------------

def test_receipts_arriving_late_are_recorded_and_shown(app, class_, provider, login_as):
    client, trainees = class_["client"], class_["trainees"]
    notices.send(class_["user"], [t.id for t in trainees], "training")
    biz_id = provider.sent[0]["biz_id"]
    assert sms.check_receipts() == {"delivered": 0, "failed": 0, "waiting": 3,
                                    "unconfirmed": 0, "errors": 0}
    assert "QuerySendDetails" in provider.actions()
    provider.receipts[(trainees[0].mobile, biz_id)] = (3, "DELIVERED")
    provider.receipts[(trainees[1].mobile, biz_id)] = (2, "MOBILE_NOT_ON_SERVICE")
    counts = sms.check_receipts()
    assert (counts["delivered"], counts["failed"], counts["waiting"]) == (1, 1, 1)
    states = {m.phone: (m.state, m.error_code) for m in _outbox()}
    assert states == {trainees[0].mobile: ("delivered", None),
                      trainees[1].mobile: ("failed", "MOBILE_NOT_ON_SERVICE"),
                      trainees[2].mobile: ("submitted", None)}
    detail = visible_text(client.get(path("TraineeView.detail", enrolment_id=trainees[1].id))
                          .get_data(as_text=True))
    assert "失败" in detail and "MOBILE_NOT_ON_SERVICE" in detail
    detail = visible_text(client.get(path("TraineeView.detail", enrolment_id=trainees[0].id))
                          .get_data(as_text=True))
    assert "已送达" in detail
    page = visible_text(client.post(path("EnrolledView.notify_preview",
                                         plan_id=class_["plan"].id),
                                    data={"ids": [trainees[0].id], "kind": "training"})
                        .get_data(as_text=True))
    assert "已送达" in page
    admin = app.test_client()
    login_as(admin, gen_user("Admin"))
    outbox = visible_text(admin.get("/console/console_sms_outbox/").get_data(as_text=True))
    assert "已送达" in outbox and "MOBILE_NOT_ON_SERVICE" in outbox and "139****" not in outbox
    # no receipt within 72 hours: we stop asking
    app.config["CLOCK_FROZEN_AT"] = T0 + dt.timedelta(hours=73)
    assert sms.check_receipts()["unconfirmed"] == 1
    assert sms.check_receipts()["waiting"] == 0


# Contact SMS of in-app messages -------------------------------------------------------------

def test_an_enterprise_contact_hears_through_the_provider(app, provider):
    reviewer = gen_regulator("330000", scope.PROVINCE_REGULATOR)
    enterprise = gen_enterprise(review_state="pending", contact_mobile="13711112222",
                                reviewing_authority_id=reviewer.authority_id)
    enterprises.reject(enterprise.id, reviewer, "营业执照不清晰")
    provider.errors = ["Throttling.User"]
    notifications.deliver_due()
    db.session.expire_all()
    [message] = db.session.scalars(select(Message)).all()
    assert message.sms_state == "queued"  # rate-limited: tried again next minute
    notifications.deliver_due()
    db.session.expire_all()
    message = db.session.get(Message, message.id)
    assert message.sms_state == "sent"
    [sent] = provider.sent
    assert sent["code"] == app.config["SMS_TEMPLATE_REVIEW_REJECTED"]
    assert sent["text"] == message.text and "注册审核未通过：营业执照不清晰" in sent["text"]


# Settings -------------------------------------------------------------------------------------

def test_every_purpose_has_a_template_code_setting_read_from_the_environment(monkeypatch):
    import config

    for template in sms_templates.TEMPLATES.values():
        assert template.config_key in config.ENV_KEYS
        assert not sms_templates.APPROVED_CODE.match(getattr(config, template.config_key))
    monkeypatch.setenv("SMS_TEMPLATE_EXAM_NOTICE", "SMS_123456789")
    monkeypatch.setenv("SMS_ENDPOINT", "http://127.0.0.1:9")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SMS_TEMPLATE_EXAM_NOTICE"] == "SMS_123456789"
    assert app.config["SMS_ENDPOINT"] == "http://127.0.0.1:9"


def test_production_refuses_the_outbox_missing_credentials_and_placeholders(monkeypatch):
    from tests.web.test_config import _production_env

    _production_env(monkeypatch)
    assert create_app().config["SMS_BACKEND"] == "aliyun"
    monkeypatch.setenv("SMS_BACKEND", "outbox")
    with pytest.raises(ConfigError, match="SMS_BACKEND"):
        create_app()
    _production_env(monkeypatch)
    monkeypatch.delenv("SMS_ACCESS_KEY_SECRET")
    with pytest.raises(ConfigError, match="SMS_ACCESS_KEY_SECRET"):
        create_app()
    _production_env(monkeypatch)
    monkeypatch.delenv("SMS_TEMPLATE_TRAINING_NOTICE")  # config.py's placeholder
    with pytest.raises(ConfigError, match="SMS_TEMPLATE_TRAINING_NOTICE"):
        create_app()
    _production_env(monkeypatch)
    monkeypatch.setenv("SMS_ENDPOINT", "http://sms.example.cn")
    with pytest.raises(ConfigError, match="https"):
        create_app()
