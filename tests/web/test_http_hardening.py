"""Issue 14, the HTTP edge: the anonymous payment notification is bounded (3), console exports
are neutralised (5), security headers (11), the production switch (12), malformed list
parameters (13) and the CSRF failure page (14)."""
import datetime as dt
import json
import logging
import re
import runpy
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import create_app, scope
from app.config_loader import ConfigError
from app.extensions import db
from app.integrations import alipay, alipay_sim
from app.integrations.alipay_sim import SimulatedTrade
from app.services import orders
from models.audit import AuditLog
from models.orders import Order, PaymentNotice
from tests.conftest import PASSWORD
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_user
from tests.helpers import path, visible_text
from tests.order_factories import gen_order, gen_trainees
from tests.web.test_config import _production_env
from views.orders import NOTIFY_MAX_BYTES

ROOT = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2026, 11, 28, 10, 0)


def _no_errors_logged(caplog) -> None:
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def enterprise_world(app, login_as):
    app.config["CLOCK_FROZEN_AT"] = T0
    plan = gen_plan(gen_institution("330100"), quota=5, fee=Decimal("680.00"),
                    enrol_start=T0 - dt.timedelta(days=1), enrol_end=T0 + dt.timedelta(days=10))
    enterprise = gen_enterprise("330100")
    user = gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id)
    client = app.test_client()
    login_as(client, user)
    gen_trainees(enterprise, plan, 2)
    order = orders.create_order(plan.id, user)
    return {"plan": plan, "enterprise": enterprise, "user": user, "client": client,
            "order": order}


@pytest.fixture
def admin_client(app, login_as):
    client = app.test_client()
    login_as(client, gen_user(scope.ADMIN))
    return client


# 3. The anonymous payment notification is bounded -----------------------------------------

def test_payment_notify_refuses_a_body_over_16_kb_before_parsing(client):
    audited = _count(AuditLog)
    assert NOTIFY_MAX_BYTES == 16 * 1024
    big = {"out_trade_no": "JP1", "subject": "x" * 20_000}  # far under the app's 16 MB
    response = client.post("/pay/notify", data=big)
    assert response.status_code == 413
    assert _count(PaymentNotice) == 0 and _count(AuditLog) == audited
    assert client.post("/pay/notify", data={"out_trade_no": "JP1"}).status_code == 400


def test_payment_notify_reads_no_more_than_16_kb_of_a_body_sent_without_a_length(client):
    # Chunked: no Content-Length, the server ends the stream. Reading stops at the cap, so a
    # field after it is never seen (the body is not buffered whole).
    body = ("subject=" + "x" * 40_000 + "&out_trade_no=JPTAIL").encode()
    response = client.post("/pay/notify", data=body,
                           content_type="application/x-www-form-urlencoded",
                           environ_overrides={"wsgi.input_terminated": True,
                                              "CONTENT_LENGTH": ""})
    assert response.status_code in (400, 413)
    assert db.session.scalars(select(PaymentNotice.out_trade_no)).all() in ([], [None])


def test_payment_notify_stores_bounded_fields_and_keeps_them_out_of_the_audit_log(client, caplog):
    huge_number = "=HYPERLINK(" + "A" * 3000
    fields = {"out_trade_no": huge_number, "subject": "B" * 9000, "sign": "C" * 2000}
    fields.update({f"f{i:04d}": "D" * 10 for i in range(40)})
    response = client.post("/pay/notify", data=fields)
    assert response.status_code == 400 and response.get_data(as_text=True) == "failure"
    notice = db.session.scalars(select(PaymentNotice)).one()
    assert notice.outcome == "rejected"
    assert len(notice.out_trade_no) <= 64
    assert len(notice.raw) <= orders.NOTICE_RAW_MAX + 100
    stored = json.loads(notice.raw)
    assert all(len(value) <= orders.NOTICE_FIELD_MAX + 1 for value in stored.values())
    assert stored["out_trade_no"].startswith("=HYPERLINK(AAA")  # what came is still readable
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "payment.rejected")).one()
    after = json.loads(audit.summary)["after"]
    assert set(after) == {"out_trade_no", "outcome", "notice"} and after["notice"] == notice.id
    assert len(after["out_trade_no"]) <= 65 and "BBBB" not in audit.summary
    assert "PAYMENT ALERT" in caplog.text
    assert max(len(r.getMessage()) for r in caplog.records) < 1000  # log lines are bounded


def test_payment_notify_with_very_many_fields_stores_a_bounded_notice(client):
    fields = {f"k{i:05d}": "v" * 5 for i in range(1200)}
    assert client.post("/pay/notify", data=fields).status_code == 400
    raw = db.session.scalars(select(PaymentNotice.raw)).one()
    assert len(raw) <= orders.NOTICE_RAW_MAX + 100
    assert "more fields left out" in raw


def test_a_genuine_notification_with_a_long_field_still_pays(enterprise_world):
    order = enterprise_world["order"]
    trade = SimulatedTrade(out_trade_no=order.out_trade_no, app_id="2021000100000001",
                           subject="培训费", total_amount=order.amount, status="TRADE_SUCCESS",
                           trade_no=f"2026112822001{order.id:08d}", created_at=T0, paid_at=T0,
                           notify_url=alipay.notify_url())
    db.session.add(trade)
    db.session.commit()
    fields = alipay_sim.notification_fields(trade)
    fields = alipay_sim.sign_notification({k: v for k, v in fields.items() if k != "sign"}
                                          | {"passback_params": "p" * 3000})
    response = enterprise_world["client"].post("/pay/notify", data=fields)
    assert response.get_data(as_text=True) == "success"  # verified on the fields as sent
    db.session.expire_all()
    assert db.session.get(Order, order.id).state == "paid"
    raw = json.loads(db.session.scalars(select(PaymentNotice.raw)).one())
    assert len(raw["passback_params"]) == orders.NOTICE_FIELD_MAX + 1  # stored cut


def test_payment_notify_is_rate_limited_per_address(make_app):
    app = make_app(RATELIMIT_ENABLED=True, PAYMENT_NOTIFY_RATE_LIMIT="3 per minute")
    client = app.test_client()
    stranger = {"REMOTE_ADDR": "203.0.113.9"}
    answers = [client.post("/pay/notify", data={"out_trade_no": "JP1"},
                           environ_base=stranger).status_code for _ in range(4)]
    assert answers == [400, 400, 400, 429]
    other = client.post("/pay/notify", data={"out_trade_no": "JP1"},
                        environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert other.status_code == 400  # Alipay's own address is counted apart
    with app.app_context():
        assert _count(PaymentNotice) == 4


# 5. Console exports are neutralised ------------------------------------------------------

def test_console_csv_export_neutralises_formulas(app, client, admin_client):
    client.post("/pay/notify", data={"out_trade_no": '=HYPERLINK("http://evil.example","x")'})
    gen_institution("330100", name="@SUM(1+1)*cmd")
    notices = admin_client.get("/console/console_payment_notice/export/csv/")
    assert notices.status_code == 200
    text = notices.get_data(as_text=True)
    assert "'=HYPERLINK" in text
    assert not re.search(r'(^|,)"?=HYPERLINK', text, re.M)
    institutions = admin_client.get("/console/console_institution/export/csv/")
    text = institutions.get_data(as_text=True)
    assert "'@SUM(1+1)*cmd" in text and not re.search(r"(^|,)@SUM", text, re.M)


# 11. Security headers --------------------------------------------------------------------

def _nonce(response) -> str:
    policy = response.headers["Content-Security-Policy"]
    found = re.search(r"script-src 'self' 'nonce-([A-Za-z0-9_-]+)'", policy)
    assert found, policy
    return found.group(1)


def _obeys_the_policy(response) -> None:
    """Every inline script carries this response's nonce; no inline handler, no javascript:."""
    html = response.get_data(as_text=True)
    nonce = _nonce(response)
    for tag in re.findall(r"<script\b[^>]*>", html):
        if "src=" not in tag:
            assert f'nonce="{nonce}"' in tag, tag
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", html), re.search(r"<[^>]+\son[a-z]+\s*=", html)
    assert "javascript:" not in html


def _framing_refused(response) -> None:
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_security_headers_on_public_pages_and_no_hsts_when_embedded(client):
    for page in ("/login/", "/register/", "/certificate-lookup/"):
        response = client.get(page)
        assert response.status_code == 200, page
        _framing_refused(response)
        _obeys_the_policy(response)
        assert "Strict-Transport-Security" not in response.headers
        assert response.headers.get("Cache-Control") != "no-store"  # nobody is signed in
    policy = client.get("/login/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "object-src 'none'" in policy
    assert client.get("/login/").headers["Content-Security-Policy"] != policy  # a nonce each


def test_pay_and_cancel_pages_cannot_be_framed_and_are_not_stored(enterprise_world):
    client = enterprise_world["client"]
    order = enterprise_world["order"]
    show = client.get(path("OrderView.show", pk=order.id))
    assert 'id="pay"' in show.get_data(as_text=True) and 'id="cancel"' in show.get_data(as_text=True)
    _framing_refused(show)
    _obeys_the_policy(show)  # the countdown and the cancel confirmation run under the nonce
    assert show.headers["Cache-Control"] == "no-store"
    for page in (path("OrderView.list"), "/trainees/"):
        response = client.get(page)
        assert response.status_code == 200, page
        assert response.headers["Cache-Control"] == "no-store", page
        _obeys_the_policy(response)
    static = client.get("/static/appbuilder/css/bootstrap.min.css")
    assert static.status_code == 200 and static.headers.get("Cache-Control") != "no-store"
    cashier_url = client.post(path("OrderView.pay", pk=order.id)).location
    cashier = client.get(cashier_url[len("http://localhost"):])
    assert cashier.status_code == 200
    _obeys_the_policy(cashier)  # the simulator's page posts its form to our own origin
    assert "form-action 'self' http://localhost" in cashier.headers["Content-Security-Policy"]


def test_enrolled_trainee_page_runs_its_select_all_under_the_nonce(enterprise_world):
    paid = gen_order(enterprise_world["enterprise"], enterprise_world["plan"], 1)
    response = enterprise_world["client"].get(path("EnrolledView.plan", plan_id=paid.plan_id))
    assert response.status_code == 200
    assert 'id="select-all"' in response.get_data(as_text=True)
    _obeys_the_policy(response)
    assert response.headers["Cache-Control"] == "no-store"  # full ID numbers


def test_admin_list_pages_pass_the_policy_and_the_console_allows_its_inline_handlers(
        admin_client):
    for page in ("/enterpriseview/list/", "/users/list/", "/trainingplanview/list/"):
        response = admin_client.get(page)
        assert response.status_code == 200, page
        _obeys_the_policy(response)
    console = admin_client.get("/console/console_occupation/")
    assert console.status_code == 200
    _framing_refused(console)
    policy = console.headers["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-inline'" in policy and "nonce-" not in policy
    assert console.headers["Cache-Control"] == "no-store"


def test_production_sends_hsts_and_secure_cookies(monkeypatch, tmp_path):
    _production_env(monkeypatch)
    local = tmp_path / "local.py"
    local.write_text("SESSION_COOKIE_SECURE = False\n")
    monkeypatch.setenv("JIANPEI_CONFIG", str(local))
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True  # production sets it, whatever the file says
    response = app.test_client().get("/favicon.ico")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    policy = response.headers["Content-Security-Policy"]
    assert "https://openapi-sandbox.dl.alipaydev.com" in policy  # the pay form's gateway


# 12. The production switch ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["Production", "prod", "PRODUCTION", "staging", ""])
def test_production_switch_refuses_unknown_environment_names(monkeypatch, name):
    monkeypatch.setenv("JIANPEI_ENV", name)
    with pytest.raises(ConfigError, match="JIANPEI_ENV"):
        create_app()


def test_production_refuses_an_http_public_base_url(monkeypatch):
    _production_env(monkeypatch)
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://jianpei.example.cn")
    with pytest.raises(ConfigError, match="https:// PUBLIC_BASE_URL"):
        create_app()


def test_serve_prod_binds_loopback_unless_told(monkeypatch):
    for key in ("GUNICORN_BIND", "HOST", "PORT"):
        monkeypatch.delenv(key, raising=False)
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["bind"] == "127.0.0.1:8000"
    monkeypatch.setenv("HOST", "0.0.0.0")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["bind"] == "0.0.0.0:8000"
    monkeypatch.setenv("GUNICORN_BIND", "10.0.0.5:9000")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["bind"] == "10.0.0.5:9000"
    assert "127.0.0.1" in (ROOT / "deploy" / "serve-prod.sh").read_text()


# 13. Malformed list parameters -----------------------------------------------------------

MALFORMED = [
    "/trainees/?year=9999",
    "/trainees/?cursor=99999999999999999999",
    "/trainees/?cursor=WyJlbnJvbGxlZCIsMSwiMjAyNiJd.forged",  # not signed by this server
    "/trainees/?cursor=%D9%A3",
    "/trainees/?plan_id=99999999999999999999",
    "/enterpriseview/list/?_oc_EnterpriseView=password&_od_EnterpriseView=asc",
    "/enterpriseview/list/?_oc_EnterpriseView=ocr_result&_od_EnterpriseView=desc",
    "/enterpriseview/list/?page_EnterpriseView=99999999999999999999",
    "/enterpriseview/list/?page_EnterpriseView=abc",
    "/enterpriseview/list/?page_EnterpriseView=-1",
    "/enterpriseview/list/?psize_EnterpriseView=100000000",
    "/trainingplanview/list/?psize_TrainingPlanView=101",
    "/users/list/?page_JianpeiUserDBModelView=1e9",
    "/users/list/?_oc_JianpeiUserDBModelView=password&_od_JianpeiUserDBModelView=asc",
    "/console/console_audit_log/?page=99999999999999999999",
    "/console/console_audit_log/?page=-1",
    "/console/console_audit_log/export/csv/?page=99999999999999999999",
    "/console/console_payment_notice/?sort=x",
]


@pytest.mark.parametrize("url", MALFORMED)
def test_malformed_list_parameters_answer_400_not_500(admin_client, caplog, url):
    response = admin_client.get(url)
    assert response.status_code in (400, 404), (url, response.status_code)
    _no_errors_logged(caplog)


def test_huge_fab_page_arguments_on_the_console_are_ignored_not_500(admin_client, caplog):
    response = admin_client.get("/console/console_audit_log/?page_EnterpriseView=" + "9" * 30)
    assert response.status_code == 200
    _no_errors_logged(caplog)


def test_trainee_export_with_a_malformed_year_answers_400(admin_client):
    assert admin_client.post("/trainees/export", data={"year": "9999"}).status_code == 400


def test_well_formed_list_parameters_still_work(admin_client):
    gen_enterprise("330100", name="甲")
    for url in ("/enterpriseview/list/?_oc_EnterpriseView=name&_od_EnterpriseView=asc"
                "&psize_EnterpriseView=100&page_EnterpriseView=0",
                "/trainees/?year=2026&page=2&plan_id=1",
                "/console/console_audit_log/?page=1&sort=0&desc=1",
                "/console/console_payment_notice/export/csv/"):
        assert admin_client.get(url).status_code == 200, url


def _token(client, user) -> dict:
    response = client.post("/api/v1/security/login", json={
        "username": user.username, "password": PASSWORD, "provider": "db"})
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def test_rest_api_filters_and_orders_only_by_the_columns_it_shows(app, client):
    enterprise = gen_enterprise("330100", name="杭州甲", ocr_result="秘密的营业执照文字")
    enterprise.licence_file = "secret-key.jpg"
    db.session.commit()
    headers = _token(client, gen_user(scope.ADMIN))
    for column in ("ocr_result", "licence_file", "contact_mobile"):
        query = f"(filters:!((col:{column},opr:ct,value:秘密)))"
        response = client.get(f"/api/v1/enterprise/?q={query}", headers=headers)
        assert response.status_code == 400, column
        ordered = client.get(f"/api/v1/enterprise/?q=(order_column:{column},order_direction:asc)",
                             headers=headers)
        assert ordered.status_code == 400, column
    shown = client.get("/api/v1/enterprise/?q=(filters:!((col:name,opr:ct,value:杭州)))",
                       headers=headers)
    assert [row["name"] for row in shown.get_json()["result"]] == ["杭州甲"]
    info = client.get("/api/v1/enterprise/_info?q=(keys:!(filters))", headers=headers).get_json()
    assert not {"ocr_result", "licence_file", "commitment_file", "qualification_file",
                "contact_mobile"} & set(info["filters"])
    plans = client.get("/api/v1/plan/_info?q=(keys:!(filters))", headers=headers).get_json()
    assert "notes" not in plans["filters"] and "contact" not in plans["filters"]


# 14. The CSRF failure page ---------------------------------------------------------------

def _csrf_token(client) -> str:
    page = client.get("/login/").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_csrf_failure_page_renders_for_visitors_and_signed_in_users(make_app, caplog):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    refused = client.post("/register/", data={})
    assert refused.status_code == 400
    assert "表单已过期" in visible_text(refused.get_data(as_text=True))
    with app.app_context():
        user = gen_user(scope.ADMIN)
        name = user.username
    signed_in = client.post("/login/", data={"username": name, "password": PASSWORD,
                                             "csrf_token": _csrf_token(client)})
    assert signed_in.status_code == 302
    for url in ("/orders/cancel/1", "/trainees/export"):
        refused = client.post(url, data={})
        assert refused.status_code == 400, url
        page = visible_text(refused.get_data(as_text=True))
        assert "表单已过期" in page and name in page  # the full layout, the user's menu
    _no_errors_logged(caplog)
