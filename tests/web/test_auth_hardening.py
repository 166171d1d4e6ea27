"""Issue 14: the REST login shares the login form's limits (2), API tokens and sessions end on
password change, reset and logout (6, 16), 修改手机号 codes are limited (7), and 忘记密码
answers a real pair as it answers a wrong one (15)."""
import re

from flask_appbuilder.security.sqla.models import Role
from sqlalchemy import func, select

from app import scope
from app.extensions import db
from models.accounts import SmsMessage
from tests.accounts_helpers import last_code
from tests.conftest import PASSWORD
from tests.factories import gen_enterprise, gen_user

API_LOGIN = "/api/v1/security/login"
API_REFRESH = "/api/v1/security/refresh"


def _enterprise_user(mobile="13800138000"):
    enterprise = gen_enterprise(contact_mobile=mobile)
    return enterprise, gen_user(scope.ENTERPRISE, enterprise.uscc, enterprise_id=enterprise.id)


def _api_login(app, username, password, address="10.0.0.1"):
    return app.test_client().post(API_LOGIN, json={
        "username": username, "password": password, "provider": "db", "refresh": True},
        environ_base={"REMOTE_ADDR": address})


def _web_login(app, username, password, address="10.0.0.1"):
    return app.test_client().post("/login/", data={"username": username, "password": password},
                                  environ_base={"REMOTE_ADDR": address})


def _tokens(client, user, password=PASSWORD):
    response = client.post(API_LOGIN, json={"username": user.username, "password": password,
                                            "provider": "db", "refresh": True})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"], response.get_json()["refresh_token"]


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _api_status(client, access):
    return client.get("/api/v1/enterprise/", headers=_bearer(access)).status_code


def _refresh_status(client, refresh):
    return client.post(API_REFRESH, headers=_bearer(refresh)).status_code


# 2. The REST login has the login form's limits, in the same buckets.

def test_rest_login_is_rate_limited_per_address(make_app):
    app = make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="5 per minute",
                   AUTH_ACCOUNT_RATE_LIMIT="100 per hour")
    with app.app_context():
        _enterprise, user = _enterprise_user()
        codes = [_api_login(app, user.username, "wrong").status_code for _ in range(5)]
        assert codes == [401] * 5
        refused = _api_login(app, user.username, PASSWORD)
        assert refused.status_code == 429
        assert refused.get_json() == {"message": "尝试次数过多，请稍后再试。"}
        assert "access_token" not in refused.get_data(as_text=True)
        assert _web_login(app, user.username, PASSWORD).status_code == 429  # same address bucket
        assert _api_login(app, user.username, PASSWORD, address="10.0.0.2").status_code == 200


def test_rest_login_is_rate_limited_per_account_after_web_form_guesses(make_app):
    app = make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="100 per minute",
                   AUTH_ACCOUNT_RATE_LIMIT="4 per hour")
    with app.app_context():
        _enterprise, user = _enterprise_user()
        web = [_web_login(app, user.username, "wrong", f"10.0.1.{i}").status_code for i in range(4)]
        assert web == [302] * 4  # back to the login page
        refused = _api_login(app, user.username, PASSWORD, "10.0.2.1")
        assert refused.status_code == 429
        assert refused.get_json()["message"] == "尝试次数过多，请稍后再试。"
        # Another spelling of the same account counts against the same limit.
        assert _api_login(app, user.username.lower(), PASSWORD, "10.0.2.2").status_code == 429
        assert _api_login(app, user.email, PASSWORD, "10.0.2.3").status_code == 429
        _other_enterprise, other = _enterprise_user()
        assert _api_login(app, other.username, PASSWORD, "10.0.2.4").status_code == 200


def test_rest_login_guesses_use_up_the_web_forms_account_limit(make_app):
    app = make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="100 per minute",
                   AUTH_ACCOUNT_RATE_LIMIT="4 per hour")
    with app.app_context():
        _enterprise, user = _enterprise_user()
        api = [_api_login(app, user.username, "wrong", f"10.0.1.{i}").status_code for i in range(4)]
        assert api == [401] * 4
        refused = _web_login(app, user.username, PASSWORD, "10.0.2.1")
        assert refused.status_code == 429
        assert "尝试次数过多" in refused.get_data(as_text=True)  # the form gets the Chinese page


def test_token_refresh_is_not_counted_as_a_sign_in(make_app):
    app = make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="2 per minute",
                   AUTH_ACCOUNT_RATE_LIMIT="2 per hour")
    with app.app_context():
        _enterprise, user = _enterprise_user()
        client = app.test_client()
        _access, refresh = _tokens(client, user)
        assert [_refresh_status(client, refresh) for _ in range(3)] == [200] * 3


# 6. API tokens end with a password change or reset, as web sessions do.

def test_api_tokens_stop_working_after_a_password_change(app, client, login_as):
    _enterprise, user = _enterprise_user()
    access, refresh = _tokens(client, user)
    assert _api_status(client, access) == 200
    login_as(client, user)
    response = client.post("/resetmypassword/form", data={
        "old_password": PASSWORD, "password": "Another@123", "conf_password": "Another@123"})
    assert response.status_code == 302
    api = app.test_client()
    assert _api_status(api, access) == 401
    assert _refresh_status(api, refresh) == 401
    new_access, _new_refresh = _tokens(api, user, "Another@123")
    assert _api_status(api, new_access) == 200


def test_api_tokens_stop_working_after_a_password_reset(app, client):
    enterprise, user = _enterprise_user("13812345678")
    access, refresh = _tokens(client, user)
    client.post("/forgot-password/", data={"uscc": enterprise.uscc, "mobile": "13812345678",
                                           "action": "send"})
    response = client.post("/forgot-password/", data={
        "uscc": enterprise.uscc, "mobile": "13812345678", "sms_code": last_code("13812345678"),
        "password": "NewSecret@1", "conf_password": "NewSecret@1", "action": "reset"})
    assert response.status_code == 302
    assert _api_status(client, access) == 401
    assert _refresh_status(client, refresh) == 401


def test_api_tokens_and_sessions_stop_working_after_an_admins_reset(app, client, login_as):
    _enterprise, user = _enterprise_user()
    access, _refresh = _tokens(client, user)
    session = app.test_client()
    login_as(session, user)
    admin = app.test_client()
    login_as(admin, gen_user(scope.ADMIN))
    response = admin.post(f"/resetpassword/form?pk={user.id}",
                          data={"password": "Admin@Reset1", "conf_password": "Admin@Reset1"})
    assert response.status_code == 302
    assert _api_status(client, access) == 401
    assert session.get("/my/enterprise/").status_code == 302  # signed out
    assert _api_status(client, _tokens(client, user, "Admin@Reset1")[0]) == 200


def test_an_admin_cannot_set_a_short_password(app, login_as):
    """The one password rule holds in Flask-AppBuilder's own forms too: the admin's reset from
    the user list, and 添加用户."""
    _enterprise, user = _enterprise_user()
    before = user.password
    admin = app.test_client()
    login_as(admin, gen_user(scope.ADMIN))
    response = admin.post(f"/resetpassword/form?pk={user.id}",
                          data={"password": "Ab@1", "conf_password": "Ab@1"})
    assert response.status_code == 200
    assert "密码至少需要 8 个字符" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(user), user.id).password == before
    added = admin.post("/users/add", data={
        "first_name": "张", "last_name": "三", "username": "short-pw", "active": "y",
        "email": "short@example.com", "roles": [str(db.session.scalar(
            select(Role.id).where(Role.name == scope.ADMIN)))],
        "password": "Ab@1", "conf_password": "Ab@1"})
    assert added.status_code == 200 and "密码至少需要 8 个字符" in added.get_data(as_text=True)
    assert app.appbuilder.sm.find_user(username="short-pw") is None


# 16. Logout ends the session on the server.

def test_only_the_menus_form_signs_out(make_app):
    """Signing out ends the account's sessions everywhere and its API tokens: a GET (a link,
    an image on another site) only asks, and a POST needs the form's CSRF token."""
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        _enterprise, user = _enterprise_user()
        client = app.test_client()
        login = client.get("/login/").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login).group(1)
        assert client.post("/login/", data={"username": user.username, "password": PASSWORD,
                                            "csrf_token": token}).status_code == 302
        home = client.get("/my/enterprise/").get_data(as_text=True)
        menu = re.search(r'<form method="post" action="/logout/" class="logout-form">.*?</form>',
                         home, re.S).group(0)
        assert 'name="csrf_token"' in menu and "退出登录" in menu
        asked = client.get("/logout/")
        assert asked.status_code == 200 and "将结束本账号在所有设备上的登录" in asked.get_data(as_text=True)
        assert client.post("/logout/").status_code == 400  # no token: a forged form
        assert client.get("/my/enterprise/").status_code == 200  # still signed in
        form_token = re.search(r'name="csrf_token" value="([^"]+)"', menu).group(1)
        assert client.post("/logout/", data={"csrf_token": form_token}).status_code == 302
        assert client.get("/my/enterprise/").status_code == 302
        assert client.get("/logout/").status_code == 302  # signed out: to the login page


def test_logout_ends_a_copied_session_cookie_and_api_tokens(app, client, login_as):
    _enterprise, user = _enterprise_user()
    access, refresh = _tokens(app.test_client(), user)
    login_as(client, user)
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert copy.get("/my/enterprise/").status_code == 200
    client.post("/logout/")
    assert client.get("/my/enterprise/").status_code == 302
    signed_out = copy.get("/my/enterprise/")
    assert signed_out.status_code == 302 and "/login/" in signed_out.headers["Location"]
    api = app.test_client()
    assert _api_status(api, access) == 401
    assert _refresh_status(api, refresh) == 401
    login_as(client, user)  # signing in again starts a new session
    assert client.get("/my/enterprise/").status_code == 200


# 7. 修改手机号 codes are limited per user and per address.

def _signed_in(app, user):
    client = app.test_client()
    client.post("/login/", data={"username": user.username, "password": PASSWORD},
                environ_base={"REMOTE_ADDR": "10.9.9.9"})
    return client


def _send_code(client, mobile, address):
    return client.post("/my/enterprise/mobile-code", data={"mobile": mobile},
                       environ_base={"REMOTE_ADDR": address})


def _messages():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(SmsMessage))


def test_mobile_code_is_rate_limited_per_user(make_app):
    app = make_app(RATELIMIT_ENABLED=True, MOBILE_CODE_RATE_LIMIT="3 per hour")
    with app.app_context():
        _enterprise, user = _enterprise_user()
        client = _signed_in(app, user)
        answers = [_send_code(client, f"1390000000{i}", f"10.0.0.{i}") for i in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        assert answers[-1].get_json() == {"ok": False, "error": "验证码请求过于频繁，请稍后再试。"}
        assert _messages() == 3
        # The page's other forms are not limited by it.
        codes = [client.post("/my/enterprise/sms-preference", data={"opt_out": "1"}).status_code
                 for _ in range(4)]
        assert codes == [302] * 4


def test_mobile_code_is_rate_limited_per_address(make_app):
    app = make_app(RATELIMIT_ENABLED=True, MOBILE_CODE_RATE_LIMIT="3 per hour")
    with app.app_context():
        first, second = _signed_in(app, _enterprise_user()[1]), _signed_in(app, _enterprise_user()[1])
        assert [_send_code(first, f"1390000000{i}", "10.0.0.1").status_code
                for i in range(3)] == [200] * 3
        assert _send_code(second, "13900000009", "10.0.0.1").status_code == 429
        assert _send_code(second, "13900000009", "10.0.0.2").status_code == 200
        assert _messages() == 4


# 15. 忘记密码 answers a real credit code and mobile pair as it answers a wrong one.

def _alerts(response) -> list[str]:
    html = response.get_data(as_text=True)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text)).replace("&times;", "").strip()
            for text in re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', html, re.S)]


def test_forgot_password_answers_the_same_for_a_real_and_a_wrong_pair(app, client):
    enterprise, _user = _enterprise_user("13812345678")
    other = gen_enterprise(contact_mobile="13900001111")
    asks = [
        (enterprise.uscc, "13812345678"), (enterprise.uscc, "13812345678"),  # real, twice
        (enterprise.uscc, "13800000000"), (enterprise.uscc, "13800000000"),  # wrong mobile
        (other.uscc, "13812345678"),  # another enterprise's code with this mobile
        ("91330100MA0000000X", "13812345678"),  # no such enterprise
    ]
    answers = [client.post("/forgot-password/", data={"uscc": uscc, "mobile": mobile,
                                                      "action": "send"})
               for uscc, mobile in asks]
    assert {a.status_code for a in answers} == {200}
    alerts = [_alerts(a) for a in answers]
    assert alerts[0] and all(a == alerts[0] for a in alerts), alerts
    assert "如信用代码与手机号匹配" in alerts[0][0]
    assert all("刚刚" not in a.get_data(as_text=True) for a in answers)
    db.session.expire_all()
    sent = db.session.scalars(select(SmsMessage.phone)).all()
    assert sent == ["13812345678"]  # the real pair got its one code
