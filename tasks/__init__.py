"""The one huey instance and the wrapper that gives every task an app context.

Storage follows the environment, like the web app's config: Redis when REDIS_URL is
set (production, CI), else a SQLite file beside the database (the embedded default).
Tests set `huey.immediate = True`. A consumer imports `tasks.huey`, which registers
every task module.
"""
import functools
import os
from pathlib import Path

from flask import current_app, has_app_context
from huey import RedisHuey, SqliteHuey


def _make_huey():
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        return RedisHuey("jianpei", url=redis_url)
    instance = Path(os.environ.get("JIANPEI_INSTANCE", Path(__file__).resolve().parent.parent / "instance"))
    path = os.environ.get("HUEY_SQLITE_PATH", str(instance / "huey.db"))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("jianpei", filename=path)


huey = _make_huey()

_app = None


def _flask_app():
    """The app a task runs in: the caller's if there is one, else one per worker process."""
    global _app
    if has_app_context():
        return current_app._get_current_object()
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app


def bind_app(app) -> None:
    """Let consumer threads started by run.py use the web process's app."""
    global _app
    _app = app


def in_app_context(fn):
    """Run a task body inside an app context; tasks take ids, never ORM objects."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return fn(*args, **kwargs)
        with _flask_app().app_context():
            return fn(*args, **kwargs)

    return wrapper


def _register_task_modules() -> None:
    from tasks import certificates, exports, invoices, maintenance, notifications, ocr, payments  # noqa: F401


_register_task_modules()
