"""A real huey consumer (SQLite file by default, Redis when REDIS_URL is set) runs our tasks."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

import tasks
from app.extensions import db
from models.audit import AuditLog
from tasks import huey
from tasks.maintenance import audit_note

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def consumer(app):
    huey.immediate = False
    huey.flush()
    tasks.bind_app(app)
    worker = huey.create_consumer(workers=2, worker_type="thread", periodic=False)
    worker.start()
    yield worker
    worker.stop(graceful=True)
    huey.flush()
    tasks.bind_app(None)
    huey.immediate = True


def test_consumer_runs_a_task_in_its_own_app_context(app, consumer):
    result = audit_note("consumer.check", "from the integration test")
    entry_id = result.get(blocking=True, timeout=20)
    db.session.expire_all()
    entry = db.session.scalars(select(AuditLog).where(AuditLog.id == entry_id)).one()
    assert entry.action == "consumer.check" and entry.username == "system"
    assert type(huey.storage).__name__ in ("SqliteStorage", "RedisStorage")


def test_a_consumer_stopped_while_the_ocr_models_load_waits_for_them(tmp_path):
    """The consumer's start-up hook loads the OCR models in a thread. A consumer stopped at
    that moment must wait for them: onnxruntime aborts the process (exit 134, "terminate called
    without an active exception") when the interpreter ends under a running inference."""
    script = (
        "import atexit, sys\n"
        "from app.integrations import ocr\n"
        "import tasks.ocr\n"
        "atexit.register(lambda: print('engine loaded at exit:', ocr._engine is not None))\n"
        "tasks.ocr.warm_ocr_engine()\n"
        "sys.exit(0)\n")  # ends at once, as a consumer stopped right after starting does
    env = {**os.environ, "JIANPEI_INSTANCE": str(tmp_path), "OCR_WARM": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "terminate called" not in done.stderr
    assert "engine loaded at exit: True" in done.stdout
