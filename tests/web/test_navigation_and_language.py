"""Issue 15 (10, 11, 13): the left menu of the manual on every page, a real 个人信息 page per
role, the language switch that stays on its page, and no English or outside resource on the
Chinese pages (audit log, SMS outbox, Flask-AppBuilder's own pages, date picker)."""
import ast
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app import permissions, scope
from app.extensions import db
from app.menu import CATEGORY_LABELS, MY_ENTERPRISE
from app.services import audit
from models.accounts import SmsMessage
from models.audit import ACTION_LABELS, OBJECT_TYPE_LABELS, AuditLog
from models.states import ReviewState
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_regulator, gen_user
from tests.helpers import path
from tests.web.test_i18n import ALLOWED, _english_words

ROOT = Path(__file__).resolve().parents[2]
SIDEBAR = re.compile(r'(?s)<nav id="sidebar".*?</nav>')
# A resource or link on another host: src=/href= with an absolute or scheme-relative URL.
OUTSIDE = re.compile(r"""(?i)\b(?:src|href)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""")
CSS_OUTSIDE = re.compile(r"""(?i)(?:url\(\s*["']?|@import\s+["'])\s*((?:https?:)?//[^"')\s]+)""")
NOT_PAGES = ("/lang/", "/logout/")
# Flask-Admin's console is a tool of its own with its own navigation (no left menu).
OWN_LAYOUT = ("/console/",)
# Flask-AppBuilder's security lists show identifiers (role, permission and view names,
# usernames, e-mail addresses) in their cells: data, not interface text.
DATA_TABLES = ("/users/", "/roles/", "/groups/", "/permissions/", "/viewmenus/",
               "/permissionviews/")


@pytest.fixture
def accounts(app):
    enterprise = gen_enterprise(name="杭州导航测试建设有限公司", contact_person="王小明",
                                contact_mobile="13912345678")
    pending = gen_enterprise(name="杭州待审导航测试有限公司",
                             review_state=ReviewState.PENDING.value)
    institution = gen_institution(name="杭州导航测试培训中心")
    gen_plan(institution)
    return {
        "admin": gen_user(scope.ADMIN, "navadmin"),
        "enterprise": gen_user(scope.ENTERPRISE, enterprise.uscc, enterprise_id=enterprise.id),
        "pending": gen_user(scope.ENTERPRISE, pending.uscc, enterprise_id=pending.id),
        "institution": gen_user(scope.INSTITUTION, "navjigou", institution_id=institution.id),
        "city": gen_regulator("330100"),
        "province": gen_regulator("330000", scope.PROVINCE_REGULATOR),
    }


def _signed_in(app, login_as, user):
    client = app.test_client()
    login_as(client, user)
    return client


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def _sidebar(html: str) -> str:
    found = SIDEBAR.search(html)
    return found.group() if found else ""


def _outside(html: str, pattern=OUTSIDE) -> list[str]:
    return [url for url in pattern.findall(html)
            if urlsplit(url if "//" in url[:8] else "http:" + url).hostname
            not in ("localhost", "127.0.0.1")]


def _expected_categories(role: str) -> set[str]:
    if role == scope.ADMIN:  # every category but the enterprise's own, and FAB's 安全
        return set(CATEGORY_LABELS) - {MY_ENTERPRISE} | {"Security"}
    return {name for _, name in permissions.menu_permissions(role) if name in CATEGORY_LABELS}


# -- 13: the left menu -----------------------------------------------------------------------

@pytest.mark.parametrize("who", ["admin", "enterprise", "pending", "institution", "city",
                                 "province"])
def test_every_menu_page_has_the_left_menu_in_chinese_with_no_outside_resource(
        app, login_as, accounts, who):
    user = accounts[who]
    role = scope.primary_role(user)
    client = _signed_in(app, login_as, user)
    sidebar = _sidebar(_page(client, "/"))
    assert set(re.findall(r'data-category="([^"]+)"', sidebar)) == _expected_categories(role)
    links = [urlsplit(link).path for link in re.findall(r'<a href="([^"]+)"', sidebar)]
    pages = [p for p in dict.fromkeys(links + [path("ProfileView.show"),
                                               path("ChangeMyPasswordView.this_form_get")])
             if not p.startswith(NOT_PAGES)]
    assert len(pages) >= 4, pages
    allowed = ALLOWED | set(re.findall(r"[A-Za-z]{2,}", f"{user.username} {user.email}"))
    problems, stylesheets = [], set()
    for url in pages:
        html = _page(client, url)
        if not url.startswith(OWN_LAYOUT) and not _sidebar(html):
            problems.append(f"{url}: no left menu")
        for outside in _outside(html):
            problems.append(f"{url}: outside resource {outside}")
        text = re.sub(r"(?is)<td\b.*?</td>", " ", html) if url.startswith(DATA_TABLES) else html
        words = _english_words(text, allowed | {"lt", "gt", "amp", "quot", "laquo", "raquo"})
        if words:
            problems.append(f"{url}: English {sorted(words)}")
        stylesheets |= {s for s in re.findall(r'<link href="(/[^"]+\.css)"', html)}
    for sheet in sorted(stylesheets):  # what our style sheets load must be ours as well
        for outside in _outside(client.get(sheet).get_data(as_text=True), CSS_OUTSIDE):
            problems.append(f"{sheet}: outside resource {outside}")
    assert problems == []


def test_enterprise_left_menu_has_the_manuals_names_in_its_order(app, login_as, accounts):
    client = _signed_in(app, login_as, accounts["enterprise"])
    sidebar = _sidebar(_page(client, path("OpenPlanView.list")))
    headings = re.findall(r'class="jp-sidebar-heading">(?:<i[^>]*></i> )?([^<]+)<', sidebar)
    assert headings[:2] == ["企业", "报名"]  # 左侧菜单点击企业 … 点开左侧报名菜单
    entries = re.findall(r'<a href="[^"]+">(?:<i[^>]*></i> )?([^<]+)</a>', sidebar)
    assert entries[:6] == ["首页", "企业信息", "可报名培训计划", "订单", "已报名", "报名人员查询"]
    assert re.search(r'<li class="active" data-menu="OpenPlans">', sidebar)  # where one is
    # On a phone the menu folds behind one button (CSS shows it open from 768 px on).
    assert 'data-target="#sidebar-menu"' in sidebar and 'id="sidebar-menu"' in sidebar


def test_visitors_have_no_left_menu(client):
    assert _sidebar(client.get("/login/").get_data(as_text=True)) == ""


def test_top_bar_keeps_bell_language_and_user_menu_only(app, login_as, accounts):
    client = _signed_in(app, login_as, accounts["enterprise"])
    html = _page(client, "/")
    topbar = html[html.index('<header class="top"'):html.index("</header>")]
    assert 'id="messages"' in topbar and "/lang/en" in topbar and 'id="profile"' in topbar
    assert "dropdown-menu" in topbar and "可报名培训计划" not in topbar  # the menu is on the left


# -- 10: 个人信息 ------------------------------------------------------------------------------

def test_enterprise_profile_shows_its_account_enterprise_and_review_state(app, login_as,
                                                                           accounts):
    user = accounts["enterprise"]
    client = _signed_in(app, login_as, user)
    html = _page(client, "/")
    assert f'href="{path("ProfileView.show")}" id="profile"' in html  # the user menu's 个人信息
    page = _page(client, path("ProfileView.show"))
    text = re.sub(r"<[^>]+>", " ", page)
    for shown in (user.username, "杭州导航测试建设有限公司", "王小明", "139****5678", "审核通过",
                  "统一社会信用代码"):
        assert shown in text, shown
    assert "13912345678" not in page
    assert path("MyEnterpriseView.info") in page
    assert path("ChangeMyPasswordView.this_form_get") in page
    assert "@" not in text and "test.invalid" not in page  # no made-up e-mail address
    assert "名" not in re.findall(r"<th>([^<]*)</th>", page)  # no 名 / 姓 fields
    assert "姓" not in re.findall(r"<th>([^<]*)</th>", page)


def test_pending_enterprise_profile_shows_pending(app, login_as, accounts):
    client = _signed_in(app, login_as, accounts["pending"])
    assert "待审核" in _page(client, path("ProfileView.show"))


@pytest.mark.parametrize("who, shown", [
    ("institution", ["培训机构", "杭州导航测试培训中心", "杭州市"]),
    ("city", ["市级行政主管部门", "杭州市住房和城乡建设局", "杭州市"]),
    ("province", ["省级行政主管部门", "浙江省住房和城乡建设厅", "浙江省"]),
    ("admin", ["系统管理员", "navadmin"]),
])
def test_staff_profile_shows_role_and_organisation(app, login_as, accounts, who, shown):
    client = _signed_in(app, login_as, accounts[who])
    page = _page(client, path("ProfileView.show"))
    for text in shown:
        assert text in page, text
    assert "invalid" not in page


def test_flask_appbuilders_user_info_page_leads_to_the_profile(app, login_as, accounts):
    client = _signed_in(app, login_as, accounts["enterprise"])
    response = client.get(path("JianpeiUserDBModelView.userinfo"))
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == path("ProfileView.show")


def test_switching_language_stays_on_the_page_not_the_profile(app, login_as, accounts):
    client = _signed_in(app, login_as, accounts["enterprise"])
    _page(client, path("ProfileView.show"))
    _page(client, path("OrderView.list"))  # Flask-AppBuilder remembers its own list pages
    _page(client, path("MyEnterpriseView.info"))
    response = client.get("/lang/en", headers={"Referer": "http://localhost/my/enterprise/"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/my/enterprise/"
    assert 'lang="en"' in _page(client, "/my/enterprise/")
    back = client.get("/lang/zh_CN", headers={"Referer": "http://localhost/trainees/?name=x"})
    assert back.headers["Location"] == "/trainees/?name=x"


@pytest.mark.parametrize("referrer", [None, "https://evil.example/my/enterprise/",
                                      "http://localhost//evil.example/", "http://localhost/lang/en"])
def test_switching_language_never_leaves_the_site(app, login_as, accounts, referrer):
    client = _signed_in(app, login_as, accounts["enterprise"])
    headers = {"Referer": referrer} if referrer else {}
    response = client.get("/lang/en", headers=headers)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_unknown_language_is_404(app, login_as, accounts):
    client = _signed_in(app, login_as, accounts["enterprise"])
    assert client.get("/lang/xx").status_code == 404


# -- 11: English on Chinese pages ------------------------------------------------------------

def test_pages_say_they_are_chinese_and_the_date_picker_speaks_chinese(app, login_as,
                                                                        accounts, client):
    assert '<html lang="zh-CN">' in client.get("/login/").get_data(as_text=True)
    signed_in = _signed_in(app, login_as, accounts["institution"])
    form = _page(signed_in, path("TrainingPlanView.add"))
    assert '<html lang="zh-CN">' in form
    script = "/static/js/datepicker-zh-CN.js"
    assert form.index("bootstrap-datepicker.min.js") < form.index(script) < form.index("ab.js")
    js = signed_in.get(script).get_data(as_text=True)
    assert '"zh-CN"' in js and "一月" in js and "今天" in js


def _admin_console(app, login_as, accounts, url: str) -> str:
    return _page(_signed_in(app, login_as, accounts["admin"]), url)


def test_sms_outbox_shows_purposes_and_states_in_chinese(app, login_as, accounts):
    from app import clock

    for purpose in ("register", "reset_password", "change_mobile", "trainee_notice", "message"):
        db.session.add(SmsMessage(phone="13800138000", purpose=purpose, text="【建培】测试",
                                  created_at=clock.now(), state="sent"))
    db.session.commit()
    page = _admin_console(app, login_as, accounts, "/console/console_sms_outbox/")
    cells = re.findall(r"(?s)<td[^>]*>\s*([^<]*?)\s*</td>", page)
    for label in ("注册验证码", "重置密码验证码", "修改手机号验证码", "学员通知", "站内消息", "已发送"):
        assert label in cells, label
    for code in ("register", "reset_password", "change_mobile", "trainee_notice", "message",
                 "sent"):
        assert code not in cells, code


def test_audit_log_shows_actions_roles_and_objects_in_chinese(app, login_as, accounts):
    enterprise = db.session.get(type(accounts["enterprise"].enterprise),
                                accounts["enterprise"].enterprise_id)
    db.session.add(AuditLog(at=enterprise.created_at, username="hz", role="CityRegulator",
                            action="enterprise.approve", object_type="Enterprise",
                            object_id=str(enterprise.id), region_code="330100"))
    db.session.commit()
    client = _signed_in(app, login_as, accounts["enterprise"])  # a real password change
    client.post(path("ChangeMyPasswordView.this_form_post"),
                data={"old_password": "Test@12345", "password": "Neu@123456",
                      "conf_password": "Neu@123456"})
    assert db.session.scalars(select(AuditLog.object_type)
                              .where(AuditLog.action == "account.change_password")).one() \
        == "JianpeiUser"
    console = _admin_console(app, login_as, accounts, "/console/console_audit_log/")
    regulator = _page(_signed_in(app, login_as, accounts["city"]), path("AuditLogView.list"))
    for page, shown in ((console, ["修改本人密码", "企业", "用户账号", "企业审核通过",
                                   "市级行政主管部门"]),
                        (regulator, ["企业审核通过", "市级行政主管部门", "企业"])):
        cells = re.findall(r"(?s)<td[^>]*>\s*([^<]*?)\s*</td>", page)
        for text in shown:
            assert text in cells, text
        for raw in ("account.change_password", "enterprise.approve", "CityRegulator",
                    "Enterprise", "JianpeiUser", "LocalProxy"):
            assert raw not in cells, raw


def test_audit_record_of_current_user_names_the_user_not_localproxy(app):
    """A view that hands current_user to audit.record records the user row it stands for."""
    from flask_login import current_user, login_user

    user = gen_user(scope.ENTERPRISE, "proxytest")
    with app.test_request_context("/"):
        login_user(user)
        audit.record("account.change_password", current_user)
        db.session.commit()
    entry = db.session.scalars(select(AuditLog)).one()
    assert (entry.object_type, entry.object_id) == ("JianpeiUser", str(user.id))
    assert entry.username == "proxytest"


# Calls that hand an action code on to audit.record() (accounts._set, plans._transition, ...).
PASS_THROUGH = {"_set", "_transition", "_lapse", "record", "audit_note"}
# Codes built at run time (f-strings), by file: the values they take.
BUILT = {
    "app/services/orders.py": {"order.paid", "order.late_paid", "order.refund"},
    "app/services/photos.py": {"photo.photo", "photo.id_photo", "photo.photo.batch",
                               "photo.id_photo.batch"},
    "app/services/enterprises.py": {"enterprise.approve", "enterprise.reject"},
    "app/services/photo_checks.py": {"photo.photo.refused", "photo.id_photo.refused",
                                     "photo.photo.confirm", "photo.id_photo.confirm"},
}
CODE = re.compile(r"[a-z_]+(\.[a-z_]+)+")


def _action_codes() -> tuple[set[str], set[str]]:
    """The codes written in the code base, and the files that build codes at run time."""
    codes, built = set(), set()
    for folder in ("app", "views", "tasks"):
        for file in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name not in PASS_THROUGH:
                    continue
                args = list(node.args) + [k.value for k in node.keywords]
                codes |= {a.value for a in args if isinstance(a, ast.Constant)
                          and isinstance(a.value, str) and CODE.fullmatch(a.value)}
                if node.args and isinstance(node.args[0], ast.JoinedStr):
                    built.add(file.relative_to(ROOT).as_posix())
    return codes, built


def test_every_audit_action_code_has_a_chinese_label():
    codes, built = _action_codes()
    assert built == set(BUILT), "a new f-string action code: list its values in BUILT"
    codes |= set().union(*BUILT.values())
    assert len(codes) > 30, codes
    assert sorted(codes - set(ACTION_LABELS)) == []


def test_every_model_has_an_object_type_label(app):
    from flask_appbuilder import Model

    ours = {mapper.class_.__name__ for mapper in Model.registry.mappers
            if mapper.class_.__module__.startswith("models.")}
    assert sorted(ours - set(OBJECT_TYPE_LABELS)) == []
    from flask_babel import force_locale

    with force_locale("zh_CN"):
        untranslated = [code for code, label in {**ACTION_LABELS, **OBJECT_TYPE_LABELS}.items()
                        if re.search(r"[A-Za-z]{2,}", str(label))]
    assert untranslated == []


def test_user_statistics_chart_page_is_gone(app, login_as, accounts):
    client = _signed_in(app, login_as, accounts["admin"])
    assert client.get("/userstatschartview/chart/").status_code == 404
    assert "用户统计" not in _sidebar(_page(client, "/"))
