"""The one huey instance and the wrapper that gives every task an app context.

Storage follows the app's configuration (config.py, the JIANPEI_CONFIG file, the
environment; app/config_loader.py): Redis when REDIS_URL is set (production, CI), else
the SQLite file HUEY_SQLITE_PATH beside the database (the embedded default). It is
built at import, for the `@huey.task` decorators. Tests set `huey.immediate = True`.
A consumer imports `tasks.huey`, which registers every task module.
"""
import functools
from pathlib import Path

from flask import current_app, has_app_context
from huey import RedisHuey, SqliteHuey

from app.config_loader import queue_settings


def _make_huey():
    settings = queue_settings()
    if settings["REDIS_URL"]:
        return RedisHuey("jianpei", url=settings["REDIS_URL"])
    path = settings["HUEY_SQLITE_PATH"]
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
    from tasks import (certificates, exports, invoices, maintenance, notifications, ocr,  # noqa: F401
                       payments, photos)


_register_task_modules()
