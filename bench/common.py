"""What the benchmarks that serve the app share: a demo instance on a scratch SQLite file,
gunicorn started as production starts it (gunicorn.conf.py) on a free port, the menu of a page.

Importing it changes nothing in the environment (bench/load.py sets its own on import)."""
import html
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEMO_PASSWORD = "Jianpei@2026"  # app/services/demo.py
DEMO_ENTERPRISE = "91330100MA27XK001P"  # the approved demo enterprise (tests/e2e/test_pages.py)
NOT_PAGES = ("/lang/", "/logout/")  # menu entries that act rather than show
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_SIDEBAR = re.compile(r'<nav id="sidebar".*?</nav>', re.S)
_TOP_LINKS = re.compile(r'<a href="([^"]+)" id="(?:messages|profile|change-password)"')
_HREF = re.compile(r'<a href="([^"#]+)"')


def menu_paths(page: str) -> list[str]:
    """Home, the left menu's entries and the top bar's pages (messages, profile, password), as
    tests/e2e/test_pages.py walks them; without the entries that act (language, sign-out)."""
    sidebar = _SIDEBAR.search(page)
    links = (_HREF.findall(sidebar.group(0)) if sidebar else []) + _TOP_LINKS.findall(page)
    paths = ["/"]
    for link in links:
        path = html.unescape(link)
        if path.startswith("/") and not path.startswith(NOT_PAGES) and path not in paths:
            paths.append(path)
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_env(instance: Path, port: int, **extra: str) -> dict:
    """The environment of a server on `instance` (SQLite file and huey's queue inside it)."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "JIANPEI_CONFIG", "JIANPEI_ENV",
                          "UPLOAD_DIR", "PUBLIC_BASE_URL", "CLOCK_OFFSET_SECONDS",
                          "GUNICORN_BIND", "GUNICORN_CONTROL_SOCKET", "HUEY_SQLITE_PATH")}
    env.update(JIANPEI_INSTANCE=str(instance), HOST="127.0.0.1", PORT=str(port),
               SECRET_KEY="bench-" + secrets.token_hex(24), PYTHONPATH=str(ROOT),
               PYTHONUNBUFFERED="1", **extra)
    return env


def setup_demo(env: dict) -> float:
    """`flask --app run setup --demo` on the instance: migrations, roles, demo accounts."""
    t0 = time.perf_counter()
    done = subprocess.run([str(BIN / "flask"), "--app", "run", "setup", "--demo"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"flask setup --demo exited with {done.returncode}:\n{done.stderr[-4000:]}")
    return time.perf_counter() - t0


def start_gunicorn(env: dict, log: Path) -> subprocess.Popen:
    """`gunicorn -c gunicorn.conf.py run:app` as deploy/serve-prod.sh runs it."""
    with log.open("w") as out:
        return subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "run:app"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def wait_until_up(base: str, proc: subprocess.Popen, log: Path, deadline_s: float = 90) -> float:
    import urllib.request

    t0 = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(f"{base}/login/", timeout=3) as answer:
                if answer.status == 200:
                    return time.monotonic() - t0
        except OSError:
            pass
        if proc.poll() is not None:
            sys.exit(f"the server exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        if time.monotonic() - t0 > deadline_s:
            stop(proc)
            sys.exit("the server did not answer /login/:\n" + log.read_text()[-4000:])
        time.sleep(0.3)


def stop(proc: subprocess.Popen, timeout: float = 30) -> Optional[int]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the server's own process group only
            return proc.wait()
    return proc.returncode


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (gunicorn's workers under its master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if re.search(rf"^PPid:\s+{pid}$", status, re.M):
                found.append(int(entry.name))
    return sorted(found)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile (the convention of bench/pages.py)."""
    ordered = sorted(samples)
    return ordered[max(int(len(ordered) * fraction) - 1, 0)]
