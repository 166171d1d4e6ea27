"""Configuration layering and the security settings that ride on it."""
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app import create_app
from app.config_loader import ConfigError, normalize_database_url
from app.extensions import db
from tests.factories import gen_user

STRONG = "x" * 40


def test_production_refuses_the_default_secret_key(monkeypatch):
    monkeypatch.setenv("JIANPEI_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1/db")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="32"):
        create_app()


def test_production_refuses_sqlite(monkeypatch):
    monkeypatch.setenv("JIANPEI_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_app()


def _production_env(monkeypatch):
    from Cryptodome.PublicKey import RSA

    monkeypatch.setenv("JIANPEI_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1/db")
    monkeypatch.setenv("ALIPAY_GATEWAY", "sandbox")
    monkeypatch.setenv("ALIPAY_APP_ID", "2021000122600001")
    monkeypatch.setenv("ALIPAY_APP_PRIVATE_KEY", RSA.generate(1024).export_key(pkcs=8).decode())
    monkeypatch.setenv("ALIPAY_PUBLIC_KEY", RSA.generate(1024).publickey().export_key().decode())
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://jianpei.example.cn")
    monkeypatch.setenv("MINISTRY_ENDPOINT", "https://ministry.example.gov.cn/training")
    monkeypatch.setenv("MINISTRY_API_TOKEN", "m" * 40)
    from app.services.sms_templates import TEMPLATES  # production sends real SMS

    monkeypatch.setenv("SMS_BACKEND", "aliyun")
    monkeypatch.setenv("SMS_ACCESS_KEY_ID", "LTAI5tTestKeyId")
    monkeypatch.setenv("SMS_ACCESS_KEY_SECRET", "s" * 30)
    for number, template in enumerate(TEMPLATES.values()):
        monkeypatch.setenv(template.config_key, f"SMS_4650000{number:02d}")


def test_production_refuses_the_payment_simulator_and_missing_keys(monkeypatch):
    _production_env(monkeypatch)
    monkeypatch.setenv("ALIPAY_GATEWAY", "simulator")
    with pytest.raises(ConfigError, match="simulator"):
        create_app()
    _production_env(monkeypatch)
    monkeypatch.delenv("ALIPAY_PUBLIC_KEY")
    with pytest.raises(ConfigError, match="ALIPAY_PUBLIC_KEY"):
        create_app()


def test_production_refuses_the_ministry_receiver(monkeypatch):
    _production_env(monkeypatch)
    monkeypatch.setenv("MINISTRY_ENDPOINT", "receiver")
    with pytest.raises(ConfigError, match="receiver"):
        create_app()
    _production_env(monkeypatch)
    monkeypatch.setenv("MINISTRY_ENDPOINT", "http://ministry.example.gov.cn")
    with pytest.raises(ConfigError, match="https"):
        create_app()
    _production_env(monkeypatch)
    monkeypatch.delenv("MINISTRY_API_TOKEN")  # config.py's default token is not a secret
    with pytest.raises(ConfigError, match="MINISTRY_API_TOKEN"):
        create_app()


def test_production_starts_with_proper_secrets(monkeypatch):
    _production_env(monkeypatch)
    app = create_app()
    assert "alipay_sim" not in app.blueprints  # the simulator is not even mounted
    assert "ministry_sim" not in app.blueprints  # nor the ministry receiver
    assert app.url_map.bind("x").test("/pay/notify", method="POST")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@127.0.0.1/db"
    assert app.config["SECRET_KEY"] == STRONG


def test_local_file_overrides_defaults_and_env_overrides_file(tmp_path, monkeypatch):
    local = tmp_path / "local.py"
    local.write_text('APP_NAME = "本地建培"\nSECRET_KEY = "from-file"\nPORT = 5100\n')
    monkeypatch.setenv("JIANPEI_CONFIG", str(local))
    monkeypatch.setenv("SECRET_KEY", "from-env")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["APP_NAME"] == "本地建培"
    assert app.config["PORT"] == 5100
    assert app.config["SECRET_KEY"] == "from-env"


def test_database_urls_use_psycopg3():
    assert normalize_database_url("postgres://a@h/d") == "postgresql+psycopg://a@h/d"
    assert normalize_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_runs_in_wal_mode(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_session_cookie_is_httponly_and_samesite(app, client, login_as):
    user = gen_user("Admin")
    response = login_as(client, user)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_passwords_are_stored_hashed(app):
    user = gen_user("Admin")
    assert user.password != "Test@12345"
    assert re.match(r"^(scrypt|pbkdf2)", user.password)


def test_forms_need_a_csrf_token(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        user = gen_user("Admin")
        client = app.test_client()
        response = client.post("/login/", data={"username": user.username, "password": "Test@12345"})
        assert response.status_code == 400
        assert "表单已过期" in response.get_data(as_text=True)
        assert client.get("/").status_code == 302  # still signed out


def test_login_is_rate_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="5 per minute")
    with app.app_context():
        client = app.test_client()
        codes = [client.post("/login/", data={"username": "nobody", "password": "bad"}).status_code
                 for _ in range(7)]
        assert codes[:5] == [302] * 5  # wrong password: back to the login page
        assert codes[-1] == 429
        assert "尝试次数过多" in client.post("/login/", data={}).get_data(as_text=True)


def test_unknown_page_is_a_chinese_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "页面或记录不存在" in response.get_data(as_text=True)


def test_public_forms_are_rate_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, PUBLIC_FORM_RATE_LIMIT="3 per hour")
    with app.app_context():
        client = app.test_client()
        codes = [client.post("/register/sms", data={"mobile": "1"}).status_code for _ in range(4)]
        assert codes == [400, 400, 400, 429]
        assert client.get("/register/").status_code == 200  # reading the page is not limited
        forgot = [client.post("/forgot-password/", data={}).status_code for _ in range(4)]
        assert forgot[-1] == 429


JSON_ANSWER = {"Accept": "application/json"}  # what our pages' scripts send (fetch)


def test_a_script_is_answered_in_json_when_a_limit_refuses(make_app):
    """The send-code button reads JSON: the limit's answer is JSON with the Chinese words that
    the button shows (answer.error), not an HTML page its script cannot read."""
    app = make_app(RATELIMIT_ENABLED=True, PUBLIC_FORM_RATE_LIMIT="2 per hour")
    with app.app_context():
        client = app.test_client()
        answers = [client.post("/register/sms", data={"mobile": "1"}, headers=JSON_ANSWER)
                   for _ in range(3)]
        assert [a.status_code for a in answers] == [400, 400, 429]
        refused = answers[-1].get_json()
        assert refused["ok"] is False and refused["status"] == 429
        assert "尝试次数过多" in refused["error"] and refused["message"] == refused["error"]
        page = client.post("/register/sms", data={"mobile": "1"})  # a browser's own request
        assert page.status_code == 429 and "<html" in page.get_data(as_text=True)


def test_a_script_is_answered_in_json_when_its_form_expired(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    answer = client.post("/register/sms", data={"mobile": "13800138000"}, headers=JSON_ANSWER)
    assert answer.status_code == 400
    assert answer.get_json()["ok"] is False and "表单已过期" in answer.get_json()["error"]
    missing = client.get("/no-such-page", headers=JSON_ANSWER)
    assert missing.status_code == 404 and "页面或记录不存在" in missing.get_json()["error"]


def test_a_script_is_answered_in_json_when_its_upload_is_too_large(make_app):
    """The registration page uploads by script: a file over MAX_CONTENT_LENGTH gets the reason
    in JSON, which the page shows under the field, and nothing is staged."""
    from models.accounts import StagedUpload

    app = make_app(MAX_CONTENT_LENGTH=64 * 1024)
    client = app.test_client()
    big = io.BytesIO(b"\xff\xd8" + b"0" * (128 * 1024))
    answer = client.post("/register/upload/yyzz", data={"file": (big, "yyzz.jpg")},
                         headers=JSON_ANSWER, content_type="multipart/form-data")
    assert answer.status_code == 413
    assert answer.get_json()["ok"] is False and "上传的文件过大" in answer.get_json()["error"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StagedUpload)) == 0


def test_web_workers_share_login_counters_through_redis(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/5")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/5"


ROOT = Path(__file__).resolve().parents[2]
# A fresh interpreter builds tasks.huey at import, as huey_consumer does; nothing connects.
QUEUE_PROBE = """
import json, tasks
storage = tasks.huey.storage
print(json.dumps({"huey": type(tasks.huey).__name__, "storage": type(storage).__name__,
                  "redis": getattr(getattr(storage, "pool", None), "connection_kwargs", None),
                  "filename": getattr(storage, "filename", None)}, default=str))
"""


def _queue_built_with(tmp_path, local_config=None, **env):
    environ = {key: value for key, value in os.environ.items()
               if key not in ("REDIS_URL", "HUEY_SQLITE_PATH", "JIANPEI_CONFIG")}
    if local_config is not None:
        local = tmp_path / "local.py"
        local.write_text(local_config)
        environ["JIANPEI_CONFIG"] = str(local)
    environ.update(env)
    done = subprocess.run([sys.executable, "-c", QUEUE_PROBE], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_queue_follows_the_redis_url_of_the_config_file(tmp_path):
    queue = _queue_built_with(tmp_path, 'REDIS_URL = "redis://127.0.0.1:6379/7"\n')
    assert (queue["huey"], queue["storage"]) == ("RedisHuey", "RedisStorage")
    assert queue["redis"]["host"] == "127.0.0.1"
    assert int(queue["redis"]["port"]) == 6379
    assert int(queue["redis"]["db"]) == 7


def test_queue_environment_overrides_the_config_file(tmp_path):
    queue = _queue_built_with(tmp_path, 'REDIS_URL = "redis://127.0.0.1:6379/7"\n',
                              REDIS_URL="redis://127.0.0.1:6379/3")
    assert queue["storage"] == "RedisStorage"
    assert int(queue["redis"]["db"]) == 3


def test_queue_without_redis_url_is_sqlite_at_huey_sqlite_path(tmp_path):
    from_env = tmp_path / "env" / "huey.db"
    queue = _queue_built_with(tmp_path, HUEY_SQLITE_PATH=str(from_env))
    assert (queue["huey"], queue["storage"]) == ("SqliteHuey", "SqliteStorage")
    assert queue["filename"] == str(from_env)
    from_file = tmp_path / "file" / "huey.db"
    queue = _queue_built_with(tmp_path, f"HUEY_SQLITE_PATH = {str(from_file)!r}\n")
    assert (queue["storage"], queue["filename"]) == ("SqliteStorage", str(from_file))
