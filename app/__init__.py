"""The Jianpei application factory."""
import logging
import sys
from typing import Any, Mapping, Optional

from flask import Flask, send_from_directory
from flask_appbuilder import AppBuilder
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.config_loader import load_config
from app.extensions import csrf, db, migrate


def create_app(test_config: Optional[Mapping[str, Any]] = None) -> Flask:
    app = Flask(__name__, instance_path=None)
    load_config(app, test_config)
    _configure_logging(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.config["BASE_DIR"] / "migrations"))
    csrf.init_app(app)
    from app.integrations import alipay, ministry

    alipay.configure(app)
    ministry.configure(app)
    with app.app_context():
        _enable_sqlite_wal()
        from app import menu
        from views.security import JianpeiSecurityManager, password_rule

        app.config.setdefault("FAB_PASSWORD_COMPLEXITY_VALIDATOR", password_rule)

        # One AppBuilder per app: it keeps its views, and tests build many apps.
        appbuilder = AppBuilder(app, db.session, security_manager_class=JianpeiSecurityManager)

        menu.register(appbuilder)
        appbuilder.post_init()

    from app.console import init_console

    init_console(app)

    from app import assets, cli, compression, errors, headers
    from views.base import check_list_args

    compression.register(app)  # first registered, last run: it compresses the final body
    errors.register(app)
    headers.register(app)
    assets.register(app)
    app.before_request(check_list_args)
    cli.register(app)
    from app.services.codes import mask_id_number, mask_mobile

    app.jinja_env.filters["mask_id"] = mask_id_number
    app.jinja_env.filters["mask_mobile"] = mask_mobile
    from views.trainees import shown_id, shown_mobile

    app.jinja_env.filters["shown_id"] = shown_id  # whole or masked: trainees.may_see_full_id
    app.jinja_env.filters["shown_mobile"] = shown_mobile
    from app.services import photo_checks

    app.jinja_env.filters["check_problem"] = photo_checks.problem_text
    app.jinja_env.filters["check_fields"] = photo_checks.field_labels
    app.jinja_env.filters["check_reading"] = photo_checks.reading_of
    app.jinja_env.filters["check_style"] = photo_checks.style
    app.jinja_env.filters["check_decidable"] = photo_checks.decidable
    from views.messages import unread_messages

    app.jinja_env.globals["unread_messages"] = unread_messages
    app.add_url_rule("/favicon.ico", "favicon",
                     lambda: send_from_directory(app.static_folder, "favicon.png",
                                                 mimetype="image/png", max_age=86400))
    from tasks import huey

    app.extensions["huey"] = huey
    return app


def _configure_logging(app: Flask) -> None:
    # Logs go to stderr so a CLI command's JSON report is alone on stdout.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    if not any(getattr(h, "_jianpei", False) for h in root.handlers):
        handler._jianpei = True
        root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    logging.getLogger("flask_appbuilder").setLevel(logging.WARNING)


def _enable_sqlite_wal() -> None:
    if db.engine.dialect.name == "sqlite":
        _register_sqlite_pragmas(db.engine)


def _register_sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):  # noqa: ANN001
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
