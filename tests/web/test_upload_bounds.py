"""What an upload may cost, and what it leaves behind (issue 14 #8, #9, #17, #18).

Pictures: pixels per kind refused from the header, large JPEGs decoded reduced, re-encoded
without any metadata segment, served with their type and nosniff. Sheets: refused when wider
or longer than their template before any row is parsed; errors listed and marked in bounded
number. Marked workbooks: one row each, for their owner only, purged after a day.
"""
import datetime as dt
import io
import re
from functools import lru_cache

import pytest
from openpyxl import Workbook, load_workbook
from PIL import Image
from sqlalchemy import func, select

from app import scope
from app.extensions import db
from app.integrations.storage import storage
from app.services import images, scores, workbooks
from models.accounts import StagedUpload
from models.assessment import Score, ScoreReport
from models.enrolment import Enrolment, ImportBatch, Person
from models.exports import ErrorWorkbook
from tests.assessment_factories import gen_assessment, gen_finished_plan, gen_paid_trainees
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_user
from tests.order_factories import gen_trainees
from tests.rosters import roster_bytes, row

NOW = dt.datetime(2026, 11, 28, 10, 0)
FORM = "multipart/form-data"


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _files(suffix: str = "") -> set[str]:
    root = storage().root
    return {p.name for p in root.rglob(f"*{suffix}") if p.is_file()} if root.exists() else set()


def _signed_in(app, login_as, user):
    client = app.test_client()
    login_as(client, user)
    return client


@lru_cache(maxsize=None)
def flat_jpeg(width: int, height: int) -> bytes:
    """A real JPEG of a blank page: few bytes, many pixels."""
    out = io.BytesIO()
    Image.new("L", (width, height), 255).save(out, "JPEG", quality=90)
    return out.getvalue()


def with_metadata(width: int = 600, height: int = 800) -> bytes:
    """A JPEG carrying a comment (COM) with markup, EXIF, XMP and an ICC profile."""
    from PIL import ImageCms

    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 210, 220)).save(
        out, "JPEG", comment=b"<html><script>alert(1)</script></html>", exif=exif.tobytes(),
        xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>secret-xmp</x:xmpmeta>", icc_profile=icc)
    return out.getvalue()


def markers(data: bytes) -> list[int]:
    """The JPEG marker codes before the image data (start of scan)."""
    found, i = [], 2
    while i + 4 <= len(data) and data[i] == 0xFF and data[i + 1] != 0xDA:
        found.append(data[i + 1])
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return found


@pytest.fixture
def enrolling(app, login_as):
    app.config["CLOCK_FROZEN_AT"] = NOW
    plan = gen_plan(gen_institution(), enrol_start=NOW - dt.timedelta(days=8),
                    enrol_end=NOW + dt.timedelta(days=12))
    enterprise = gen_enterprise()
    user = gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id)
    return {"plan": plan, "enterprise": enterprise, "user": user,
            "trainees": gen_trainees(enterprise, plan, 2, photos=False),
            "client": _signed_in(app, login_as, user)}


def _photo(client, trainee, kind, data):
    return client.post(f"/enrol/photo/{trainee.id}/{kind}",
                       data={"file": (io.BytesIO(data), "x.jpg"), "plan_id": trainee.plan_id},
                       content_type=FORM, follow_redirects=True).get_data(as_text=True)


def _stored(trainee, key="photo_key") -> bytes:
    db.session.expire_all()
    with storage().open(getattr(db.session.get(Enrolment, trainee.id), key)) as f:
        return f.read()


# ---- pictures (issue 14 #8) -------------------------------------------------------------

def test_a_small_jpeg_with_too_many_pixels_is_refused_for_each_kind(app, client, enrolling):
    huge = flat_jpeg(6000, 6600)  # 0.4 MB, 39.6 megapixels: the audit's picture
    assert len(huge) < 1024 * 1024
    answer = client.post("/register/upload/yyzz", data={"file": (io.BytesIO(huge), "yyzz.jpg")},
                         content_type=FORM)
    assert answer.status_code == 400
    assert "像素过多（6000 × 6600），最多 16.8 百万像素" in answer.get_json()["error"]
    assert _count(StagedUpload) == 0
    trainee = enrolling["trainees"][0]
    phone_sized = flat_jpeg(4200, 3200)  # 13.4 megapixels: more than a 1-inch photo needs
    for kind in ("photo", "id_photo"):
        assert "像素过多（4200 × 3200），最多 12.6 百万像素" in _photo(enrolling["client"], trainee,
                                                               kind, phone_sized)
    db.session.expire_all()
    assert db.session.get(Enrolment, trainee.id).photo_key is None
    assert _files() == set()


def test_each_kind_keeps_what_it_needs_of_a_large_picture(app, client, enrolling):
    licence = flat_jpeg(4000, 3000)  # a phone photo of a licence: kept whole for OCR
    answer = client.post("/register/upload/yyzz",
                         data={"file": (io.BytesIO(licence), "yyzz.jpg")}, content_type=FORM)
    assert answer.status_code == 200, answer.get_json()
    upload = db.session.scalars(select(StagedUpload)).one()
    with storage().open(upload.storage_key) as f:
        assert Image.open(f).size == (4000, 3000)
    trainee = enrolling["trainees"][0]
    portrait = flat_jpeg(2400, 3200)
    assert "照片已保存" in _photo(enrolling["client"], trainee, "photo", portrait)
    assert Image.open(io.BytesIO(_stored(trainee))).size == (900, 1200)


def test_a_large_jpeg_is_decoded_reduced(app):
    """Image.draft: a 1-inch photo of 2400 × 3200 is decoded at half size, never whole."""
    from PIL import ImageFile

    decoded = []
    real_load = ImageFile.ImageFile.load

    def load(picture):
        decoded.append(picture.size)
        return real_load(picture)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ImageFile.ImageFile, "load", load)
        images.clean_jpeg(flat_jpeg(2400, 3200), kind=images.PHOTO, max_bytes=10 ** 7, label="x")
    assert decoded and (2400, 3200) not in decoded and (1200, 1600) in decoded


# ---- metadata and serving (issue 14 #17) --------------------------------------------------

def test_reencoding_drops_the_comment_and_every_metadata_segment(app, client, enrolling):
    data = with_metadata()
    assert b"<script>" in data and 0xFE in markers(data) and 0xE1 in markers(data)
    trainee = enrolling["trainees"][0]
    assert "照片已保存" in _photo(enrolling["client"], trainee, "photo", data)
    answer = client.post("/register/upload/cns", data={"file": (io.BytesIO(data), "cns.jpg")},
                         content_type=FORM)
    assert answer.status_code == 200
    with storage().open(db.session.scalars(select(StagedUpload)).one().storage_key) as f:
        document = f.read()
    for stored in (_stored(trainee), _stored(trainee, "photo_thumb_key"), document):
        assert set(markers(stored)) <= {0xE0, 0xDB, 0xC0, 0xC4, 0xDD}  # JFIF, tables, frame
        for secret in (b"<script>", b"<html>", b"SecretCamera", b"secret-xmp", b"ICC_PROFILE"):
            assert secret not in stored


def test_stored_pictures_are_served_as_jpeg_with_nosniff(app, enrolling):
    from tests.helpers import give_documents

    trainee = enrolling["trainees"][0]
    _photo(enrolling["client"], trainee, "photo", with_metadata())
    answer = enrolling["client"].get(f"/photos/{trainee.id}/photo.jpg")
    assert answer.status_code == 200 and answer.data[:3] == b"\xff\xd8\xff"
    assert answer.mimetype == "image/jpeg"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    give_documents(enrolling["enterprise"])
    document = enrolling["client"].get(f"/documents/enterprise/{enrolling['enterprise'].id}/cns.jpg")
    assert document.status_code == 200 and document.mimetype == "image/jpeg"
    assert document.headers["X-Content-Type-Options"] == "nosniff"


# ---- sheets (issue 14 #9) -----------------------------------------------------------------

def _upload_roster(client, plan, data):
    return client.post(f"/enrol/{plan.id}/roster",
                       data={"roster": (io.BytesIO(data), "报名人员信息表.xlsx")}, content_type=FORM)


def _wide_roster(rows: int, columns: int) -> bytes:
    """The template's header and `rows` wrong rows, `columns` wide."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "报名人员信息表"
    headers = ["序号", "姓名", "性别", "身份证号码", "手机号码", "文化程度", "职称", "职业(工种)名称",
               "职业等级"]
    sheet.append(headers + [f"备注{i}" for i in range(columns - len(headers))])
    for n in range(rows):
        sheet.append([n, "x", "?", "1", "2"] + ["错"] * (columns - 5))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _patched(data: bytes, part: str, pattern: bytes, new: bytes) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == part:
                content, found = re.subn(pattern, new, content, count=1)
                assert found
            target.writestr(item, content)
    return out.getvalue()


def _refused_roster(enrolling, data: bytes, text: str) -> None:
    client, plan = enrolling["client"], enrolling["plan"]
    before = (_count(Person), _count(Enrolment), _count(ImportBatch))
    response = _upload_roster(client, plan, data)
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert text in page
    assert (_count(Person), _count(Enrolment), _count(ImportBatch)) == before
    assert _count(ErrorWorkbook) == 0 and _files(".xlsx") == set()


def test_a_roster_wider_than_the_template_is_refused_before_parsing(app, enrolling, monkeypatch):
    def no_rows(*args, **kwargs):
        raise AssertionError("a row was parsed")

    monkeypatch.setattr("openpyxl.worksheet._reader.WorkSheetParser.parse_row", no_rows)
    _refused_roster(enrolling, _wide_roster(30, 100),
                    "工作表“报名人员信息表”有 100 列，最多只能有 20 列")


def test_a_dimension_that_hides_the_width_does_not_help(app, enrolling):
    data = _patched(_wide_roster(30, 100), "xl/worksheets/sheet1.xml",
                    rb'<dimension ref="A1:CV31"\s*/>', b'<dimension ref="A1:I31"/>')
    _refused_roster(enrolling, data, "有 21 列，最多只能有 20 列")  # the first cell too far


def test_a_declared_dimension_beyond_the_template_is_refused_at_once(app, enrolling):
    data = _patched(roster_bytes([row()]), "xl/worksheets/sheet1.xml",
                    rb'<dimension ref="A1:I5001"\s*/>', b'<dimension ref="A1:XFD1048576"/>')
    _refused_roster(enrolling, data, "有 16384 列")


def test_a_roster_longer_than_allowed_is_refused_before_parsing(app, enrolling):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["序号", "姓名", "性别", "身份证号码", "手机号码", "文化程度", "职称",
                  "职业(工种)名称", "职业等级"])
    sheet.cell(30_000, 2, "张三")
    out = io.BytesIO()
    workbook.save(out)
    _refused_roster(enrolling, out.getvalue(), "超过 20000 行")


def test_many_errors_are_listed_and_marked_up_to_the_limit(app, enrolling, monkeypatch):
    monkeypatch.setattr(workbooks, "MAX_LISTED_ERRORS", 20)
    data = roster_bytes([row(手机号码="12345", 性别="?") for _ in range(15)])  # 30 errors
    page = _upload_roster(enrolling["client"], enrolling["plan"], data).get_data(as_text=True)
    assert "未导入任何人" in page and "(30)" in page
    assert page.count("手机号码应为 11 位数字") == 10
    assert "另有 10 处错误未在此列出" in page
    marked = enrolling["client"].get(f"/enrol/{enrolling['plan'].id}/roster-errors.xlsx")
    sheet = load_workbook(io.BytesIO(marked.data))["报名人员信息表"]
    comments = [c for r in sheet.iter_rows() for c in r if c.comment]
    assert len(comments) == 20


def test_a_sheet_too_large_to_mark_keeps_no_copy_and_says_so(app, enrolling, monkeypatch):
    monkeypatch.setattr(workbooks, "MAX_MARKED_CELLS", 1000)  # the template alone has more
    page = _upload_roster(enrolling["client"], enrolling["plan"],
                          roster_bytes([row(手机号码="12345")])).get_data(as_text=True)
    assert "手机号码应为 11 位数字" in page and "表格过大，无法生成标注错误的副本" in page
    assert _count(ErrorWorkbook) == 0 and _files(".xlsx") == set()
    assert enrolling["client"].get(
        f"/enrol/{enrolling['plan'].id}/roster-errors.xlsx").status_code == 404


@pytest.fixture
def exam(app, login_as):
    app.config["CLOCK_FROZEN_AT"] = NOW
    institution = gen_institution()
    plan = gen_finished_plan(institution, train_start=NOW.date() - dt.timedelta(days=30),
                             train_end=NOW.date() - dt.timedelta(days=5))
    gen_paid_trainees(plan, 2)
    assessment = gen_assessment(plan, exam_start=NOW - dt.timedelta(days=2, hours=3),
                                exam_end=NOW - dt.timedelta(days=2))
    user = gen_user(scope.INSTITUTION, institution_id=institution.id)
    return {"assessment": assessment, "institution": institution, "user": user,
            "client": _signed_in(app, login_as, user)}


def _upload_scores(client, assessment, data):
    return client.post(f"/assessments/scores/{assessment.id}",
                       data={"scores": (io.BytesIO(data), "成绩导入表.xlsx")}, content_type=FORM)


def test_a_score_sheet_wider_than_its_template_is_refused(app, exam):
    workbook = load_workbook(io.BytesIO(scores.template(exam["assessment"])))
    workbook[scores.SHEET].cell(scores.HEADER_ROW + 1, 40, "备注")
    out = io.BytesIO()
    workbook.save(out)
    response = _upload_scores(exam["client"], exam["assessment"], out.getvalue())
    assert response.status_code == 302
    page = exam["client"].get(response.location).get_data(as_text=True)
    assert "工作表“成绩导入表”有 40 列，最多只能有 15 列" in page
    assert (_count(ScoreReport), _count(Score), _count(ErrorWorkbook)) == (0, 0, 0)


# ---- marked workbooks (issue 14 #18) ------------------------------------------------------

def _bad_roster() -> bytes:
    return roster_bytes([row(手机号码="12345")])


def test_marked_workbooks_are_purged_after_a_day_with_their_files(app, enrolling):
    from tasks.maintenance import purge_error_workbooks

    _upload_roster(enrolling["client"], enrolling["plan"], _bad_roster())
    (kept,) = db.session.scalars(select(ErrorWorkbook)).all()
    key = kept.storage_key
    assert storage().exists(key)
    app.config["CLOCK_FROZEN_AT"] = NOW + dt.timedelta(hours=23)
    assert purge_error_workbooks.call_local() == 0 and storage().exists(key)
    app.config["CLOCK_FROZEN_AT"] = NOW + dt.timedelta(hours=25)
    assert enrolling["client"].get(
        f"/enrol/{enrolling['plan'].id}/roster-errors.xlsx").status_code == 404  # expired
    assert purge_error_workbooks.call_local() == 1
    assert not storage().exists(key) and _files(".xlsx") == set()
    db.session.expire_all()
    assert _count(ErrorWorkbook) == 0


def test_a_marked_workbook_is_served_to_its_owner_only(app, enrolling, exam, login_as):
    plan, assessment = enrolling["plan"], exam["assessment"]
    _upload_roster(enrolling["client"], plan, _bad_roster())
    _upload_scores(exam["client"], assessment, b"")  # not even a workbook: no copy
    data = load_workbook(io.BytesIO(scores.template(assessment)))
    out = io.BytesIO()
    data.save(out)  # no scores typed in: every trainee's cells are empty
    _upload_scores(exam["client"], assessment, out.getvalue())
    roster_url = f"/enrol/{plan.id}/roster-errors.xlsx"
    scores_url = f"/assessments/score-errors/{assessment.id}.xlsx"
    assert enrolling["client"].get(roster_url).status_code == 200
    assert exam["client"].get(scores_url).status_code == 200
    colleague = gen_user(scope.ENTERPRISE, enterprise_id=enrolling["enterprise"].id)
    other_institution = gen_user(scope.INSTITUTION, institution_id=exam["institution"].id)
    assert _signed_in(app, login_as, colleague).get(roster_url).status_code == 404
    assert _signed_in(app, login_as, other_institution).get(scores_url).status_code == 404


def test_a_new_upload_replaces_the_marked_workbook_and_a_clean_one_removes_it(app, enrolling):
    client, plan = enrolling["client"], enrolling["plan"]
    _upload_roster(client, plan, _bad_roster())
    first = db.session.scalars(select(ErrorWorkbook.storage_key)).one()
    _upload_roster(client, plan, roster_bytes([row(性别="?")]))
    db.session.expire_all()
    second = db.session.scalars(select(ErrorWorkbook.storage_key)).one()
    assert second != first and not storage().exists(first) and storage().exists(second)
    assert _upload_roster(client, plan, roster_bytes([row()])).status_code == 302
    db.session.expire_all()
    assert _count(ErrorWorkbook) == 0 and not storage().exists(second)
    assert client.get(f"/enrol/{plan.id}/roster-errors.xlsx").status_code == 404


def test_a_sheet_declaring_entities_is_refused_as_damaged(app, enrolling):
    data = _patched(roster_bytes([row()]), "xl/worksheets/sheet1.xml", rb"^(<\?xml[^>]*\?>)?",
                    b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">]>')
    _refused_roster(enrolling, data, "文件已损坏")
