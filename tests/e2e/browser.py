"""Browser helpers: one signed-in person per browser context, what each page reports
(server errors, console errors), numbered steps with screenshots, and the Chinese labels."""
import contextlib
import functools
import gettext
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page

from tests.web.test_i18n import _english_words

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# STACK-NOTES: Debian's chromium, headless, as root in a container.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = ROOT / "tests" / "artifacts" / "e2e"
DEMO_PASSWORD = "Jianpei@2026"


@functools.cache
def _catalog() -> gettext.NullTranslations:
    return gettext.translation("messages", ROOT / "translations", languages=["zh_CN"])


def zh(msgid: str, **params) -> str:
    """What the Chinese pages show for an English message id (the app's own catalog)."""
    text = _catalog().gettext(msgid)
    return text % params if params else text


def english_words(html: str, allowed: set[str]) -> set[str]:
    """tests/web/test_i18n.py's rule, plus the HTML entities a browser's page source keeps."""
    return _english_words(html, allowed | {"lt", "gt", "amp", "quot"})


def artifacts_dir(name: str) -> Path:
    """tests/artifacts/e2e/<name>/, emptied (tests/artifacts/ is gitignored)."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@dataclass
class Problem:
    kind: str  # "server error", "console error", "page error", "outside request"
    detail: str
    url: str

    def __str__(self) -> str:
        return f"{self.kind} on {self.url}: {self.detail}"


@dataclass
class Person:
    """Someone at a browser: a context of their own (cookies), one tab, what went wrong."""

    name: str
    base_url: str
    context: BrowserContext
    page: Page = field(init=False)
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self):
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        watch(self.page, self.problems, self.base_url)

    def go(self, path: str) -> Page:
        self.page.goto(self.base_url + path)
        return self.page

    def sign_in(self, username: str, password: str = DEMO_PASSWORD, *, staff: bool) -> None:
        """The login page: the enterprise tab (credit code) or the staff tab (username)."""
        page = self.go("/login/")
        if staff:
            page.click("#login-tabs a[data-kind=staff]")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("form[name=login] button[type=submit]")
        page.wait_for_url(self.base_url + "/")
        assert page.locator(".alert-danger").count() == 0, page.locator(".alert-danger").inner_text()


def new_person(browser, base_url: str, name: str) -> Person:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900},
                                  accept_downloads=True)
    # Nothing leaves the machine: a page that needs the internet fails the same way everywhere.
    context.route(lambda url: not url.startswith(base_url + "/"), lambda route: route.abort())
    return Person(name, base_url, context)


def watch(page: Page, problems: list[Problem], base_url: Optional[str] = None) -> None:
    """Collect answers >= 500, console errors and uncaught script errors of a tab, and every
    request for another host than the test server's (government networks are often offline:
    a page must need nothing from outside)."""
    page.on("response", lambda r: r.status >= 500 and problems.append(
        Problem("server error", f"HTTP {r.status}", r.url)))
    if base_url is not None:
        ours = urlsplit(base_url).netloc
        page.on("request", lambda r: urlsplit(r.url).scheme in ("http", "https", "ws", "wss")
                and urlsplit(r.url).netloc != ours and problems.append(
                    Problem("outside request", r.url, page.url)))
    page.on("console", lambda m: m.type == "error" and problems.append(
        Problem("console error", m.text, m.location.get("url") or page.url)))
    page.on("pageerror", lambda e: problems.append(Problem("page error", str(e), page.url)))


class StepFailed(AssertionError):
    pass


class Steps:
    """Numbered steps: each ends with a screenshot `NN-name.png`; a failure names the step,
    keeps a `NN-name-FAILED.png`, and shows the page, the browser's problems and the server log."""

    def __init__(self, folder: Path, people: list[Person], server=None,
                 english_allowed: Optional[set[str]] = None):
        self.folder = folder
        self.people = people
        self.server = server
        self.english_allowed = english_allowed  # None: do not look for untranslated English
        self.number = 0

    @contextlib.contextmanager
    def step(self, name: str, person: Person, known_english: frozenset[str] = frozenset()):
        """`known_english`: words the step's page shows today although it should not; the
        step fails when they are gone, so that the exception is removed with the bug."""
        self.number += 1
        label = f"{self.number:02d}-{name}"
        seen = {id(p): len(p.problems) for p in self.people}
        try:
            yield person
            new = [problem for p in self.people for problem in p.problems[seen[id(p)]:]]
            assert not new, "the browser reported:\n  " + "\n  ".join(map(str, new))
            if self.english_allowed is not None:
                words = english_words(person.page.content(), self.english_allowed)
                assert not words - known_english, \
                    f"untranslated English on {person.page.url}: {sorted(words - known_english)}"
                assert known_english <= words, \
                    f"fixed on {person.page.url}? remove {sorted(known_english - words)} from known_english"
        except Exception as error:
            self._screenshot(person.page, f"{label}-FAILED")
            message = [f"step {label} failed: {type(error).__name__}: {error}",
                       f"page: {_url(person.page)} (screenshot {self.folder / label}-FAILED.png)"]
            if self.server is not None:
                message.append("server log (last lines):\n" + self.server.log_tail(25))
            raise StepFailed("\n".join(message)) from error
        self._screenshot(person.page, label)

    def _screenshot(self, page: Page, label: str) -> None:
        screenshot(page, self.folder / f"{label}.png")


def screenshot(page: Page, path: Path) -> None:
    """The whole page as PNG; never raises (it must not hide the real failure)."""
    with contextlib.suppress(Exception):
        page.screenshot(path=str(path), full_page=True)


def _url(page: Optional[Page]) -> str:
    with contextlib.suppress(Exception):
        return page.url
    return "?"
