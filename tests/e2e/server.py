"""`python run.py` as a real server process for the browser tests: its own instance folder,
a free local port, the embedded huey consumer, and a scratch database.

On SQLite (the embedded default) the database and huey's queue are files in the instance
folder. With DATABASE_URL (PostgreSQL, as in the second half of .ci/run) the server gets a
scratch database cloned from the suite's migrated template and huey on Redis, in a Redis
database of its own (E2E_REDIS_DB) that is emptied before each server starts.
"""
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Optional

import sqlalchemy as sa

from app.config_loader import normalize_database_url

ROOT = Path(__file__).resolve().parents[2]
# Huey's queue and the login counters of the e2e server live here, never beside other users
# of the Redis server (the queue's name is fixed, and a queued task carries row ids).
E2E_REDIS_DB = 15
START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_url(url: str) -> str:
    """The same Redis server, database E2E_REDIS_DB."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{E2E_REDIS_DB}"))


class LiveServer:
    """One instance of the app: start, stop, restart with the clock moved, run CLI commands."""

    def __init__(self, instance: Path, databases, log_path: Path):
        self.instance = instance
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.offset_seconds = 0
        self._databases = databases
        self._proc: Optional[subprocess.Popen] = None
        self._log = None
        postgres = os.environ.get("DATABASE_URL")
        self.database_url = databases.new() if postgres else f"sqlite:///{instance / 'jianpei.db'}"
        if not postgres:
            shutil.copyfile(databases.template, instance / "jianpei.db")
        redis = os.environ.get("REDIS_URL")
        self.redis_url = _redis_url(redis) if (postgres and redis) else None
        self._env = self._environment(postgres is not None)
        self._engine = sa.create_engine(normalize_database_url(self.database_url))

    def _environment(self, postgres: bool) -> dict:
        env = {key: value for key, value in os.environ.items()
               if key not in ("DATABASE_URL", "REDIS_URL", "JIANPEI_CONFIG", "JIANPEI_ENV",
                              "UPLOAD_DIR", "PUBLIC_BASE_URL", "CLOCK_OFFSET_SECONDS")}
        env.update({
            "JIANPEI_INSTANCE": str(self.instance),
            "HUEY_SQLITE_PATH": str(self.instance / "huey.db"),
            "PORT": str(self.port),
            "SECRET_KEY": "e2e-" + secrets.token_hex(24),  # the same across restarts: sessions live on
            "PYTHONUNBUFFERED": "1",
        })
        if postgres:
            env["DATABASE_URL"] = self.database_url
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        return env

    @property
    def env(self) -> dict:
        return {**self._env, "CLOCK_OFFSET_SECONDS": str(self.offset_seconds)}

    # -- processes --------------------------------------------------------------------------

    def setup_demo(self) -> None:
        """`flask --app run setup --demo`: migrations (already applied), roles, demo accounts."""
        self.flask("setup", "--demo")

    def start(self) -> None:
        if self.redis_url:
            self._flush_redis()
        self._log = open(self.log_path, "a", encoding="utf-8")
        self._log.write(f"\n===== run.py on port {self.port}, clock offset "
                        f"{self.offset_seconds} s =====\n")
        self._log.flush()
        self._proc = subprocess.Popen([sys.executable, "run.py"], cwd=ROOT, env=self.env,
                                      stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(self.url + "/login/", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if self._proc.poll() is not None:
                raise RuntimeError(f"run.py exited with {self._proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"run.py did not answer within {START_SECONDS} s:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Ctrl-C, as a user would; the consumer stops after its running tasks."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self, offset_seconds: int) -> None:
        """Serve the same instance again with the clock moved (CLOCK_OFFSET_SECONDS)."""
        self.stop()
        self.offset_seconds = offset_seconds
        self.start()

    def close(self) -> None:
        self.stop()
        self._engine.dispose()
        if os.environ.get("DATABASE_URL"):
            self._databases.drop(self.database_url)
        if self.redis_url:
            self._flush_redis()

    def flask(self, *args: str, timeout: float = 120) -> str:
        """Run `flask --app run ...` against this instance (same database, same clock)."""
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "run", *args], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} exited with {done.returncode}:\n"
                               f"{done.stdout}\n{done.stderr}")
        return done.stdout

    # -- looking inside ---------------------------------------------------------------------

    def scalar(self, sql: str, **params):
        """One value from the server's database (e.g. the SMS outbox)."""
        with self._engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, without the requests for static files."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # werkzeug colours its request lines
        kept = [line for line in text.splitlines() if "GET /static/" not in line]
        return "\n".join(kept[-lines:])

    def _flush_redis(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            client.flushdb()
        finally:
            client.close()
