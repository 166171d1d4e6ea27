"""Build the Flask config from config.py, a local file, the environment and test overrides."""
import os
from typing import Any, Mapping, Optional

from flask import Config, Flask


EMBEDDED, PRODUCTION = "embedded", "production"
ENVIRONMENTS = (EMBEDDED, PRODUCTION)  # JIANPEI_ENV: what config.py's comment describes


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete for the chosen environment."""


def apply_layers(config: Config) -> None:
    """config.py, then the file named by JIANPEI_CONFIG, then the environment's ENV_KEYS."""
    config.from_object("config")
    local = os.environ.get("JIANPEI_CONFIG")
    if local:
        config.from_pyfile(os.path.abspath(local))
    for key in config["ENV_KEYS"]:
        if key in os.environ:
            config[key] = os.environ[key]


def layered_config() -> Config:
    """The settings an app would start from, without an app: for the queue and deploy scripts."""
    config = Config(os.getcwd())
    apply_layers(config)
    return config


def queue_settings() -> dict[str, Any]:
    """The task queue's settings, layered exactly as the app's (tasks/__init__.py builds huey from
    them at import, before any app exists): REDIS_URL (huey on Redis when set) and
    HUEY_SQLITE_PATH (huey's SQLite file otherwise)."""
    config = layered_config()
    return {"REDIS_URL": config.get("REDIS_URL") or None,
            "HUEY_SQLITE_PATH": str(config["HUEY_SQLITE_PATH"])}


def load_config(app: Flask, test_config: Optional[Mapping[str, Any]] = None) -> None:
    apply_layers(app.config)
    url = app.config.get("DATABASE_URL")
    if url:
        app.config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(url)
    if app.config.get("REDIS_URL") and app.config["RATELIMIT_STORAGE_URI"] == "memory://":
        # Several web workers must share one login counter.
        app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"]
    if test_config:
        app.config.update(test_config)
    app.config["CLOCK_OFFSET_SECONDS"] = int(app.config.get("CLOCK_OFFSET_SECONDS") or 0)
    # A copy: config.py's dict is shared by every app built in this process.
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Threads of the embedded consumer and the dev server share the file.
        options.setdefault("connect_args", {"timeout": 30})
    else:
        options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    check_environment(app.config)
    if app.config["JIANPEI_ENV"] == PRODUCTION:
        # Production is served over https only (its PUBLIC_BASE_URL is checked below): its
        # session and CSRF cookies never travel in clear, whatever the local file says.
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    check_production(app.config)
    check_storage(app.config)
    check_sms(app.config)


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def check_environment(config: Mapping[str, Any]) -> None:
    """JIANPEI_ENV is one of the known names, spelled exactly: "Production" or "prod" must not
    start the simulators with the default secret."""
    if config.get("JIANPEI_ENV") not in ENVIRONMENTS:
        known = " or ".join(f'"{name}"' for name in ENVIRONMENTS)
        raise ConfigError(f"JIANPEI_ENV must be {known}, not {config.get('JIANPEI_ENV')!r}")


def check_production(config: Mapping[str, Any]) -> None:
    if config.get("JIANPEI_ENV") != PRODUCTION:
        return
    if not config.get("SECRET_KEY") or config["SECRET_KEY"] == config["DEFAULT_SECRET_KEY"]:
        raise ConfigError("SECRET_KEY must be set to a private value in production")
    if len(config["SECRET_KEY"]) < 32:
        raise ConfigError("SECRET_KEY must be at least 32 characters in production")
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        raise ConfigError("production needs DATABASE_URL (PostgreSQL)")
    if config.get("ALIPAY_GATEWAY") not in ("sandbox", "production"):
        raise ConfigError("production needs ALIPAY_GATEWAY=sandbox or production (not the simulator)")
    for key in ("ALIPAY_APP_ID", "ALIPAY_APP_PRIVATE_KEY", "ALIPAY_PUBLIC_KEY", "PUBLIC_BASE_URL"):
        if not config.get(key):
            raise ConfigError(f"production needs {key}")
    if not str(config["PUBLIC_BASE_URL"]).startswith("https://"):
        raise ConfigError("production needs an https:// PUBLIC_BASE_URL (sessions, payment returns)")
    if config.get("MINISTRY_ENDPOINT") == "receiver":
        raise ConfigError("production needs MINISTRY_ENDPOINT set to the ministry's URL "
                          "(not the built-in receiver)")
    if not str(config.get("MINISTRY_ENDPOINT") or "").startswith("https://"):
        raise ConfigError("production needs an https:// MINISTRY_ENDPOINT (ID numbers travel)")
    if config.get("MINISTRY_API_TOKEN") in (None, "", config["DEFAULT_MINISTRY_API_TOKEN"]):
        raise ConfigError("production needs MINISTRY_API_TOKEN (the ministry's, not the default)")


def check_storage(config: Mapping[str, Any]) -> None:
    """File storage settings, in every environment: a typo should stop the start, not an upload."""
    backend = config.get("STORAGE_BACKEND", "local")
    if backend not in ("local", "s3"):
        raise ConfigError(f"STORAGE_BACKEND must be \"local\" or \"s3\", not {backend!r}")
    if backend == "s3" and not config.get("S3_BUCKET"):
        raise ConfigError("STORAGE_BACKEND=s3 needs S3_BUCKET")
    if bool(config.get("S3_ACCESS_KEY_ID")) != bool(config.get("S3_SECRET_ACCESS_KEY")):
        raise ConfigError("S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are set together or not at all")
    if config.get("S3_ADDRESSING_STYLE", "auto") not in ("auto", "path", "virtual"):
        raise ConfigError("S3_ADDRESSING_STYLE must be \"auto\", \"path\" or \"virtual\"")


SMS_BACKENDS = ("outbox", "aliyun")


def check_sms(config: Mapping[str, Any]) -> None:
    """SMS settings. Production sends real SMS: the outbox (which sends nothing) is refused, as
    are missing credentials, a plain-http endpoint and template codes left at their placeholders."""
    from app.services.sms_templates import APPROVED_CODE, TEMPLATES

    backend = config.get("SMS_BACKEND")
    if backend not in SMS_BACKENDS:
        names = " or ".join(f'"{name}"' for name in SMS_BACKENDS)
        raise ConfigError(f"SMS_BACKEND must be {names}, not {backend!r}")
    if backend == "aliyun":
        for key in ("SMS_ACCESS_KEY_ID", "SMS_ACCESS_KEY_SECRET", "SMS_SIGN_NAME"):
            if not config.get(key):
                raise ConfigError(f"SMS_BACKEND=aliyun needs {key}")
    if config.get("JIANPEI_ENV") != PRODUCTION:
        return
    if backend != "aliyun":
        raise ConfigError("production needs SMS_BACKEND=aliyun: the outbox sends nothing to phones")
    if str(config.get("SMS_ENDPOINT") or "").lower().startswith("http://"):
        raise ConfigError("production needs an https SMS_ENDPOINT (mobile numbers travel)")
    for template in TEMPLATES.values():
        if not APPROVED_CODE.match(str(config.get(template.config_key) or "")):
            raise ConfigError(f"production needs {template.config_key} set to the approved "
                              "template code (SMS_ and digits), not the placeholder")
