"""Fixtures: a fresh migrated database per test (SQLite file copy or PostgreSQL clone),
a client, and `login_as`.

DATABASE_URL selects PostgreSQL (as in .ci/run); otherwise SQLite. The schema is built
once per session by the real migrations and `setup`'s role sync, then cloned per test.
"""
import itertools
import os
import shutil
import tempfile
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="jianpei-tests-"))
os.environ["JIANPEI_INSTANCE"] = str(_TMP / "instance")  # before tasks/ builds huey
os.environ.setdefault("HUEY_SQLITE_PATH", str(_TMP / "huey.db"))

import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from app import create_app  # noqa: E402
from app.config_loader import normalize_database_url  # noqa: E402
from app.extensions import db  # noqa: E402
from tasks import huey  # noqa: E402

huey.immediate = True

PASSWORD = "Test@12345"
POSTGRES_URL = os.environ.get("DATABASE_URL")
_counter = itertools.count()


class FreshContextClient(FlaskClient):
    """Each request gets its own app context, as in production.

    Tests hold an app context open for factories; without this, requests would share its
    `g` (and Flask-Login's cached user) and its database session.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def base_config(database_uri: str, tmp: Path) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",  # each test counts from zero, even beside Redis
        "UPLOAD_DIR": str(tmp / "uploads"),
        "SECRET_KEY": "test-secret-" + "x" * 32,
        "SERVER_NAME": "localhost",
        # The gateway simulator and our notify endpoint talk in-process (no server runs).
        "PUBLIC_BASE_URL": "http://localhost",
        "HTTP_LOOPBACK": True,
    }


def _build_schema(database_uri: str) -> None:
    from flask_migrate import upgrade

    from app.services import roles

    app = create_app(base_config(database_uri, _TMP))
    with app.app_context():
        upgrade()
        roles.sync_roles()
        db.session.remove()
        db.engine.dispose()


class _SqliteDatabases:
    def __init__(self):
        self.template = _TMP / "template.db"
        _build_schema(f"sqlite:///{self.template}")

    def new(self) -> str:
        path = _TMP / f"test-{next(_counter)}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def drop(self, uri: str) -> None:
        Path(uri.removeprefix("sqlite:///")).unlink(missing_ok=True)


class _PostgresDatabases:
    def __init__(self, url: str):
        self.server = sa.engine.make_url(normalize_database_url(url))
        self.admin = sa.create_engine(self.server, isolation_level="AUTOCOMMIT")
        self.template = f"jianpei_tpl_{os.getpid()}"
        self._exec(f"DROP DATABASE IF EXISTS {self.template}")
        self._exec(f"CREATE DATABASE {self.template}")
        _build_schema(self._url(self.template))

    def _url(self, name: str) -> str:
        return self.server.set(database=name).render_as_string(hide_password=False)

    def _exec(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(sql))

    def new(self) -> str:
        name = f"jianpei_t_{os.getpid()}_{next(_counter)}"
        self._exec(f"CREATE DATABASE {name} TEMPLATE {self.template}")
        return self._url(name)

    def drop(self, uri: str) -> None:
        name = sa.engine.make_url(uri).database
        self._exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def close(self) -> None:
        self._exec(f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)")
        self.admin.dispose()


@pytest.fixture(scope="session")
def databases():
    dbs = _PostgresDatabases(POSTGRES_URL) if POSTGRES_URL else _SqliteDatabases()
    yield dbs
    if hasattr(dbs, "close"):
        dbs.close()


@pytest.fixture
def make_app(databases, tmp_path):
    """Build an app on a fresh database; extra config may be passed."""
    made = []

    def _make(**overrides):
        uri = databases.new()
        app = create_app({**base_config(uri, tmp_path), **overrides})
        app.test_client_class = FreshContextClient
        made.append((app, uri))
        return app

    yield _make
    for app, uri in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        databases.drop(uri)


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def login_as(app):
    """login_as(client, user) signs a user in through the real login form."""

    def _login(client, user, password: str = PASSWORD):
        response = client.post(
            "/login/", data={"username": user.username, "password": password}
        )
        assert response.status_code == 302, "login failed"
        return response

    return _login
