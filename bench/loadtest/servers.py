"""The servers of a run: a Redis database for it, a free port, gunicorn and huey_consumer
started, awaited and stopped."""
import os
import re
import runpy
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis
import requests

from bench.loadtest.settings import ROOT


def redis_database() -> tuple[str, bool]:
    """(url, explicit): REDIS_URL flushed, or an empty numbered database claimed for this run."""
    explicit = os.environ.get("REDIS_URL")
    if explicit:
        conn = redis.Redis.from_url(explicit)
        if conn.dbsize():
            print(f"flushing {conn.dbsize()} keys of {explicit}", file=sys.stderr)
        conn.flushdb()
        conn.close()
        return explicit, True
    base = "redis://127.0.0.1:6379"
    count = int(redis.Redis.from_url(base).config_get("databases").get("databases", 16))
    for number in range(min(count - 1, 12), 0, -1):
        conn = redis.Redis.from_url(f"{base}/{number}")
        try:
            if conn.dbsize() == 0 and conn.set("jianpei-load:claimed", os.getpid(), nx=True):
                return f"{base}/{number}", False
        finally:
            conn.close()
    sys.exit("no empty Redis database to use: set REDIS_URL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(uri: str, redis_url: str, port: int, args) -> dict:
    env = {**os.environ, "DATABASE_URL": uri, "REDIS_URL": redis_url,
           "JIANPEI_INSTANCE": os.environ["JIANPEI_INSTANCE"], "HOST": "127.0.0.1",
           "PORT": str(port), "HUEY_WORKERS": "4",
           "JIANPEI_PROXY_COUNT": "1", "SECRET_KEY": secrets.token_urlsafe(48),
           "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    for key in ("GUNICORN_BIND", "GUNICORN_CONTROL_SOCKET"):
        env.pop(key, None)  # HOST/PORT must decide where gunicorn listens
    # gunicorn.conf.py's processes and threads (production's) unless --workers/--threads say
    for key, value in (("WEB_CONCURRENCY", args.workers), ("GUNICORN_THREADS", args.threads)):
        if value is not None:
            env[key] = str(value)
    if args.max_requests is not None:
        env["GUNICORN_MAX_REQUESTS"] = str(args.max_requests)
    return env


def gunicorn_settings(env: dict) -> dict:
    """gunicorn.conf.py's settings as gunicorn will read them in `env`."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(proc: subprocess.Popen, timeout: float = 45) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # our own process group only
            return proc.wait()
    return proc.returncode


def wait_for_login_page(base: str, procs: list, logs: list, deadline_s: float = 90) -> float:
    t0 = time.monotonic()
    while True:
        try:
            if requests.get(f"{base}/login/", timeout=3).status_code == 200:
                return time.monotonic() - t0
        except requests.RequestException:
            pass
        for proc, log in zip(procs, logs):
            if proc.poll() is not None:
                sys.exit(f"{proc.args[0]} exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        if time.monotonic() - t0 > deadline_s:
            sys.exit("gunicorn did not answer /login/:\n" + logs[0].read_text()[-4000:])
        time.sleep(0.3)


def wait_for_workers(count: int, proc: subprocess.Popen, log: Path, deadline_s: float = 120) -> float:
    """Until each of gunicorn's `count` workers has built the app (gunicorn.conf.py logs
    "Worker ready"). Users signing in before that would all be served, and kept alive, by the
    first worker ready."""
    t0 = time.monotonic()
    while len(re.findall(r"Worker ready \(pid: \d+\)", log.read_text(errors="replace"))) < count:
        if proc.poll() is not None:
            sys.exit(f"gunicorn exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        if time.monotonic() - t0 > deadline_s:
            sys.exit(f"not all {count} gunicorn workers became ready:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)
    return time.monotonic() - t0
