"""deploy/serve-prod.sh: gunicorn with two workers and a separate huey consumer on PostgreSQL
and Redis, both stopped by one SIGTERM; gunicorn.conf.py's settings."""
import http.cookiejar
import json
import os
import re
import runpy
import signal
import socket
import subprocess
import sys
import time
import types
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

import config
from app.config_loader import normalize_database_url

ROOT = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
APPROVED_USCC = "91330100MA27XK001P"  # the demo's approved enterprise

needs_postgres_and_redis = pytest.mark.skipif(
    not (DATABASE_URL.startswith("postgres") and REDIS_URL.startswith("redis")),
    reason="production serving needs DATABASE_URL (PostgreSQL) and REDIS_URL (Redis)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def scratch_database():
    """A new, empty PostgreSQL database on DATABASE_URL's server; dropped afterwards."""
    server = sa.engine.make_url(normalize_database_url(DATABASE_URL))
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"jianpei_serve_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield server.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


CLAIM = "jianpei.test.claimed"


@pytest.fixture
def scratch_redis():
    """REDIS_URL's server, on an empty numbered database, so that our consumer never takes the
    tasks of another test run (the huey queue has one name)."""
    import redis

    from tests.e2e.server import E2E_REDIS_DB

    base = redis.Redis.from_url(REDIS_URL)
    count = int(base.config_get("databases").get("databases", 16))
    for number in range(count - 1, 0, -1):
        if number == E2E_REDIS_DB:  # the browser tests' server, maybe running beside us
            continue
        # The number goes in the URL: from_url(url, db=n) keeps the URL's own database.
        url = urllib.parse.urlunsplit(urllib.parse.urlsplit(REDIS_URL)._replace(path=f"/{number}"))
        conn = redis.Redis.from_url(url)
        # Claimed with a marker, so that a test on another worker picking at the same moment
        # sees a database in use.
        if conn.dbsize() == 0 and conn.set(CLAIM, "1", nx=True):
            break
        conn.close()
    else:
        pytest.skip("no empty Redis database to queue on")
    yield url
    for pattern in ("huey.*", "LIMITS*", CLAIM):  # only what we wrote
        for key in conn.scan_iter(pattern):
            conn.delete(key)
    base.close()
    conn.close()


def _env(database_url: str, redis_url: str, tmp_path: Path, port: int) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
           "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "2",
           "HUEY_WORKERS": "2", "JIANPEI_INSTANCE": str(tmp_path / "instance"),
           "PYTHONUNBUFFERED": "1", "JIANPEI_BIN": str(Path(sys.executable).parent)}
    for key in ("JIANPEI_ENV", "JIANPEI_CONFIG", "HUEY_SQLITE_PATH"):
        env.pop(key, None)  # as on this machine: not production, so the simulators are fine
    return env


def _flask(env: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "flask"), "--app", "run", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def _wait_for_login_page(base: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 40
    while True:
        try:
            with urllib.request.urlopen(f"{base}/login/", timeout=2) as answer:
                assert answer.status == 200
                return
        except OSError:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "gunicorn did not answer:\n" + log.read_text()
            time.sleep(0.3)


def _sign_in(base: str, username: str, password: str) -> urllib.request.OpenerDirector:
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = browser.open(f"{base}/login/", timeout=10).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": password,
                                   "csrf_token": token}).encode()
    browser.open(f"{base}/login/", data=form, timeout=10)  # 302 to the home page, followed
    return browser


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@needs_postgres_and_redis
def test_serve_prod_runs_web_workers_and_a_separate_consumer(scratch_database, scratch_redis,
                                                              tmp_path):
    port = _free_port()
    env = _env(scratch_database, scratch_redis, tmp_path, port)
    seeded = _flask(env, "setup", "--demo")
    assert seeded.returncode == 0, seeded.stderr
    assert APPROVED_USCC in seeded.stdout

    log = tmp_path / "serve-prod.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(ROOT / "deploy" / "serve-prod.sh")], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_login_page(base, proc, log)

        browser = _sign_in(base, APPROVED_USCC, config.DEMO_PASSWORD)
        for _ in range(6):  # several requests, so both workers most likely serve one
            with browser.open(f"{base}/my/enterprise/", timeout=10) as answer:
                assert answer.status == 200 and answer.url.endswith("/my/enterprise/")
                assert "杭州示范建设工程有限公司" in answer.read().decode()

        ping = _flask(env, "tasks", "ping", "--timeout", "20", timeout=40)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        report = json.loads(ping.stdout)
        assert report["ok"] and report["storage"] == "RedisHuey"

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=45) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text()
    assert "huey_consumer started" in text and "gunicorn started" in text
    assert "Executing tasks.maintenance.audit_note" in text  # the separate consumer ran the ping
    assert "huey consumer started (" not in text  # run.py's embedded one stays off under gunicorn
    workers = re.findall(r"Booting worker with pid: (\d+)", text)
    assert len(workers) == 2, text
    assert sorted(re.findall(r"Worker ready \(pid: (\d+)\)", text)) == sorted(workers)
    children = [int(p) for p in re.findall(r"(?:huey_consumer|gunicorn) started \(pid (\d+)\)", text)]
    assert "Shutting down gracefully" in text and "Shutting down: Master" in text
    assert all(_gone(pid) for pid in children + [int(p) for p in workers])


def _settings(monkeypatch, **env) -> dict:
    for key in ("GUNICORN_BIND", "HOST", "PORT", "WEB_CONCURRENCY", "JIANPEI_PROXY_COUNT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_settings_default_to_loopback_and_capped_workers(monkeypatch):
    settings = _settings(monkeypatch)
    assert settings["bind"] == "127.0.0.1:8000"  # every interface only when told (HOST=0.0.0.0)
    assert 3 <= settings["workers"] <= 9 and settings["preload_app"] is False
    assert settings["accesslog"] == "-"
    assert _settings(monkeypatch, HOST="0.0.0.0", PORT="5100", WEB_CONCURRENCY="2")["bind"] == \
        "0.0.0.0:5100"


def test_gunicorn_takes_the_client_address_from_the_load_balancer_only_when_told(monkeypatch):
    from werkzeug.test import EnvironBuilder

    def client_address(settings: dict) -> str:
        logged = []
        worker = types.SimpleNamespace(wsgi=lambda environ, start: [environ["REMOTE_ADDR"]],
                                       pid=4321, log=types.SimpleNamespace(
                                           info=lambda message, *args: logged.append(message % args)))
        settings["post_worker_init"](worker)
        assert logged == ["Worker ready (pid: 4321)"]  # bench/load.py waits for every worker's
        environ = EnvironBuilder(headers={"X-Forwarded-For": "203.0.113.7, 10.0.0.9"},
                                 environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_environ()
        return worker.wsgi(environ, None)[0]

    assert client_address(_settings(monkeypatch)) == "10.0.0.2"  # anyone can send the header
    assert client_address(_settings(monkeypatch, JIANPEI_PROXY_COUNT="1")) == "10.0.0.9"
    assert client_address(_settings(monkeypatch, JIANPEI_PROXY_COUNT="2")) == "203.0.113.7"
