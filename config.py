"""Jianpei configuration defaults.

Order of precedence (last wins): this module, the file named by ``JIANPEI_CONFIG``,
environment variables (secrets and service URLs), then ``create_app(test_config)``.
"""
import os
from pathlib import Path

from flask_appbuilder.security.manager import AUTH_DB

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("JIANPEI_INSTANCE", BASE_DIR / "instance"))

# "embedded" runs everything on one machine with simulators and demo data;
# "production" refuses insecure defaults and never seeds demo data.
JIANPEI_ENV = "embedded"

DEFAULT_SECRET_KEY = "embedded-default-change-me"
SECRET_KEY = DEFAULT_SECRET_KEY

SQLALCHEMY_DATABASE_URI = f"sqlite:///{INSTANCE_DIR / 'jianpei.db'}"
SQLALCHEMY_TRACK_MODIFICATIONS = False
SQLALCHEMY_ENGINE_OPTIONS: dict = {}

# `make run` serves here (run.py).
HOST = "127.0.0.1"
PORT = 5000

# huey: SQLite file next to the database unless REDIS_URL is set (see tasks/__init__.py). Both
# follow the same layers as the rest (the JIANPEI_CONFIG file, then the environment).
REDIS_URL = None
HUEY_SQLITE_PATH = str(INSTANCE_DIR / "huey.db")
# run.py starts a consumer inside the web process on the embedded default.
EMBEDDED_CONSUMER = True

# Uploaded files live outside the web root under generated names.
UPLOAD_DIR = str(INSTANCE_DIR / "uploads")
# Uploaded files: "local" keeps them in UPLOAD_DIR (one host, or a folder every host mounts);
# "s3" in a bucket of Amazon S3 or an S3-compatible service (app/integrations/storage.py).
STORAGE_BACKEND = "local"
S3_BUCKET = None
# Only for S3-compatible services (MinIO, Aliyun OSS, ...); None means Amazon S3.
S3_ENDPOINT_URL = None
S3_REGION = None
# Objects are named S3_PREFIX/<key>; "" puts them at the bucket's top level.
S3_PREFIX = ""
# "auto" lets boto3 choose; "path" for MinIO, "virtual" for services that only accept that.
S3_ADDRESSING_STYLE = "auto"
# None: boto3's own chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile, instance role).
S3_ACCESS_KEY_ID = None
S3_SECRET_ACCESS_KEY = None

# The one clock: every rule asks app.clock.now(). Seconds added to the wall clock,
# so the demo and end-to-end tests can move time forward ("training has ended").
CLOCK_OFFSET_SECONDS = 0
TIMEZONE = "Asia/Shanghai"

# Flask-AppBuilder
APP_NAME = "建培 · 建设行业技能人员培训管理"
APP_THEME = ""
AUTH_TYPE = AUTH_DB
AUTH_ROLE_ADMIN = "Admin"
AUTH_ROLE_PUBLIC = "Public"
AUTH_USER_REGISTRATION = False
# The security manager (views/security.py) is given to AppBuilder by create_app().
FAB_INDEX_VIEW = "views.home.HomeView"
FAB_ADD_SECURITY_API = False  # fails with marshmallow 4 (STACK-NOTES)
# Tables and permissions are made by `flask --app run setup` (migrations + role sync),
# never as a side effect of starting a web worker.
FAB_CREATE_DB = False
FAB_UPDATE_PERMS = False
# Flask-AppBuilder's own password forms (an admin adds a user or resets a password) check
# accounts' rule: create_app() sets FAB_PASSWORD_COMPLEXITY_VALIDATOR (views/security.py).
FAB_PASSWORD_COMPLEXITY_ENABLED = True

# Login is rate limited per client address (Flask-Limiter behind FAB).
RATELIMIT_ENABLED = True
AUTH_RATE_LIMITED = True
AUTH_RATE_LIMIT = "10 per minute"  # per client address
AUTH_ACCOUNT_RATE_LIMIT = "20 per hour"  # per account, from any address
PUBLIC_FORM_RATE_LIMIT = "60 per hour"  # registration and password reset posts, per address
CERTIFICATE_LOOKUP_RATE_LIMIT = "30 per hour"  # 证书查询 on the login page, per address
# Alipay's notifications (/pay/notify), per address: far above what Alipay sends from one
# address, retries included; a refused one is sent again by Alipay and asked by the return page.
PAYMENT_NOTIFY_RATE_LIMIT = "120 per minute"
MOBILE_CODE_RATE_LIMIT = "5 per hour;10 per day"  # 修改手机号 codes to new numbers, per user and per address
CHECK_POLL_RATE_LIMIT = "90 per minute"  # the 报名 page's poll of its photo checks, per user
RATELIMIT_STORAGE_URI = "memory://"

# Cookies and forms
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = False
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None

# Chinese first. "zh_CN" (not "zh") so Flask-Admin is Chinese too.
BABEL_DEFAULT_LOCALE = "zh_CN"
BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")
LANGUAGES = {
    "zh_CN": {"flag": "cn", "name": "简体中文"},
    "en": {"flag": "gb", "name": "English"},
}

# SMS: "outbox" records messages in the database (listed for admins in /console) and sends
# nothing; "aliyun" sends through Alibaba Cloud SMS (refused: the outbox in production).
SMS_BACKEND = "outbox"
# "dysmsapi.aliyuncs.com" (https); "http://host:port" points the SDK at a local server (tests).
SMS_ENDPOINT = "dysmsapi.aliyuncs.com"
SMS_ACCESS_KEY_ID = None
SMS_ACCESS_KEY_SECRET = None
SMS_SIGN_NAME = "建培"  # the approved signature (签名), shown as 【建培】
SMS_TIMEOUT_SECONDS = 5
# Approved template codes, one per purpose of app/services/sms_templates.py (which holds the
# text to submit for each). These placeholders work with the outbox; production refuses them.
SMS_TEMPLATE_REGISTER = "SMS_PLACEHOLDER_REGISTER"
SMS_TEMPLATE_RESET_PASSWORD = "SMS_PLACEHOLDER_RESET_PASSWORD"
SMS_TEMPLATE_CHANGE_MOBILE = "SMS_PLACEHOLDER_CHANGE_MOBILE"
SMS_TEMPLATE_TRAINING_NOTICE = "SMS_PLACEHOLDER_TRAINING_NOTICE"
SMS_TEMPLATE_EXAM_NOTICE = "SMS_PLACEHOLDER_EXAM_NOTICE"
SMS_TEMPLATE_REVIEW_APPROVED = "SMS_PLACEHOLDER_REVIEW_APPROVED"
SMS_TEMPLATE_REVIEW_REJECTED = "SMS_PLACEHOLDER_REVIEW_REJECTED"
SMS_TEMPLATE_ORDER_REMINDER = "SMS_PLACEHOLDER_ORDER_REMINDER"
SMS_TEMPLATE_TICKETS = "SMS_PLACEHOLDER_TICKETS"
SMS_TEMPLATE_SCORES = "SMS_PLACEHOLDER_SCORES"
SMS_TEMPLATE_INVOICE = "SMS_PLACEHOLDER_INVOICE"
SMS_TEMPLATE_CERTIFICATES = "SMS_PLACEHOLDER_CERTIFICATES"
SMS_TEMPLATE_KEYS = tuple(key for key in dir() if key.startswith("SMS_TEMPLATE_"))

# Notifications: no trainee SMS in the quiet hours (held until the end hour), at most
# SMS_DAILY_CAP messages a day to one phone, NOTIFY_RETRIES tries before a send is "failed";
# an enterprise hears ORDER_REMINDER_MINUTES before an unpaid order expires.
SMS_QUIET_HOURS = (22, 8)
SMS_DAILY_CAP = 10
NOTIFY_RETRIES = 3
ORDER_REMINDER_MINUTES = 10

# Registration documents (yyzz.jpg, cns.jpg, zzzs.jpg)
DOCUMENT_MAX_BYTES = 2 * 1024 * 1024
STAGED_UPLOAD_LIFETIME_MINUTES = 60

# Trainee photos are checked for what they show (app/services/photo_checks.py): the 1-inch
# photo's background in the request; its text and face, and the ID card front read against the
# roster, in a task. Off only where pictures are stand-ins (most tests: tests/conftest.py).
PHOTO_CHECKS = True
MAX_CONTENT_LENGTH = 16 * 1024 * 1024

# Orders and payment. An order holds its seats this long; Alipay is told the same deadline.
ORDER_LIFETIME_MINUTES = 60
# An enterprise whose orders for one plan lapsed unpaid (expired or cancelled) this many times
# within the window orders no more for that plan until the window has passed the oldest of them.
ORDER_LAPSE_LIMIT = 3
ORDER_LAPSE_WINDOW_HOURS = 24
# "simulator": the built-in gateway at /alipay-sim (embedded default; refused in production),
# "sandbox" or "production": Alipay's gateways. Keys are PEM strings (PKCS#8 or PKCS#1);
# for the simulator both key pairs are generated once into instance/alipay-simulator/.
ALIPAY_GATEWAY = "simulator"
ALIPAY_APP_ID = "2021000100000001"
ALIPAY_APP_PRIVATE_KEY = None
ALIPAY_PUBLIC_KEY = None
ALIPAY_SIMULATOR_PRIVATE_KEY = None
# The address Alipay and browsers reach us at (notify_url, return_url); default http://HOST:PORT.
PUBLIC_BASE_URL = None

# Certificates are pushed to the ministry's national training system (住房和城乡建设行业从业人员
# 培训管理信息系统). "receiver": the built-in receiver at /ministry-sim (embedded default;
# refused in production); otherwise the ministry's URL. Pushes retry with backoff.
MINISTRY_ENDPOINT = "receiver"
DEFAULT_MINISTRY_API_TOKEN = "embedded-receiver-token"
MINISTRY_API_TOKEN = DEFAULT_MINISTRY_API_TOKEN
MINISTRY_TIMEOUT_SECONDS = 10
MINISTRY_RETRIES = 3
MINISTRY_BACKOFF_SECONDS = 1.0

# Chinese PDFs embed this TrueType font (Debian: fonts-wqy-microhei; `make` installs it).
CJK_FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"

# Demo accounts seeded by `flask --app run setup --demo` (embedded default only).
DEMO_PASSWORD = "Jianpei@2026"

# Secrets and service URLs that may come from the environment (see app/config_loader.py).
ENV_KEYS = (
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "HUEY_SQLITE_PATH",
    "JIANPEI_ENV",
    "UPLOAD_DIR",
    "STORAGE_BACKEND",
    "S3_BUCKET",
    "S3_ENDPOINT_URL",
    "S3_REGION",
    "S3_PREFIX",
    "S3_ADDRESSING_STYLE",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "CLOCK_OFFSET_SECONDS",
    "PORT",
    "ALIPAY_GATEWAY",
    "ALIPAY_APP_ID",
    "ALIPAY_APP_PRIVATE_KEY",
    "ALIPAY_PUBLIC_KEY",
    "PUBLIC_BASE_URL",
    "SMS_BACKEND",
    "SMS_ENDPOINT",
    "SMS_ACCESS_KEY_ID",
    "SMS_ACCESS_KEY_SECRET",
    "SMS_SIGN_NAME",
    *SMS_TEMPLATE_KEYS,
    "MINISTRY_ENDPOINT",
    "MINISTRY_API_TOKEN",
)
