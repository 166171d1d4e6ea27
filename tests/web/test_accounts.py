"""Signing in, 忘记密码 and 修改密码 for enterprise accounts."""
from app import scope
from app.extensions import db
from tests.accounts_helpers import last_code
from tests.conftest import PASSWORD
from tests.factories import gen_enterprise, gen_user


def _enterprise_user(mobile="13800138000"):
    enterprise = gen_enterprise(contact_mobile=mobile)
    return enterprise, gen_user(scope.ENTERPRISE, enterprise.uscc, enterprise_id=enterprise.id)


def test_login_page_has_both_tabs_and_the_links(client):
    page = client.get("/login/").get_data(as_text=True)
    assert "统一社会信用代码" in page and "管理部门 / 培训机构" in page
    assert "/register/" in page and "/forgot-password/" in page


def test_same_message_for_unknown_account_and_wrong_password(app, client):
    _enterprise, user = _enterprise_user()
    unknown = client.post("/login/", data={"username": "91330100MA0000000X", "password": "x"},
                          follow_redirects=True).get_data(as_text=True)
    wrong = client.post("/login/", data={"username": user.username, "password": "wrong"},
                        follow_redirects=True).get_data(as_text=True)
    message = "无效的用户名或密码"
    assert message in unknown and message in wrong


def test_login_is_limited_per_account_from_any_address(make_app):
    app = make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="100 per minute",
                   AUTH_ACCOUNT_RATE_LIMIT="3 per hour")
    with app.app_context():
        _enterprise, user = _enterprise_user()
        codes = []
        for i in range(4):
            client = app.test_client()
            codes.append(client.post("/login/", data={"username": user.username, "password": "bad"},
                                     environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code)
        assert codes == [302, 302, 302, 429]
        other = app.test_client().post("/login/", data={"username": "someone", "password": "x"},
                                       environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert other.status_code == 302


def test_forgot_password_resets_and_ends_other_sessions(app, login_as):
    enterprise, user = _enterprise_user("13812345678")
    old_session = app.test_client()
    login_as(old_session, user)
    assert old_session.get("/my/enterprise/").status_code == 200

    client = app.test_client()
    client.post("/forgot-password/", data={"uscc": enterprise.uscc, "mobile": "13812345678",
                                           "action": "send"})
    code = last_code("13812345678")
    response = client.post("/forgot-password/", data={
        "uscc": enterprise.uscc, "mobile": "13812345678", "sms_code": code,
        "password": "NewSecret@1", "conf_password": "NewSecret@1", "action": "reset"})
    assert response.status_code == 302
    assert old_session.get("/my/enterprise/").status_code == 302  # signed out
    assert "/login/" in client.post("/login/", data={"username": user.username,
                                                     "password": PASSWORD}).headers["Location"]
    assert client.post("/login/", data={"username": user.username,
                                        "password": "NewSecret@1"}).headers["Location"] == "/"


def test_forgot_password_does_not_reveal_accounts(app, client):
    enterprise, _user = _enterprise_user("13812345678")
    page = client.post("/forgot-password/", data={"uscc": enterprise.uscc, "mobile": "13800000000",
                                                  "action": "send"}).get_data(as_text=True)
    assert "如信用代码与手机号匹配" in page
    from sqlalchemy import func, select

    from models.accounts import SmsMessage
    assert db.session.scalar(select(func.count()).select_from(SmsMessage)) == 0


def test_forgot_password_with_a_wrong_code_changes_nothing(app, client):
    enterprise, user = _enterprise_user("13812345678")
    before = user.password
    client.post("/forgot-password/", data={"uscc": enterprise.uscc, "mobile": "13812345678",
                                           "action": "send"})
    page = client.post("/forgot-password/", data={
        "uscc": enterprise.uscc, "mobile": "13812345678", "sms_code": "000000",
        "password": "NewSecret@1", "conf_password": "NewSecret@1",
        "action": "reset"}).get_data(as_text=True)
    assert "验证码错误" in page
    db.session.expire_all()
    assert db.session.get(type(user), user.id).password == before


def test_change_password_needs_the_old_one(app, login_as):
    _enterprise, user = _enterprise_user()
    other = app.test_client()
    login_as(other, user)
    client = app.test_client()
    login_as(client, user)
    assert "修改密码" in client.get("/").get_data(as_text=True)  # top-right menu
    page = client.post("/resetmypassword/form", data={
        "old_password": "wrong", "password": "Another@123", "conf_password": "Another@123"},
        follow_redirects=True).get_data(as_text=True)
    assert "原密码不正确" in page
    response = client.post("/resetmypassword/form", data={
        "old_password": PASSWORD, "password": "Another@123", "conf_password": "Another@123"})
    assert response.status_code == 302
    assert client.get("/my/enterprise/").status_code == 200  # this session carries on
    assert other.get("/my/enterprise/").status_code == 302  # the other one ended
