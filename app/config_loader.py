"""Build the Flask config from config.py, a local file, the environment and test overrides."""
import os
from typing import Any, Mapping, Optional

from flask import Flask


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete for the chosen environment."""


def load_config(app: Flask, test_config: Optional[Mapping[str, Any]] = None) -> None:
    app.config.from_object("config")
    local = os.environ.get("JIANPEI_CONFIG")
    if local:
        app.config.from_pyfile(os.path.abspath(local))
    for key in app.config["ENV_KEYS"]:
        if key in os.environ:
            app.config[key] = os.environ[key]
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
    check_production(app.config)
    check_storage(app.config)


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def check_production(config: Mapping[str, Any]) -> None:
    if config.get("JIANPEI_ENV") != "production":
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
