"""The error path of every upload, through the real views: what the user reads, and that
nothing was stored (no rows, no files).

Roster (报名人员信息表), trainee photos (one and batch, files and zip, 1-inch and ID card),
score sheets (成绩导入表) with their marked workbook, and the enterprise documents
(yyzz/cns/zzzs) at registration and on the enterprise's own page.
"""
import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app import scope
from app.extensions import db
from app.integrations.storage import storage
from app.services import scores
from models.accounts import StagedUpload
from models.assessment import Score, ScoreReport
from models.enrolment import Enrolment, ImportBatch, Person
from models.exports import ErrorWorkbook
from models.organisation import Enterprise
from tests.archives import zip_bytes
from tests.assessment_factories import gen_assessment, gen_finished_plan, gen_paid_trainees
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_uscc, gen_user
from tests.helpers import give_documents
from tests.images import HTML_BYTES, bomb_jpeg, plain_jpeg, png_bytes, truncated_jpeg
from tests.order_factories import gen_trainees
from tests.rosters import roster_bytes, row

NOW = dt.datetime(2026, 11, 28, 10, 0)
XLSX_FORM = "multipart/form-data"


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _files(suffix: str = "") -> set[str]:
    """Every stored file (of one suffix), by name."""
    root = storage().root
    return {p.name for p in root.rglob(f"*{suffix}") if p.is_file()} if root.exists() else set()


def _signed_in(app, login_as, user):
    client = app.test_client()
    login_as(client, user)
    return client


def _page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


# ---- 成绩导入表 ----------------------------------------------------------------------------

@pytest.fixture
def exam(app, login_as):
    """An approved assessment whose exam has ended, its three paid trainees, and the
    institution signed in."""
    app.config["CLOCK_FROZEN_AT"] = NOW
    institution = gen_institution()
    today = NOW.date()
    plan = gen_finished_plan(institution, train_start=today - dt.timedelta(days=30),
                             train_end=today - dt.timedelta(days=5))
    trainees = gen_paid_trainees(plan, 3)
    assessment = gen_assessment(plan, exam_start=NOW - dt.timedelta(days=2, hours=3),
                                exam_end=NOW - dt.timedelta(days=2))
    user = gen_user(scope.INSTITUTION, institution_id=institution.id)
    return {"assessment": assessment, "trainees": trainees, "user": user,
            "client": _signed_in(app, login_as, user)}


def _filled(assessment, marks) -> bytes:
    """The downloaded template with marks[i] typed in for the i-th trainee."""
    workbook = load_workbook(io.BytesIO(scores.template(assessment)))
    sheet = workbook[scores.SHEET]
    for i, number in enumerate(range(scores.HEADER_ROW + 1, scores.HEADER_ROW + 1 + len(marks))):
        sheet.cell(number, 3).value, sheet.cell(number, 4).value = marks[i]
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _upload_scores(client, assessment, data, name="成绩导入表.xlsx"):
    return client.post(f"/assessments/scores/{assessment.id}",
                       data={"scores": (io.BytesIO(data), name)}, content_type=XLSX_FORM)


def test_a_score_sheet_with_errors_lists_them_and_offers_the_marked_sheet(app, exam):
    client, assessment = exam["client"], exam["assessment"]
    data = _filled(assessment, [(80, 75), (80, 120), ("八十", 75)])

    page = _page(_upload_scores(client, assessment, data))

    assert "未导入任何数据：成绩表中有 2 处错误" in page
    assert 'id="score-errors"' in page
    assert "成绩应为0到100之间的数字。" in page and "成绩必须是数字。" in page
    assert (_count(ScoreReport), _count(Score)) == (0, 0)
    marked = client.get(f"/assessments/score-errors/{assessment.id}.xlsx")
    assert marked.status_code == 200
    sheet = load_workbook(io.BytesIO(marked.data))[scores.SHEET]
    first = scores.HEADER_ROW + 1
    assert sheet.cell(first + 1, 4).fill.fgColor.rgb.endswith("FFC7CE")
    assert sheet.cell(first + 2, 3).comment is not None
    assert sheet.cell(first, 3).comment is None


@pytest.mark.parametrize("payload, name, text", [
    (b"not a workbook", "成绩.xlsx", "不是 Excel .xlsx 工作簿"),
    (png_bytes(), "成绩.xlsx", "不是 Excel .xlsx 工作簿"),
])
def test_an_unusable_score_file_is_refused_with_a_message(app, exam, payload, name, text):
    client, assessment = exam["client"], exam["assessment"]
    response = _upload_scores(client, assessment, payload, name)
    assert response.status_code == 302
    assert text in _page(client.get(response.location))
    assert (_count(ScoreReport), _count(Score), _count(ErrorWorkbook)) == (0, 0, 0)
    assert _files(".xlsx") == set()


# ---- 报名人员信息表 ------------------------------------------------------------------------

@pytest.fixture
def enrolling(app, login_as):
    """An approved enterprise signed in, a plan open for enrolment, three trainees without
    photos."""
    app.config["CLOCK_FROZEN_AT"] = NOW
    plan = gen_plan(gen_institution(), enrol_start=NOW - dt.timedelta(days=8),
                    enrol_end=NOW + dt.timedelta(days=12))
    enterprise = gen_enterprise()
    trainees = gen_trainees(enterprise, plan, 3, photos=False)
    user = gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id)
    return {"plan": plan, "trainees": trainees, "user": user,
            "client": _signed_in(app, login_as, user)}


def _upload_roster(client, plan, data, name="报名人员信息表.xlsx"):
    return client.post(f"/enrol/{plan.id}/roster", data={"roster": (io.BytesIO(data), name)},
                       content_type=XLSX_FORM)


def _enrolled() -> tuple[int, int, int]:
    return _count(Person), _count(Enrolment), _count(ImportBatch)


def test_a_roster_with_errors_lists_them_and_offers_the_marked_roster(app, enrolling):
    client, plan = enrolling["client"], enrolling["plan"]
    before = _enrolled()
    data = roster_bytes([row(), row(手机号码="12345"), row(性别="未知")])

    page = _page(_upload_roster(client, plan, data))

    assert "未导入任何人" in page and 'id="roster-errors"' in page
    assert "手机号码应为 11 位数字" in page and "性别应为“男”或“女”" in page
    assert _enrolled() == before
    (kept,) = db.session.scalars(select(ErrorWorkbook)).all()
    assert (kept.user_id, kept.kind, kept.subject_id) == (enrolling["user"].id, "roster", plan.id)
    marked = client.get(f"/enrol/{plan.id}/roster-errors.xlsx")
    assert marked.status_code == 200 and marked.headers["X-Content-Type-Options"] == "nosniff"
    sheet = load_workbook(io.BytesIO(marked.data))["报名人员信息表"]
    assert sheet["E3"].fill.fgColor.rgb.endswith("FFC7CE") and "11 位" in sheet["E3"].comment.text
    assert sheet["E2"].comment is None


@pytest.mark.parametrize("payload, name, text", [
    (b"%PDF-1.4 not a workbook", "报名人员信息表.xlsx", "不是 Excel .xlsx 工作簿"),
    (b"PK\x03\x04broken", "报名人员信息表.xlsx", "已损坏"),
    ("序号,姓名\n1,张三\n".encode(), "报名人员信息表.csv", "不是 Excel .xlsx 工作簿"),
])
def test_an_unusable_roster_file_is_refused_with_a_message(app, enrolling, payload, name, text):
    client, plan = enrolling["client"], enrolling["plan"]
    before = _enrolled()
    response = _upload_roster(client, plan, payload, name)
    assert response.status_code == 302
    assert text in _page(client.get(response.location))
    assert _enrolled() == before and _count(ErrorWorkbook) == 0
    assert _files(".xlsx") == set()


# ---- 寸照 and 身份证正面照 ------------------------------------------------------------------

def _photo_keys(trainees) -> list:
    db.session.expire_all()
    return [(e.photo_key, e.photo_thumb_key, e.id_photo_key)
            for e in (db.session.get(Enrolment, t.id) for t in trainees)]


def _nothing_stored(trainees) -> None:
    assert _photo_keys(trainees) == [(None, None, None)] * len(trainees)
    assert _files(".jpg") == set()


@pytest.mark.parametrize("kind, payload, text", [
    ("photo", png_bytes(), "不是 JPG 图片"),
    ("photo", HTML_BYTES, "不是 JPG 图片"),
    ("photo", truncated_jpeg(), "已损坏或不完整"),
    ("photo", bomb_jpeg(), "像素过多"),
    ("photo", plain_jpeg(200, 280), "不能小于 295 × 413 像素"),
    ("id_photo", png_bytes(), "不是 JPG 图片"),
    ("id_photo", bomb_jpeg(), "像素过多"),
    ("id_photo", plain_jpeg(300, 200), "太小"),
])
def test_a_refused_single_photo_says_why_and_stores_nothing(app, enrolling, kind, payload, text):
    client, trainee = enrolling["client"], enrolling["trainees"][0]
    response = client.post(f"/enrol/photo/{trainee.id}/{kind}",
                           data={"file": (io.BytesIO(payload), f"{trainee.person.id_number}.jpg"),
                                 "plan_id": trainee.plan_id},
                           content_type=XLSX_FORM, follow_redirects=True)
    assert text in _page(response)
    _nothing_stored(enrolling["trainees"])


@pytest.mark.parametrize("kind", ["photo", "id_photo"])
def test_a_batch_of_bad_photos_lists_each_refusal_and_stores_nothing(app, enrolling, kind):
    client, plan, trainees = enrolling["client"], enrolling["plan"], enrolling["trainees"]
    files = [(io.BytesIO(png_bytes()), f"{trainees[0].person.id_number}.jpg"),
             (io.BytesIO(truncated_jpeg()), f"{trainees[1].person.id_number}.jpg"),
             (io.BytesIO(plain_jpeg()), "330106199001019999.jpg")]
    page = _page(client.post(f"/enrol/{plan.id}/photos/{kind}", data={"files": files},
                             content_type=XLSX_FORM))
    assert 'id="batch-result"' in page
    assert "不是 JPG 图片" in page and "已损坏或不完整" in page
    assert "330106199001019999.jpg" in page  # named after nobody in this plan
    _nothing_stored(trainees)


@pytest.mark.parametrize("kind", ["photo", "id_photo"])
@pytest.mark.parametrize("archive, text", [
    (b"PK\x03\x04 not really a zip", "不是有效的 zip 压缩包"),
    (zip_bytes([("photos/330106199001011234.jpg", b"x")]), "不要放在文件夹中"),
    (zip_bytes([("inner.zip", b"PK")]), "还包含压缩包"),
])
def test_a_refused_zip_of_photos_says_why_and_stores_nothing(app, enrolling, kind, archive, text):
    client, plan = enrolling["client"], enrolling["plan"]
    response = client.post(f"/enrol/{plan.id}/photos/{kind}",
                           data={"files": [(io.BytesIO(archive), "照片.zip")]},
                           content_type=XLSX_FORM, follow_redirects=True)
    assert text in _page(response)
    _nothing_stored(enrolling["trainees"])


@pytest.mark.parametrize("kind", ["photo", "id_photo"])
def test_a_zip_with_bad_pictures_lists_each_refusal_and_stores_nothing(app, enrolling, kind):
    client, plan, trainees = enrolling["client"], enrolling["plan"], enrolling["trainees"]
    archive = zip_bytes([(f"{trainees[0].person.id_number}.jpg", png_bytes()),
                         (f"{trainees[1].person.id_number}.jpg", bomb_jpeg())])
    page = _page(client.post(f"/enrol/{plan.id}/photos/{kind}",
                             data={"files": [(io.BytesIO(archive), "照片.zip")]},
                             content_type=XLSX_FORM))
    assert "不是 JPG 图片" in page and "像素过多" in page
    _nothing_stored(trainees)


# ---- 营业执照 yyzz, 承诺书 cns, 资质证书 zzzs ------------------------------------------------

DOCUMENT_REFUSALS = [
    (png_bytes(), "不是 JPG 图片"),
    (HTML_BYTES, "不是 JPG 图片"),
    (truncated_jpeg(), "已损坏或不完整"),
    (bomb_jpeg(), "像素过多"),
]


@pytest.mark.parametrize("slot", ["yyzz", "cns", "zzzs"])
@pytest.mark.parametrize("payload, text", DOCUMENT_REFUSALS)
def test_a_refused_registration_document_says_why_and_stores_nothing(app, client, slot, payload,
                                                                      text):
    answer = client.post(f"/register/upload/{slot}",
                         data={"file": (io.BytesIO(payload), f"{slot}.jpg")},
                         content_type=XLSX_FORM)
    assert answer.status_code == 400 and text in answer.get_json()["error"]
    assert _count(StagedUpload) == 0 and _files() == set()


@pytest.mark.parametrize("slot", ["yyzz", "cns", "zzzs"])
def test_a_refused_document_in_the_registration_form_registers_nothing(app, client, slot):
    from tests.accounts_helpers import documents, form_fields

    uscc = gen_uscc()
    files = documents(uscc)
    files[slot] = (io.BytesIO(png_bytes()), f"{slot}.jpg")
    page = _page(client.post("/register/", data={**form_fields(uscc), **files},
                             content_type=XLSX_FORM))
    assert "不是 JPG 图片" in page and f"{slot}.jpg" in page
    assert _count(Enterprise) == 0


@pytest.mark.parametrize("slot", ["yyzz", "cns", "zzzs"])
@pytest.mark.parametrize("payload, text", DOCUMENT_REFUSALS)
def test_a_refused_document_on_the_enterprise_page_keeps_the_old_one(app, login_as, slot,
                                                                      payload, text):
    enterprise = gen_enterprise(review_state="rejected", review_reason="材料不清晰")
    give_documents(enterprise)
    before_files = _files()
    before = (enterprise.licence_file, enterprise.commitment_file, enterprise.qualification_file)
    client = _signed_in(app, login_as, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    page = _page(client.post("/my/enterprise/edit", data={
        "contact_person": "李明", "address": "杭州", "region_code": "330100",
        "contact_mobile": enterprise.contact_mobile,
        slot: (io.BytesIO(payload), f"{slot}.jpg")}, content_type=XLSX_FORM))
    assert text in page
    db.session.expire_all()
    saved = db.session.get(Enterprise, enterprise.id)
    assert (saved.licence_file, saved.commitment_file, saved.qualification_file) == before
    assert saved.review_state == "rejected"
    assert _files() == before_files
