"""Every page a role reaches from its menu, loaded once in the browser per demo account:
no server error, no console error, no request to another host, the left menu (左侧菜单) with
the role's categories, no untranslated English on the Chinese pages.
The English rule is tests/web/test_i18n.py's; problems are listed page by page."""
import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from app import permissions, scope
from app.menu import CATEGORY_LABELS, MY_ENTERPRISE
from tests.e2e.browser import DEMO_PASSWORD, artifacts_dir, english_words, screenshot
from tests.web.test_i18n import ALLOWED

# One worker runs the browser tests one after the other: their servers share Redis database
# E2E_REDIS_DB (tests/e2e/server.py), and each flushes it when it starts.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

ACCOUNTS = [  # (username, signs in on the staff tab, role)
    ("admin", True, scope.ADMIN),
    ("91330100MA27XK001P", False, scope.ENTERPRISE),  # enterprise, approved
    ("91330100MA27XK002T", False, scope.ENTERPRISE),  # enterprise, pending review
    ("hzjx", True, scope.INSTITUTION),
    ("hz_jsj", True, scope.CITY_REGULATOR),
    ("zj_jst", True, scope.PROVINCE_REGULATOR),
]
NOT_PAGES = ("/lang/", "/logout/")  # menu entries that act rather than show
# Flask-Admin's data console is a tool of its own, with its own navigation (no left menu).
OWN_LAYOUT = ("/console/",)
# Flask-AppBuilder's security pages list identifiers (permission, view and menu names,
# usernames, e-mail addresses) in their table cells: data, not interface text.
DATA_TABLES = {"/users/list/", "/roles/list/", "/permissions/list/", "/viewmenus/list/",
               "/permissionviews/list/"}
# What is wrong today and cannot be fixed in the tests: (path, kind) -> why. A fixed page
# fails the test until its entry is removed, so the list stays true.
KNOWN: dict[tuple[str, str], str] = {}


def _categories(role: str) -> set[str]:
    """The menu categories (app/menu.py) that `role` sees: those of its views in the matrix."""
    if role == scope.ADMIN:  # all but the enterprise's own, and Flask-AppBuilder's 安全
        return set(CATEGORY_LABELS) - {MY_ENTERPRISE} | {"Security"}
    return {name for _, name in permissions.menu_permissions(role) if name in CATEGORY_LABELS}


def _words(*texts: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]{2,}", " ".join(texts)))


def _page_problems(person, path: str, allowed: set[str],
                   categories: set[str] | None = None) -> list[tuple[str, str]]:
    """Load one page; what is wrong with it as (kind, detail). `categories`: the left menu's,
    for a signed-in user."""
    before = len(person.problems)
    response = person.page.goto(person.base_url + path)
    person.page.wait_for_load_state("load")
    found = [(p.kind, p.detail) for p in person.problems[before:]]  # >= 500 among them
    if response is None or 400 <= response.status < 500:  # a menu entry that leads nowhere
        found.append(("no page", f"HTTP {response.status if response else 'no answer'}"))
    if categories is not None and not path.startswith(OWN_LAYOUT):
        shown = set(person.page.eval_on_selector_all(
            "#sidebar [data-category]", "els => els.map(e => e.dataset.category)"))
        if shown != categories:
            found.append(("left menu", f"categories {sorted(shown)}, not {sorted(categories)}"))
    html = person.page.content()
    if path in DATA_TABLES:
        html = re.sub(r"(?is)<td\b.*?</td>", " ", html)
    words = english_words(html, allowed)
    if words:
        found.append(("English", ", ".join(sorted(words))))
    return found


def _check(person, paths: list[str], allowed: set[str], folder,
           categories: set[str] | None = None) -> None:
    problems, known_seen = [], set()
    for number, path in enumerate(paths, start=1):
        found = _page_problems(person, path, allowed, categories)
        slug = re.sub(r"\W+", "-", path).strip("-") or "home"
        screenshot(person.page, folder / f"{number:02d}-{slug}.png")
        for kind, detail in found:
            if (path, kind) in KNOWN:
                known_seen.add((path, kind))
            else:
                problems.append(f"{path}: {kind}: {detail}")
    fixed = [f"{path} ({kind})" for path, kind in KNOWN
             if path in paths and (path, kind) not in known_seen]
    assert not problems, f"{person.name}: " + "\n".join(problems)
    assert not fixed, f"{person.name}: no longer broken, remove from KNOWN: {fixed}"


def _menu_paths(page) -> list[str]:
    """The left menu's entries and the user menu's (个人信息, 修改密码) at the top right."""
    links = page.eval_on_selector_all("#sidebar a[href], .navbar-right .dropdown-menu a[href]",
                                      "links => links.map(a => a.getAttribute('href'))")
    paths = ["/"]
    for link in links:
        path = urlsplit(link).path if link.startswith("http") else link
        if path.startswith("/") and not path.startswith(NOT_PAGES) and path not in paths:
            paths.append(path)
    return paths


@pytest.mark.parametrize("username, staff, role", ACCOUNTS, ids=[a[0] for a in ACCOUNTS])
def test_every_menu_page_loads_in_chinese(person, username, staff, role):
    user = person(username)
    user.sign_in(username, DEMO_PASSWORD, staff=staff)
    paths = _menu_paths(user.page)
    assert len(paths) >= 4, paths  # home, at least one entry, profile, change password
    email = f"{username.lower()}@demo.jianpei.invalid"  # demo accounts (app/services/demo.py)
    # The demo history's accounts are data where a page names who did what (the audit log).
    from app.services.demo_history import CITIES

    others = [name for city in CITIES for name in (city.institution_user, city.regulator_user)]
    _check(user, paths, ALLOWED | _words(username, email, *others),
           artifacts_dir(f"test_pages-{username}"),
           categories=_categories(role))


def test_left_menu_folds_into_a_button_on_a_phone(person):
    """375 px wide: the menu hides behind 菜单 above the page and opens on a tap; the top bar's
    button opens the bell, language and user menu."""
    clerk = person("clerk")
    clerk.sign_in("91330100MA27XK001P", DEMO_PASSWORD, staff=False)
    page = clerk.page
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(clerk.base_url + "/")
    entry = page.locator("#sidebar-menu a", has_text="可报名培训计划")
    expect(entry).to_be_hidden()
    page.click(".jp-sidebar-toggle")
    expect(entry).to_be_visible()
    href = entry.get_attribute("href")
    entry.click()
    page.wait_for_url(clerk.base_url + href)
    expect(page.locator("#sidebar-menu")).to_be_hidden()  # folded again on the next page
    page.click(".jp-topbar .navbar-toggle")
    expect(page.locator("#messages")).to_be_visible()
    screenshot(page, artifacts_dir("test_pages-phone") / "enterprise-375.png")
    assert not clerk.problems, "\n".join(map(str, clerk.problems))


def test_public_pages_load_in_chinese(person):
    """Before signing in: the login page and what it links to."""
    visitor = person("visitor")
    page = visitor.go("/login/")
    links = page.eval_on_selector_all("a[href^='/'], form[action^='/']",
                                      "els => els.map(e => e.getAttribute('href') "
                                      "|| e.getAttribute('action'))")
    paths = ["/login/"]
    for path in (urlsplit(link).path for link in links):
        if path not in paths and path != "/" and not path.startswith(NOT_PAGES):
            paths.append(path)
    assert "/register/" in paths and "/certificate-lookup/" in paths, paths
    _check(visitor, paths, ALLOWED, artifacts_dir("test_pages-visitor"))
