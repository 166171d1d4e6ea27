"""企业注册: the whole form, the licence read-out, and every way to get it wrong."""
import io
import json

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.integrations.storage import storage
from models.accounts import StagedUpload
from models.audit import AuditLog
from models.organisation import Enterprise
from models.user import JianpeiUser
from tests.accounts_helpers import documents, form_fields, hidden, last_code, register
from tests.factories import gen_enterprise, gen_uscc
from tests.images import (
    HTML_BYTES,
    PDF_BYTES,
    bomb_jpeg,
    licence_jpeg,
    plain_jpeg,
    png_bytes,
    truncated_jpeg,
)


def _rows():
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Enterprise, JianpeiUser)}


def _stored_files(app) -> set[str]:
    root = storage().root
    return {p.name for p in root.rglob("*.jpg")} if root.exists() else set()


def _enterprise_files() -> set[str]:
    keys = set()
    for e in db.session.scalars(select(Enterprise)):
        keys |= {e.licence_file, e.commitment_file, e.qualification_file}
    return keys


def test_registration_page_explains_the_rules(client):
    page = client.get("/register/").get_data(as_text=True)
    assert "yyzz.jpg" in page and "cns.jpg" in page and "zzzs.jpg" in page
    assert "企业不能重复注册" in page
    assert "下载承诺书模版" in page


def test_commitment_letter_template_is_a_chinese_pdf(client):
    response = client.get("/register/commitment-letter.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert b"/FontFile2" in response.data  # a TrueType font is embedded, not referenced


def test_register_without_javascript(app, client):
    uscc = gen_uscc()
    first, second = register(client, uscc)
    page = first.get_data(as_text=True)
    assert "营业执照已识别" in page and uscc in page and "张建国" in page
    assert second.status_code == 302
    db.session.expire_all()
    enterprise = db.session.scalars(select(Enterprise).where(Enterprise.uscc == uscc)).one()
    assert enterprise.review_state == "pending"
    assert enterprise.reviewing_authority.name == "杭州市住房和城乡建设局"
    assert json.loads(enterprise.ocr_result)["uscc"] == uscc
    assert {enterprise.licence_file, enterprise.commitment_file,
            enterprise.qualification_file} <= _stored_files(app)
    assert db.session.scalar(select(func.count()).select_from(StagedUpload)) == 0
    assert db.session.scalars(select(AuditLog.action)).all() == ["enterprise.register"]
    # The account is the credit code with the chosen password.
    login = client.post("/login/", data={"username": uscc, "password": "Secret@2026"})
    assert login.status_code == 302
    assert "待审核" in client.get("/my/enterprise/").get_data(as_text=True)


def test_register_with_javascript_endpoints(app, client):
    uscc = gen_uscc()
    tokens = {}
    for slot, (data, name) in documents(uscc).items():
        answer = client.post(f"/register/upload/{slot}", data={"file": (data, name)},
                             content_type="multipart/form-data").get_json()
        assert answer["ok"], answer
        tokens[f"{slot}_token"] = answer["token"]
    reading = client.get(f"/register/reading/{tokens['yyzz_token']}").get_json()
    assert reading["ocr_state"] == "done"
    assert reading["reading"]["uscc"] == uscc
    assert reading["reading"]["established"] == "2015-06-01"
    client.post("/register/sms", data={"mobile": "13912345678"})
    response = client.post("/register/", data={
        **form_fields(uscc), **tokens, "reading_seen": tokens["yyzz_token"],
        "sms_code": last_code("13912345678")})
    assert response.status_code == 302
    assert _rows()["Enterprise"] == 1


def test_province_owned_units_are_reviewed_by_the_province(app, client):
    uscc = gen_uscc()
    register(client, uscc, province_owned="y", region_code="330200")
    enterprise = db.session.scalars(select(Enterprise).where(Enterprise.uscc == uscc)).one()
    assert enterprise.reviewing_authority.name == "浙江省住房和城乡建设厅"


def test_read_out_shows_differences(app, client):
    uscc = gen_uscc()
    first = client.post("/register/", data={**form_fields(uscc, name="另一家公司"),
                                            **documents(uscc)},
                        content_type="multipart/form-data")
    html = first.get_data(as_text=True)
    assert "执照上为：杭州测试建设工程有限公司" in html


def _refused(client, app, expected_text, *, uscc=None, files=None, code=None, **overrides):
    uscc = uscc or gen_uscc()
    before_rows, before_files = _rows(), _enterprise_files()
    _first, second = register(client, uscc, files=files, code=code, **overrides)
    page = second.get_data(as_text=True) if second.status_code == 200 else ""
    if files is not None and expected_text not in page:
        page = _first.get_data(as_text=True)
    assert expected_text in page
    assert _rows() == before_rows
    assert _enterprise_files() == before_files
    return page


def test_wrong_check_character(app, client):
    uscc = gen_uscc()
    wrong = uscc[:17] + ("0" if uscc[17] != "0" else "1")
    _refused(client, app, "校验码正确", uscc=wrong, files=documents(uscc))


def test_duplicate_uscc_points_to_password_reset(app, client):
    existing = gen_enterprise()
    page = _refused(client, app, "企业不能重复注册", uscc=existing.uscc)
    assert "忘记密码" in page


def test_licence_that_does_not_match_asks_for_a_new_photo(app, client):
    typed = gen_uscc()
    other = gen_uscc()
    page = _refused(client, app, "营业执照照片不清晰", uscc=typed,
                    files=documents(typed, licence=licence_jpeg(other)))
    assert "yyzz.jpg" in page


def test_unreadable_licence(app, client):
    uscc = gen_uscc()
    _refused(client, app, "营业执照照片不清晰", uscc=uscc,
             files=documents(uscc, licence=plain_jpeg(1200, 850)))


@pytest.mark.parametrize("payload, name, message", [
    (png_bytes(), "yyzz.jpg", "不是 JPG 图片"),
    (PDF_BYTES, "yyzz.jpg", "不是 JPG 图片"),
    (HTML_BYTES, "yyzz.jpg", "不是 JPG 图片"),
    (truncated_jpeg(), "yyzz.jpg", "已损坏或不完整"),
    (bomb_jpeg(), "yyzz.jpg", "像素过多"),
    (bomb_jpeg(9000, 5000), "yyzz.jpg", "像素过多"),
    (plain_jpeg(), "licence.jpg", "此处应上传 yyzz.jpg"),
    (b"\xff\xd8\xff" + b"\0" * (2 * 1024 * 1024 + 1), "yyzz.jpg", "超过 2 MB"),
])
def test_bad_licence_files_are_refused(app, client, payload, name, message):
    answer = client.post("/register/upload/yyzz", data={"file": (io.BytesIO(payload), name)},
                         content_type="multipart/form-data")
    assert answer.status_code == 400
    assert message in answer.get_json()["error"]
    assert db.session.scalar(select(func.count()).select_from(StagedUpload)) == 0
    assert _stored_files(app) == set()


def test_bad_file_in_the_form_is_reported_and_nothing_registered(app, client):
    uscc = gen_uscc()
    files = documents(uscc)
    files["zzzs"] = (io.BytesIO(png_bytes()), "zzzs.jpg")
    page = client.post("/register/", data={**form_fields(uscc), **files},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "不是 JPG 图片" in page
    assert _rows() == {"Enterprise": 0, "JianpeiUser": 0}


def test_documents_are_reencoded_without_exif(app, client):
    data = plain_jpeg(600, 400, exif_orientation=6)
    answer = client.post("/register/upload/cns", data={"file": (io.BytesIO(data), "CNS.JPG")},
                         content_type="multipart/form-data").get_json()
    upload = db.session.scalars(select(StagedUpload)).one()
    assert answer["ok"]
    with storage().open(upload.storage_key) as f:
        stored = f.read()
    assert b"SecretCamera" not in stored and b"Exif" not in stored
    from PIL import Image

    assert Image.open(io.BytesIO(stored)).size == (400, 600)  # orientation applied
    assert upload.storage_key.endswith(".jpg") and "cns" not in upload.storage_key


def test_wrong_sms_code_registers_nothing(app, client):
    _refused(client, app, "验证码错误或已过期", code="000000")


def test_expired_sms_code(app, client):
    import datetime as dt

    from app import clock

    uscc = gen_uscc()
    client.post("/register/sms", data={"mobile": "13911112222"})
    code = last_code("13911112222")
    app.config["CLOCK_FROZEN_AT"] = clock.now() + dt.timedelta(minutes=6)
    first = client.post("/register/", data={**form_fields(uscc, "13911112222"), **documents(uscc)},
                        content_type="multipart/form-data").get_data(as_text=True)
    second = client.post("/register/", data={
        **form_fields(uscc, "13911112222"), "sms_code": code,
        **{f"{s}_token": hidden(first, f"{s}_token") for s in ("yyzz", "cns", "zzzs")},
        "reading_seen": hidden(first, "reading_seen")})
    assert "验证码错误或已过期" in second.get_data(as_text=True)
    assert _rows()["Enterprise"] == 0


def test_a_code_cannot_be_used_twice(app, client):
    uscc = gen_uscc()
    _first, second = register(client, uscc, mobile="13922223333")
    assert second.status_code == 302
    code = last_code("13922223333")
    client.post("/logout/")
    again = gen_uscc()
    first = client.post("/register/", data={**form_fields(again, "13922223333"),
                                            **documents(again)},
                        content_type="multipart/form-data").get_data(as_text=True)
    third = client.post("/register/", data={
        **form_fields(again, "13922223333"), "sms_code": code,
        **{f"{s}_token": hidden(first, f"{s}_token") for s in ("yyzz", "cns", "zzzs")},
        "reading_seen": hidden(first, "reading_seen")})
    assert "验证码错误或已过期" in third.get_data(as_text=True)
    assert _rows()["Enterprise"] == 1
