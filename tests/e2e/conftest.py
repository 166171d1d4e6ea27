"""Fixtures of the browser tests: Debian's chromium through Playwright, and `python run.py`
serving a fresh instance with demo data (see server.py)."""
import os
from pathlib import Path

import pytest

from tests.e2e.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, new_person
from tests.e2e.server import LiveServer


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make system-deps` installs Debian's chromium "
                    "(Playwright's own download does not work here)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(request, databases, tmp_path_factory):
    """run.py with its embedded consumer on a free port, demo data seeded; one per module."""
    name = Path(request.module.__file__).stem
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / f"{name}-server.log"
    log.unlink(missing_ok=True)
    live = LiveServer(tmp_path_factory.mktemp(f"{name}-instance"), databases, log)
    try:
        live.setup_demo()
        live.start()
        yield live
    finally:
        live.close()


@pytest.fixture
def person(browser, server):
    """person(name): someone at a browser of their own (cookies), closed after the test."""
    made = []

    def _new(name: str):
        made.append(new_person(browser, server.url, name))
        return made[-1]

    yield _new
    for someone in made:
        someone.context.close()
