"""A real huey consumer (SQLite file by default, Redis when REDIS_URL is set) runs our tasks."""
import pytest
from sqlalchemy import select

import tasks
from app.extensions import db
from models.audit import AuditLog
from tasks import huey
from tasks.maintenance import audit_note


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
