"""Trainee photos: content checks, batch and zip uploads, replacement, and who may see them."""
import datetime as dt
import io

import pytest
from PIL import Image
from sqlalchemy import select

from app import scope
from app.extensions import db
from app.integrations.storage import storage
from models.enrolment import Enrolment
from tests.archives import zip_bytes
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_regulator, gen_user
from tests.images import bomb_jpeg, plain_jpeg, png_bytes, truncated_jpeg
from tests.rosters import id_number, roster_bytes, row

PHOTO = plain_jpeg(330, 440)
ID_PHOTO = plain_jpeg(856, 540)


@pytest.fixture
def plan_with_trainees(app, login_as):
    app.config["CLOCK_FROZEN_AT"] = dt.datetime(2026, 11, 28, 10, 0)
    institution = gen_institution("330100")
    plan = gen_plan(institution, enrol_start=dt.datetime(2026, 11, 20),
                    enrol_end=dt.datetime(2026, 12, 10))
    enterprise = gen_enterprise("330100")
    client = app.test_client()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    numbers = [id_number() for _ in range(3)]
    client.post(f"/enrol/{plan.id}/roster",
                data={"roster": (io.BytesIO(roster_bytes([row(姓名=n, 身份证号码=i) for n, i in
                                                           zip(("甲一", "乙二", "丙三"), numbers)])),
                                 "r.xlsx")},
                content_type="multipart/form-data")
    enrolments = {e.person.id_number: e for e in db.session.scalars(select(Enrolment))}
    assert len(enrolments) == 3
    return {"plan": plan, "client": client, "numbers": numbers, "enrolments": enrolments,
            "institution": institution, "enterprise": enterprise}


def _one(client, enrolment, kind, data, name="x.jpg"):
    return client.post(f"/enrol/photo/{enrolment.id}/{kind}",
                       data={"file": (io.BytesIO(data), name), "plan_id": enrolment.plan_id},
                       content_type="multipart/form-data", follow_redirects=True)


def _fresh(enrolment):
    db.session.expire_all()
    return db.session.get(Enrolment, enrolment.id)


def test_one_photo_is_reencoded_with_a_thumbnail_and_replaced_on_upload(app, plan_with_trainees):
    client = plan_with_trainees["client"]
    trainee = next(iter(plan_with_trainees["enrolments"].values()))
    assert "照片已保存" in _one(client, trainee, "photo", PHOTO).get_data(as_text=True)
    first = _fresh(trainee)
    old_keys = (first.photo_key, first.photo_thumb_key)
    with storage().open(first.photo_thumb_key) as f:
        assert Image.open(f).size == (120, 160)
    _one(client, trainee, "photo", plain_jpeg(600, 800))
    second = _fresh(trainee)
    assert second.photo_key not in old_keys
    assert not any(storage().exists(k) for k in old_keys)


@pytest.mark.parametrize("kind, data, text", [
    ("photo", png_bytes(), "不是 JPG"),
    ("photo", truncated_jpeg(), "已损坏"),
    ("photo", bomb_jpeg(), "像素过多"),
    ("photo", plain_jpeg(200, 266), "295 × 413"),
    ("photo", plain_jpeg(800, 600), "3:4"),
    ("photo", b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024), "超过 5 MB"),
    ("id_photo", plain_jpeg(300, 200), "太小"),
])
def test_refused_photos_change_nothing(app, plan_with_trainees, kind, data, text):
    trainee = next(iter(plan_with_trainees["enrolments"].values()))
    page = _one(plan_with_trainees["client"], trainee, kind, data).get_data(as_text=True)
    assert text in page
    fresh = _fresh(trainee)
    assert fresh.photo_key is None and fresh.id_photo_key is None


def test_batch_of_files_reports_every_outcome(app, plan_with_trainees):
    a, b, c = plan_with_trainees["numbers"]
    files = [(io.BytesIO(PHOTO), f"{a}.jpg"), (io.BytesIO(plain_jpeg(800, 600)), f"{b}.JPG"),
             (io.BytesIO(PHOTO), "110101199001011237.jpg"), (io.BytesIO(PHOTO), "照片.jpg")]
    page = plan_with_trainees["client"].post(
        f"/enrol/{plan_with_trainees['plan'].id}/photos/photo", data={"files": files},
        content_type="multipart/form-data").get_data(as_text=True)
    assert "已保存" in page and "甲一" in page
    assert "未通过" in page and "3:4" in page
    assert "110101199001011237.jpg" in page and "照片.jpg" in page
    assert "仍缺" in page and "丙三" in page
    enrolments = {e.person.id_number: e for e in db.session.scalars(select(Enrolment))}
    db.session.expire_all()
    assert enrolments[a].photo_key and not enrolments[b].photo_key


def test_zip_of_id_photos(app, plan_with_trainees):
    a, b, _c = plan_with_trainees["numbers"]
    data = zip_bytes([(f"{a}.jpg", ID_PHOTO), (f"{b.lower()}.jpeg", ID_PHOTO)])
    plan_with_trainees["client"].post(
        f"/enrol/{plan_with_trainees['plan'].id}/photos/id_photo",
        data={"files": [(io.BytesIO(data), "身份证.zip")]}, content_type="multipart/form-data")
    db.session.expire_all()
    saved = [e for e in db.session.scalars(select(Enrolment)) if e.id_photo_key]
    assert len(saved) == 2


@pytest.mark.parametrize("archive, text", [
    (zip_bytes([("photos/330106199001011234.jpg", PHOTO)]), "不要放在文件夹"),
    (zip_bytes([("../330106199001011234.jpg", PHOTO)]), "不要放在文件夹"),
    (zip_bytes([("inner.zip", zip_bytes([("a.jpg", PHOTO)]))]), "还包含压缩包"),
    (zip_bytes([], symlink="330106199001011234.jpg"), "链接"),
    (zip_bytes([(f"{i}.jpg", b"x") for i in range(2001)]), "超过 2000 个文件"),
    (b"PK\x03\x04 not really", "不是有效的 zip"),
])
def test_zip_abuse_is_refused_before_extraction(app, plan_with_trainees, archive, text):
    page = plan_with_trainees["client"].post(
        f"/enrol/{plan_with_trainees['plan'].id}/photos/photo",
        data={"files": [(io.BytesIO(archive), "photos.zip")]}, content_type="multipart/form-data",
        follow_redirects=True).get_data(as_text=True)
    assert text in page
    db.session.expire_all()
    assert all(e.photo_key is None for e in db.session.scalars(select(Enrolment)))


def test_photos_are_served_only_within_scope(app, plan_with_trainees, login_as):
    trainee = next(iter(plan_with_trainees["enrolments"].values()))
    _one(plan_with_trainees["client"], trainee, "photo", PHOTO)
    url = f"/photos/{trainee.id}/photo.jpg"

    def status(user):
        client = app.test_client()
        login_as(client, user)
        return client.get(url).status_code

    assert plan_with_trainees["client"].get(url).data[:2] == b"\xff\xd8"
    assert status(gen_user(scope.INSTITUTION,
                           institution_id=plan_with_trainees["institution"].id)) == 200
    assert status(gen_regulator("330100")) == 200
    assert status(gen_regulator("330000", scope.PROVINCE_REGULATOR)) == 200
    assert status(gen_regulator("330200")) == 404
    assert status(gen_user(scope.INSTITUTION, institution_id=gen_institution().id)) == 404
    assert status(gen_user(scope.ENTERPRISE, enterprise_id=gen_enterprise().id)) == 404
    assert app.test_client().get(url).status_code == 302


CORRUPT_EXIF = (__import__("pathlib").Path(__file__).parents[1] / "fixtures" / "corrupt_exif.jpg").read_bytes()


def test_a_bad_picture_in_a_batch_leaves_no_files_behind(app, plan_with_trainees):
    a, b, _c = plan_with_trainees["numbers"]
    files = [(io.BytesIO(PHOTO), f"{a}.jpg"), (io.BytesIO(CORRUPT_EXIF), f"{b}.jpg")]
    page = plan_with_trainees["client"].post(
        f"/enrol/{plan_with_trainees['plan'].id}/photos/photo", data={"files": files},
        content_type="multipart/form-data").get_data(as_text=True)
    assert "已损坏或不完整" in page
    db.session.expire_all()
    referenced = {k for e in db.session.scalars(select(Enrolment))
                  for k in (e.photo_key, e.photo_thumb_key) if k}
    on_disk = {p.name for p in storage().root.rglob("*.jpg")}
    assert on_disk == referenced and len(referenced) == 2  # a's photo and thumbnail


def test_encrypted_zip_is_refused(app, plan_with_trainees):
    data = bytearray(zip_bytes([(f"{plan_with_trainees['numbers'][0]}.jpg", PHOTO)]))
    data[6] |= 1
    data[data.find(b"PK\x01\x02") + 8] |= 1
    page = plan_with_trainees["client"].post(
        f"/enrol/{plan_with_trainees['plan'].id}/photos/photo",
        data={"files": [(io.BytesIO(bytes(data)), "p.zip")]}, content_type="multipart/form-data",
        follow_redirects=True).get_data(as_text=True)
    assert "密码保护" in page
