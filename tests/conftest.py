"""Fixtures: a fresh migrated database per test (SQLite file copy or PostgreSQL clone),
a client, and `login_as`.

DATABASE_URL selects PostgreSQL (as in .ci/run); otherwise SQLite. The schema is built
once per session by the real migrations and `setup`'s role sync, then cloned per test.

Speed (set-up was 1-3 s a test): apps without overrides are reused between tests (see
_AppPool), and passwords are hashed with a cheap method (see _CHEAP_HASH). Each pytest-xdist
worker is its own process with its own temporary folder, template database and huey file.
"""
import copy
import hashlib
import itertools
import os
import shutil
import tempfile
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="jianpei-tests-"))
os.environ["JIANPEI_INSTANCE"] = str(_TMP / "instance")  # before tasks/ builds huey
# Our own huey file unless the caller chose one; xdist workers inherit the controller's
# environment, so a path this conftest set there is replaced, and a chosen one gets the
# worker's name.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if "HUEY_SQLITE_PATH" not in os.environ or os.environ.get("JIANPEI_TESTS_OWN_HUEY_PATH"):
    os.environ["HUEY_SQLITE_PATH"] = str(_TMP / "huey.db")
    os.environ["JIANPEI_TESTS_OWN_HUEY_PATH"] = "1"
elif _WORKER:
    os.environ["HUEY_SQLITE_PATH"] += f".{_WORKER}"

# scrypt (werkzeug's default) costs ~0.1 s per hash and per sign-in, and a test makes several
# users. Tests hash with one cheap pbkdf2 round set instead: FAB reads the method from
# FAB_PASSWORD_HASH_METHOD (base_config), our services call werkzeug with its default (set
# here, for tests only). Production code and settings are unchanged.
import werkzeug.security  # noqa: E402

_CHEAP_HASH = "pbkdf2:sha256:1000"
werkzeug.security.generate_password_hash.__defaults__ = (_CHEAP_HASH, 16)

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
        "FAB_PASSWORD_HASH_METHOD": _CHEAP_HASH,
        # Tests of other features upload stand-in pictures (plain rectangles); the photo checks'
        # own tests (tests/web/test_photo_checks.py) turn them on.
        "PHOTO_CHECKS": False,
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
        path = Path(uri.removeprefix("sqlite:///"))
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            name.unlink(missing_ok=True)

    def reset(self, uri: str) -> None:
        """The database at `uri` as the template again (its engine disposed: no connection)."""
        self.drop(uri)
        shutil.copyfile(self.template, uri.removeprefix("sqlite:///"))


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

    def reset(self, uri: str) -> None:
        self.drop(uri)
        self._exec(f"CREATE DATABASE {sa.engine.make_url(uri).database} TEMPLATE {self.template}")

    def close(self) -> None:
        self._exec(f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)")
        self.admin.dispose()


@pytest.fixture(scope="session")
def databases():
    dbs = _PostgresDatabases(POSTGRES_URL) if POSTGRES_URL else _SqliteDatabases()
    yield dbs
    _POOL.close(dbs)
    if hasattr(dbs, "close"):
        dbs.close()


def _shape(app) -> tuple:
    """What a test could add to an app that would outlive it: routes, views, hooks,
    extensions, template globals, engine listeners."""
    engine = db.engine
    return (len(app.url_map._rules), len(app.view_functions), len(app.blueprints),
            len(app.appbuilder.baseviews), tuple(sorted(app.extensions)),
            tuple(sorted((k, len(v)) for k, v in app.before_request_funcs.items())),
            tuple(sorted((k, len(v)) for k, v in app.after_request_funcs.items())),
            len(app.teardown_appcontext_funcs), len(app.jinja_env.globals),
            len(app.jinja_env.filters), len(engine.dispatch.before_cursor_execute),
            len(engine.dispatch.after_cursor_execute), len(engine.pool.dispatch.connect),
            len(engine.pool.dispatch.checkout))


def _copy_config(config: dict) -> dict:
    copied = {}
    for key, value in config.items():
        try:
            copied[key] = copy.deepcopy(value)
        except Exception:  # noqa: BLE001 - a value that cannot be copied is shared, as before
            copied[key] = value
    return copied


class _AppPool:
    """Apps built without overrides, reused: create_app costs ~0.3 s (FAB registers ~300 URL
    rules), more than most tests. A returned app gets its database back from the template;
    a taken one gets its config as built (tests set CLOCK_FROZEN_AT and the like), its own
    UPLOAD_DIR, no rate-limit counts and a fresh first-request flag. An app a test changed
    (a route, a view, a hook, an engine listener: see _shape) is dropped, not reused."""

    def __init__(self):
        self.free: list[tuple] = []

    def take(self, tmp_path: Path):
        if not self.free:
            return None
        app, uri, config, shape = self.free.pop()
        app.config.clear()
        app.config.update(_copy_config(config))
        app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
        app._got_first_request = False
        limiter = app.appbuilder.sm.limiter
        if getattr(limiter, "_storage", None) is not None:  # none while RATELIMIT_ENABLED is off
            with app.app_context():
                limiter.reset()
        return app, uri, config, shape

    def give_back(self, databases, app, uri, config, shape) -> None:
        with app.app_context():
            db.session.remove()
            reusable = config is not None and _shape(app) == shape
            db.engine.dispose()
        if reusable:
            databases.reset(uri)
            self.free.append((app, uri, config, shape))
        else:
            databases.drop(uri)

    def close(self, databases) -> None:
        """At the end of the session: the pooled apps' databases go too."""
        while self.free:
            app, uri, _config, _shape = self.free.pop()
            with app.app_context():
                db.engine.dispose()
            databases.drop(uri)


_POOL = _AppPool()


@pytest.fixture
def make_app(databases, tmp_path):
    """An app on a fresh database; extra config may be passed (such an app is built anew)."""
    made = []

    def _make(**overrides):
        taken = None if overrides else _POOL.take(tmp_path)
        if taken is None:
            uri = databases.new()
            app = create_app({**base_config(uri, tmp_path), **overrides})
            app.test_client_class = FreshContextClient
            config = None if overrides else _copy_config(app.config)
            with app.app_context():
                taken = (app, uri, config, _shape(app))
        made.append(taken)
        return taken[0]

    yield _make
    for taken in made:
        _POOL.give_back(databases, *taken)


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


# Under pytest-xdist (`-n 2 --dist loadgroup`), tests that share something outside their own
# process run in one worker, one after another: the Redis scratch database of the serving test
# and the huey queue a real consumer flushes. So do the tests of a module with a module-scoped
# fixture (a browser-test server with its demo data, the S3 stand-in, the OCR engine): split
# over two workers, each would build it.
_SERIAL_FIXTURES = {"scratch_redis": "shared-redis-and-huey", "consumer": "shared-redis-and-huey"}


def pytest_make_parametrize_id(config, val, argname):  # noqa: ARG001
    """A bytes parameter (a picture, a workbook, an archive) is named by its size and a digest of
    what it holds, not by its repr: short enough to read in a report, and the same in both
    pytest-xdist workers, which collect separately and refuse to start when names differ."""
    if isinstance(val, bytes):
        return f"{len(val)}B-{hashlib.blake2b(val, digest_size=4).hexdigest()}"
    return None


def pytest_configure(config):
    config.addinivalue_line("markers", "xdist_group(name): run in one pytest-xdist worker")


def _xdist_group(item) -> str | None:
    for name in item.fixturenames:
        if name in _SERIAL_FIXTURES:
            return _SERIAL_FIXTURES[name]
    info = getattr(item, "_fixtureinfo", None)
    if info is not None and any(fixture.scope in ("module", "class", "package")
                                for defs in info.name2fixturedefs.values() for fixture in defs):
        return item.nodeid.split("::")[0]
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist's, which reads the groups into the node ids
def pytest_collection_modifyitems(config, items):  # noqa: ARG001
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue  # a module's own group (pytestmark) wins: xdist reads the item's marker first
        group = _xdist_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


def pytest_runtest_setup(item):
    """Under --dist loadgroup xdist puts a test's group into its node id ("...@group") in the
    worker, and the controller schedules by that suffix. Without it the groups are ignored
    without a word and two workers use a shared thing at once (pytest 9.2 broke it:
    pytest-dev/pytest-xdist#1386), so a grouped test fails rather than run that way."""
    if (getattr(item.config.option, "loadgroup", False) and "@" not in item.nodeid
            and item.get_closest_marker("xdist_group") is not None):
        pytest.fail("pytest-xdist ignores this test's xdist_group (no @group in its node id): "
                    "this pytest and pytest-xdist do not fit, see requirements-test.txt",
                    pytrace=False)
