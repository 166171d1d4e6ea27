"""The simulated users: a thread each, with its own session and client address, shared among a
few client processes (run_users), as 50 browsers would not share one interpreter lock."""
import html
import math
import os
import random
import re
import threading
import time
import urllib.parse
from collections import Counter
from types import SimpleNamespace

import requests

from bench.loadtest.settings import P_CANCEL, P_ORDER, PASSWORD


class Stop(Exception):
    """The measured window is over."""


FLASH = re.compile(r'<div class="alert alert-(\w+)">\s*<button[^>]*>&times;</button>\s*(.*?)\s*</div>',
                   re.S)
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PHOTO_SRC = re.compile(r'<img src="(/photos/[^"]+)"')


def flashes(text: str) -> list[tuple[str, str]]:
    return [(c, re.sub(r"<[^>]+>|\s+", " ", html.unescape(m)).strip())
            for c, m in FLASH.findall(text)]


class Browser(threading.Thread):
    def __init__(self, index: int, user: dict, base: str, shared: dict, args):
        super().__init__(name=f"user{index}", daemon=True)
        self.user, self.base, self.shared, self.args = user, base, shared, args
        self.rng = random.Random(index)
        self.session = requests.Session()
        self.session.headers.update({"X-Forwarded-For": user["address"],
                                     "User-Agent": "jianpei-bench-load/1"})
        self.phase = "login"
        self.samples: list[tuple] = []  # (phase, kind, t_offset_s, ms, status, error or None)
        self.errors: list[dict] = []
        self.events: Counter = Counter()
        self.token: str | None = None
        self.pending: int | None = None
        self.deadline = math.inf

    # one request ------------------------------------------------------------------------
    def request(self, kind, method, path, data=None, expect=None):
        """Send, time and judge one request; the response if it is as expected, else None.

        expect(location_path) -> None if a redirect is the expected one, else a problem.
        """
        if self.phase == "run" and time.monotonic() >= self.deadline:
            raise Stop
        url = self.base + path
        t0 = time.perf_counter()
        answer, problem = None, None
        try:
            answer = self.session.request(method, url, data=data, allow_redirects=False,
                                          timeout=self.args.timeout)
            answer.content  # noqa: B018 (the body is part of the latency)
        except requests.RequestException as error:
            problem = f"{type(error).__name__}: {error}"
        ms = (time.perf_counter() - t0) * 1000
        if answer is not None:
            problem = self.judge(method, answer, expect)
        self.samples.append((self.phase, kind, t0 - self.shared["t0"], ms,
                             answer.status_code if answer is not None else None, problem))
        if problem:
            self.errors.append({
                "phase": self.phase, "kind": kind, "method": method, "path": path,
                "user": self.user["username"], "status": getattr(answer, "status_code", None),
                "location": answer.headers.get("Location") if answer is not None else None,
                "error": problem, "ms": round(ms, 1),
                "body": answer.text[:3000] if answer is not None and kind != "photo" else None})
            return None
        return answer

    @staticmethod
    def judge(method, answer, expect):
        status = answer.status_code
        if status >= 500:
            return f"HTTP {status}"
        if status in (301, 302, 303, 307, 308):
            location = answer.headers.get("Location", "")
            where = urllib.parse.urlsplit(location).path
            if where.startswith("/login"):
                return f"redirected to sign-in ({location})"
            if expect is None:
                return f"unexpected redirect to {location}"
            return expect(where)
        if status != 200:
            return f"HTTP {status}"
        if method == "POST":
            return "POST answered 200 instead of redirecting (form refused?)"
        return None

    def get(self, kind, path):
        answer = self.request(kind, "GET", path)
        if answer is not None and kind != "photo":
            found = CSRF.search(answer.text)
            if found:
                self.token = html.unescape(found.group(1))
        return answer

    def think(self):
        if self.args.think <= 0:
            return
        pause = self.args.think * self.rng.uniform(0.5, 1.5)
        if self.phase == "run":
            pause = min(pause, self.deadline - time.monotonic())
        if pause > 0:
            time.sleep(pause)

    # the user's journey ---------------------------------------------------------------
    def sign_in(self) -> bool:
        page = self.request("login", "GET", "/login/")
        if page is None:
            return False
        token = CSRF.search(page.text)
        if not token:
            self.errors.append({"phase": "login", "kind": "login", "error": "no csrf_token",
                                "user": self.user["username"], "body": page.text[:2000]})
            return False

        def to_home(where):
            return None if where in ("/", "") else f"sign-in went to {where}"

        answer = self.request("login", "POST", "/login/", data={
            "username": self.user["username"], "password": PASSWORD,
            "csrf_token": html.unescape(token.group(1))}, expect=to_home)
        return answer is not None

    def round(self, act: bool):
        plan = self.user["plan_id"]
        self.get("home", "/")
        self.think()
        self.get("open_plans", "/openplanview/list/")
        self.think()
        enrol = self.get("enrol", f"/enrol/{plan}/")
        offered = enrol is not None and 'id="create-order"' in enrol.text
        if enrol is not None and self.args.photos:
            for src in PHOTO_SRC.findall(enrol.text):
                self.get("photo", html.unescape(src))
        self.think()
        q = self.rng.choice(self.user["queries"])
        self.get("trainees", "/trainees/?" + urllib.parse.urlencode({"q": q}))
        self.think()
        self.get("orders", "/orders/list/")
        self.think()
        if not act:
            return
        if self.pending and self.rng.random() < P_CANCEL:
            self.cancel()
            self.think()
        elif offered and not self.pending and self.rng.random() < P_ORDER:
            self.create(plan)
            self.think()

    def create(self, plan: int):
        outcome = {}

        def expect(where):
            found = re.fullmatch(r"/orders/show/(\d+)", where)
            if found:
                outcome["order"] = int(found.group(1))
                return None
            if where == f"/enrol/{plan}/":
                outcome["refused"] = True
                return None
            return f"order creation went to {where}"

        if self.request("order_create", "POST", f"/orders/create/{plan}",
                        data={"csrf_token": self.token or ""}, expect=expect) is None:
            return
        if "order" in outcome:
            self.pending = outcome["order"]
            self.events["orders created"] += 1
            self.get("order_show", f"/orders/show/{self.pending}")
        else:
            page = self.get("enrol", f"/enrol/{plan}/")
            reasons = [m for c, m in flashes(page.text) if c == "danger"] if page else []
            self.events["orders refused"] += 1
            self.events["refused: " + (reasons[0][:60] if reasons else "(no message seen)")] += 1

    def cancel(self):
        order = self.pending

        def expect(where):
            return None if where == f"/orders/show/{order}" else f"cancel went to {where}"

        if self.request("order_cancel", "POST", f"/orders/cancel/{order}",
                        data={"csrf_token": self.token or ""}, expect=expect) is None:
            return
        self.pending = None
        page = self.get("order_show", f"/orders/show/{order}")
        kinds = [c for c, _ in flashes(page.text)] if page else []
        self.events["orders cancelled" if "success" in kinds else "cancel refused"] += 1

    def run(self):
        barrier = self.shared["barrier"]  # every user of every process, and the main process
        ok = False
        try:
            ok = self.sign_in()
        except Exception as error:  # noqa: BLE001 (a bench must count, not hide, its failures)
            self.errors.append({"phase": "login", "error": repr(error)})
        finally:
            barrier.wait()
        try:
            if ok:
                self.phase = "warmup"
                self.round(act=False)
        except Exception as error:  # noqa: BLE001
            self.errors.append({"phase": "warmup", "error": repr(error)})
        finally:
            barrier.wait()  # all warmed up: the main process starts the clock ...
            barrier.wait()  # ... and sets the deadline before letting everyone go
        if not ok:
            return
        self.phase = "run"
        self.deadline = self.shared["deadline"].value
        try:
            if self.args.think > 0:  # users do not move in step
                time.sleep(self.rng.uniform(0, self.args.think))
            while True:
                self.round(act=True)
        except Stop:
            pass
        except Exception as error:  # noqa: BLE001
            self.errors.append({"phase": "run", "error": repr(error)})


def run_users(first: int, users: list[dict], base: str, shared: dict, args, results) -> None:
    """A client process: its share of the users as threads; their samples, errors and order
    events are sent back through `results` (a Pipe's end)."""
    browsers = [Browser(first + i, user, base, shared, args) for i, user in enumerate(users)]
    for browser in browsers:
        browser.start()
    for browser in browsers:
        browser.join(args.seconds + 900)
    results.send([SimpleNamespace(user=b.user, samples=b.samples, errors=b.errors,
                                  events=b.events) for b in browsers])
    results.close()
    os._exit(0)  # forked from the main process: none of its exit handlers are ours to run
