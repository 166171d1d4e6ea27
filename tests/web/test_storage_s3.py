"""S3-compatible storage (a moto server on a free port) keeps the local folder's contract,
and the app stores and serves files through it."""
import datetime as dt
import io
import json
import tempfile
import uuid
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import select

from app import create_app, scope
from app.config_loader import ConfigError
from app.extensions import db
from app.integrations.storage import (
    LocalStorage,
    S3Storage,
    make_s3_client,
    s3_client,
    s3_prefix,
    storage,
)
from models.enrolment import Enrolment
from models.organisation import Enterprise
from tests.accounts_helpers import register
from tests.conftest import PASSWORD
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_uscc, gen_user
from tests.images import plain_jpeg
from tests.rosters import id_number, roster_bytes, row

REGION = "us-east-1"
KEY = "0123456789abcdef0123456789abcdef.jpg"
BAD_KEYS = ["../" + KEY, "ab/" + KEY, "/etc/passwd", "0123456789abcdef.exe", "0123.jpg.exe",
            "0123.JPG", "0123.png", ".jpg", "0123", "01 23.jpg", "01-23.jpg", ""]


@pytest.fixture(scope="module")
def s3_endpoint():
    """A moto S3 server in a thread, on a port the system picks; dummy credentials."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
        server.stop()


@pytest.fixture
def s3_settings(s3_endpoint):
    """Settings of a fresh, empty bucket on the moto server."""
    settings = {"STORAGE_BACKEND": "s3", "S3_BUCKET": f"jianpei-{uuid.uuid4().hex[:12]}",
                "S3_ENDPOINT_URL": s3_endpoint, "S3_REGION": REGION, "S3_PREFIX": "uploads"}
    _client(settings).create_bucket(Bucket=settings["S3_BUCKET"])
    return settings


def _client(settings):
    import boto3

    return boto3.client("s3", endpoint_url=settings["S3_ENDPOINT_URL"], region_name=REGION)


def _objects(settings) -> dict[str, bytes]:
    client = _client(settings)
    listing = client.list_objects_v2(Bucket=settings["S3_BUCKET"]).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=settings["S3_BUCKET"], Key=o["Key"])["Body"].read()
            for o in listing}


@pytest.fixture(params=["local", "s3"])
def files(request, tmp_path):
    """Each backend in turn, inside an app context (path_of's copies live as long as it)."""
    if request.param == "local":
        backend = LocalStorage(str(tmp_path / "uploads"))
    else:
        settings = request.getfixturevalue("s3_settings")
        backend = S3Storage(make_s3_client(settings), settings["S3_BUCKET"], s3_prefix(settings))
    with Flask(__name__).app_context():
        yield backend


# ------------------------------------------------------------------ the contract, both backends

def test_save_open_exists_delete(files):
    key = files.save(b"\xff\xd8 picture", ".jpg")
    assert len(key) == 36 and key.endswith(".jpg") and key[:32].isalnum()
    assert files.save(b"\xff\xd8 picture", ".jpg") != key  # generated names never repeat
    assert files.exists(key)
    with files.open(key) as f:
        assert f.read() == b"\xff\xd8 picture"
    files.delete(key)
    assert not files.exists(key)
    files.delete(key)  # deleting what is gone is fine
    with pytest.raises(FileNotFoundError):
        files.open(key)
    with pytest.raises(FileNotFoundError):
        files.path_of(key).read_bytes()


def test_save_as_replaces_the_file_under_a_chosen_key(files):
    key = "FP202611280000001.pdf"
    assert files.save_as(key, b"%PDF-1 first") == key
    files.save_as(key, b"%PDF-1 second")
    with files.open(key) as f:
        assert f.read() == b"%PDF-1 second"


def test_path_of_gives_a_readable_local_file(files):
    key = files.save(plain_jpeg(40, 30), ".jpg")
    path = files.path_of(key)
    assert path.suffix == ".jpg"
    with Image.open(path) as picture:  # what OCR and the PDF pictures do with it
        assert picture.size == (40, 30)


def test_only_allowed_suffixes_are_saved(files):
    for suffix in (".png", "jpg", ".JPG", ".exe", "", ".jpg/../x"):
        with pytest.raises(ValueError, match="suffix"):
            files.save(b"data", suffix)
    for suffix in (".jpg", ".pdf", ".xlsx"):
        key = files.save(b"data", suffix)
        assert key.endswith(suffix) and files.exists(key)


def test_keys_from_outside_are_refused(files):
    for key in BAD_KEYS:
        for use in (files.open, files.exists, files.path_of, files.delete,
                    lambda k: files.save_as(k, b"data")):
            with pytest.raises(ValueError, match="bad storage key"):
                use(key)


# ------------------------------------------------------------------ S3 specifics

def test_s3_objects_live_under_the_prefix_with_their_type(app_s3):
    app, settings = app_s3
    files = storage()
    photo = files.save(b"\xff\xd8", ".jpg")
    files.save_as("FP1.pdf", b"%PDF")
    client = _client(settings)
    head = client.head_object(Bucket=settings["S3_BUCKET"], Key=f"uploads/{photo}")
    assert head["ContentType"] == "image/jpeg"
    assert set(_objects(settings)) == {f"uploads/{photo}", "uploads/FP1.pdf"}
    assert not Path(app.config["UPLOAD_DIR"]).exists()  # nothing went to the local folder


def test_s3_client_is_made_once_per_app(app_s3, s3_settings):
    app, _settings = app_s3
    assert storage().client is storage().client is s3_client(app)
    other = Flask(__name__)
    other.config.update(s3_settings)
    assert s3_client(other) is s3_client(other) is not s3_client(app)


def test_s3_large_files_are_opened_from_a_temporary_file(app_s3):
    files = storage()
    files.IN_MEMORY_BYTES = 1024
    data = bytes(range(256)) * 64
    key = files.save(data, ".xlsx")
    with files.open(key) as f:
        assert not isinstance(f, io.BytesIO) and f.read() == data


def test_s3_local_copies_are_removed_when_the_app_context_ends(s3_settings, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    app = Flask(__name__)
    app.config.update(s3_settings)
    with app.app_context():
        key = storage().save(b"\xff\xd8 licence", ".jpg")
    with app.app_context():
        copy = storage().path_of(key)
        assert copy.parent == tmp_path and copy.read_bytes() == b"\xff\xd8 licence"
    assert not copy.exists()


def test_storage_settings_are_checked_at_start():
    base = {"SQLALCHEMY_DATABASE_URI": "sqlite://"}
    with pytest.raises(ConfigError, match="S3_BUCKET"):
        create_app({**base, "STORAGE_BACKEND": "s3"})
    with pytest.raises(ConfigError, match="STORAGE_BACKEND"):
        create_app({**base, "STORAGE_BACKEND": "S3"})
    with pytest.raises(ConfigError, match="S3_SECRET_ACCESS_KEY"):
        create_app({**base, "STORAGE_BACKEND": "s3", "S3_BUCKET": "b", "S3_ACCESS_KEY_ID": "id"})
    with create_app(base).app_context():
        assert isinstance(storage(), LocalStorage)  # the default


# ------------------------------------------------------------------ through the app

@pytest.fixture
def app_s3(make_app, s3_settings):
    app = make_app(**s3_settings)
    with app.app_context():
        yield app, s3_settings


def _sign_in(app, user):
    client = app.test_client()
    assert client.post("/login/", data={"username": user.username,
                                        "password": PASSWORD}).status_code == 302
    return client


def test_trainee_photo_is_uploaded_to_s3_and_served_from_it(app_s3):
    app, settings = app_s3
    app.config["CLOCK_FROZEN_AT"] = dt.datetime(2026, 11, 28, 10, 0)
    plan = gen_plan(gen_institution("330100"), enrol_start=dt.datetime(2026, 11, 20),
                    enrol_end=dt.datetime(2026, 12, 10))
    enterprise = gen_enterprise("330100")
    client = _sign_in(app, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    client.post(f"/enrol/{plan.id}/roster",
                data={"roster": (io.BytesIO(roster_bytes([row(姓名="甲一", 身份证号码=id_number())])),
                                 "r.xlsx")},
                content_type="multipart/form-data")
    trainee = db.session.scalars(select(Enrolment)).one()
    page = client.post(f"/enrol/photo/{trainee.id}/photo",
                       data={"file": (io.BytesIO(plain_jpeg(330, 440)), "x.jpg"),
                             "plan_id": plan.id},
                       content_type="multipart/form-data", follow_redirects=True)
    assert "照片已保存" in page.get_data(as_text=True)

    stored = _objects(settings)
    assert len(stored) == 2  # the photo and its thumbnail, nothing on the local disk
    assert not Path(app.config["UPLOAD_DIR"]).exists()
    photo = client.get(f"/photos/{trainee.id}/photo.jpg")
    thumb = client.get(f"/photos/{trainee.id}/photo.jpg?thumb=1")
    assert photo.status_code == thumb.status_code == 200
    assert photo.mimetype == "image/jpeg" and photo.data in stored.values()
    assert Image.open(io.BytesIO(thumb.data)).size == (120, 160)
    assert client.get(f"/photos/{trainee.id}/id_photo.jpg").status_code == 404  # none yet


def test_registration_reads_the_licence_from_s3(app_s3, tmp_path, monkeypatch):
    """The licence goes to the bucket and OCR reads it through path_of's temporary copy."""
    app, settings = app_s3
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    uscc = gen_uscc()
    _first, second = register(app.test_client(), uscc)
    assert second.status_code == 302
    db.session.expire_all()
    enterprise = db.session.scalars(select(Enterprise).where(Enterprise.uscc == uscc)).one()
    assert json.loads(enterprise.ocr_result)["uscc"] == uscc
    stored = _objects(settings)
    assert {f"uploads/{enterprise.licence_file}", f"uploads/{enterprise.commitment_file}",
            f"uploads/{enterprise.qualification_file}"} <= set(stored)
    assert list((tmp_path / "tmp").iterdir()) == []  # the OCR copy is gone with its request
