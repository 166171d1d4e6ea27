"""`python run.py` serves the app with an embedded consumer and stops cleanly on Ctrl-C."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_serves_and_stops_on_ctrl_c(tmp_path, databases):
    if os.environ.get("DATABASE_URL"):
        pytest.skip("run.py is the embedded default (SQLite)")
    instance = tmp_path / "instance"
    instance.mkdir()
    shutil.copyfile(databases.template, instance / "jianpei.db")
    port = _free_port()
    env = {**os.environ, "JIANPEI_INSTANCE": str(instance), "PORT": str(port),
           "HUEY_SQLITE_PATH": str(instance / "huey.db")}
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "run.py"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as r:
                    assert r.status == 200
                    assert "登录" in r.read().decode()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "huey consumer started" in err
    assert "huey consumer stopped" in err
