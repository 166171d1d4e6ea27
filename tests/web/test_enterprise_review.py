"""Regulators review the enterprises their authority is responsible for; enterprises see why."""
import pytest
from sqlalchemy import select

from app import scope
from app.extensions import db
from models.audit import AuditLog
from models.organisation import Enterprise
from tests.accounts_helpers import last_code
from tests.factories import authority_of, gen_enterprise, gen_regulator, gen_user
from tests.helpers import give_documents


def _pending(region="330100", province_owned=False, **fields):
    authority = authority_of("330000" if province_owned else region)
    enterprise = gen_enterprise(region, review_state="pending", province_owned=province_owned,
                                reviewing_authority_id=authority.id, **fields)
    give_documents(enterprise)
    return enterprise


def _signed_in(app, login_as, user):
    client = app.test_client()
    login_as(client, user)
    return client


@pytest.fixture
def queue(app):
    return {
        "hz": _pending("330100", name="杭州待审甲"),
        "hz_province": _pending("330100", True, name="省属待审乙"),
        "nb": _pending("330200", name="宁波待审丙"),
    }


def test_city_sees_its_own_non_province_owned_queue(app, login_as, queue):
    client = _signed_in(app, login_as, gen_regulator("330100"))
    page = client.get("/review/enterprises/").get_data(as_text=True)
    assert "杭州待审甲" in page
    assert "省属待审乙" not in page and "宁波待审丙" not in page


def test_province_sees_province_owned_units(app, login_as, queue):
    client = _signed_in(app, login_as, gen_regulator("330000", scope.PROVINCE_REGULATOR))
    page = client.get("/review/enterprises/").get_data(as_text=True)
    assert "省属待审乙" in page and "杭州待审甲" not in page


def test_review_screen_shows_pictures_and_differences(app, login_as, queue):
    enterprise = queue["hz"]
    enterprise.ocr_result = ('{"uscc": "%s", "name": "杭州待审甲", "legal_representative": "赵六"}'
                             % enterprise.uscc)
    enterprise.legal_representative = "张三"
    db.session.commit()
    client = _signed_in(app, login_as, gen_regulator("330100"))
    page = client.get(f"/review/enterprises/{enterprise.id}").get_data(as_text=True)
    assert f"/documents/enterprise/{enterprise.id}/yyzz.jpg" in page
    assert f"/documents/enterprise/{enterprise.id}/zzzs.jpg" in page
    assert "赵六" in page and 'class="danger"' in page


def test_approve_is_audited_and_opens_the_enterprise(app, login_as, queue):
    enterprise = queue["hz"]
    client = _signed_in(app, login_as, gen_regulator("330100"))
    response = client.post(f"/review/enterprises/{enterprise.id}/approve")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Enterprise, enterprise.id).review_state == "approved"
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "enterprise.approve")).one()
    assert '"approved"' in entry.summary and entry.region_code == "330100"


def test_reject_needs_a_reason_which_the_enterprise_sees(app, login_as, queue):
    enterprise = queue["hz"]
    client = _signed_in(app, login_as, gen_regulator("330100"))
    page = client.post(f"/review/enterprises/{enterprise.id}/reject", data={"reason": " "},
                       follow_redirects=True).get_data(as_text=True)
    assert "请填写审核不通过的原因" in page
    client.post(f"/review/enterprises/{enterprise.id}/reject", data={"reason": "营业执照模糊"})
    db.session.expire_all()
    assert db.session.get(Enterprise, enterprise.id).review_state == "rejected"
    owner = _signed_in(app, login_as, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    info = owner.get("/my/enterprise/").get_data(as_text=True)
    assert "审核不通过" in info and "营业执照模糊" in info


def test_other_authorities_cannot_decide(app, login_as, queue):
    ningbo = _signed_in(app, login_as, gen_regulator("330200"))
    assert ningbo.post(f"/review/enterprises/{queue['hz'].id}/approve").status_code == 404
    province = _signed_in(app, login_as, gen_regulator("330000", scope.PROVINCE_REGULATOR))
    page = province.post(f"/review/enterprises/{queue['hz'].id}/approve",
                         follow_redirects=True).get_data(as_text=True)
    assert "该企业由杭州市住房和城乡建设局审核" in page
    hangzhou = _signed_in(app, login_as, gen_regulator("330100"))
    assert hangzhou.post(f"/review/enterprises/{queue['hz_province'].id}/approve",
                         follow_redirects=True).status_code == 200
    db.session.expire_all()
    assert {e.review_state for e in db.session.scalars(select(Enterprise))} == {"pending"}
    assert db.session.scalars(select(AuditLog)).all() == []


def test_enterprises_cannot_review(app, login_as, queue):
    client = _signed_in(app, login_as, gen_user(scope.ENTERPRISE, enterprise_id=queue["hz"].id))
    assert client.post(f"/review/enterprises/{queue['hz'].id}/approve").status_code == 403


def test_rejected_enterprise_edits_and_resubmits(app, login_as, queue):
    enterprise = queue["hz"]
    enterprise.review_state, enterprise.review_reason = "rejected", "名称有误"
    db.session.commit()
    client = _signed_in(app, login_as, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    response = client.post("/my/enterprise/edit", data={
        "name": "杭州更正后建设有限公司", "contact_person": "李明", "address": "杭州市新地址",
        "region_code": "330100", "contact_mobile": enterprise.contact_mobile})
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Enterprise, enterprise.id)
    assert (saved.review_state, saved.name, saved.review_reason) == ("pending",
                                                                     "杭州更正后建设有限公司", None)


def test_moving_region_sends_an_approved_enterprise_to_its_new_authority(app, login_as):
    enterprise = gen_enterprise("330100", reviewing_authority_id=authority_of("330100").id)
    client = _signed_in(app, login_as, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    client.post("/my/enterprise/edit", data={
        "contact_person": "李明", "address": "宁波市某路", "region_code": "330200",
        "contact_mobile": enterprise.contact_mobile, "name": "不会被改的名字"})
    db.session.expire_all()
    saved = db.session.get(Enterprise, enterprise.id)
    assert saved.review_state == "pending"
    assert saved.reviewing_authority.name == "宁波市住房和城乡建设局"
    assert saved.name != "不会被改的名字"  # approved details are not editable
    ningbo = _signed_in(app, login_as, gen_regulator("330200"))
    assert saved.name in ningbo.get("/review/enterprises/").get_data(as_text=True)


def test_province_owned_flag_change_goes_to_the_province(app, login_as):
    enterprise = gen_enterprise("330100", reviewing_authority_id=authority_of("330100").id)
    client = _signed_in(app, login_as, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    client.post("/my/enterprise/edit", data={
        "contact_person": "李明", "address": "杭州", "region_code": "330100",
        "province_owned": "y", "contact_mobile": enterprise.contact_mobile})
    db.session.expire_all()
    assert db.session.get(Enterprise, enterprise.id).reviewing_authority.level == "province"


def test_new_mobile_needs_a_code_sent_to_it(app, login_as):
    enterprise = gen_enterprise("330100", reviewing_authority_id=authority_of("330100").id)
    client = _signed_in(app, login_as, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    data = {"contact_person": "李明", "address": "杭州", "region_code": "330100",
            "contact_mobile": "13655556666", "sms_code": "123456"}
    page = client.post("/my/enterprise/edit", data=data).get_data(as_text=True)
    assert "验证码错误或已过期" in page
    assert client.post("/my/enterprise/mobile-code", data={"mobile": "13655556666"}).status_code == 200
    data["sms_code"] = last_code("13655556666")
    assert client.post("/my/enterprise/edit", data=data).status_code == 302
    db.session.expire_all()
    saved = db.session.get(Enterprise, enterprise.id)
    assert saved.contact_mobile == "13655556666" and saved.review_state == "approved"


def test_rejected_enterprise_replaces_its_licence(app, login_as, queue):
    import io

    from app.integrations.storage import storage
    from tests.images import licence_jpeg, png_bytes

    enterprise = queue["hz"]
    enterprise.review_state, enterprise.review_reason = "rejected", "营业执照模糊"
    db.session.commit()
    old_key = enterprise.licence_file
    client = _signed_in(app, login_as, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    fields = {"contact_person": "李明", "address": "杭州", "region_code": "330100",
              "contact_mobile": enterprise.contact_mobile}
    bad = client.post("/my/enterprise/edit", data={**fields, "yyzz": (io.BytesIO(png_bytes()),
                                                                        "yyzz.jpg")},
                      content_type="multipart/form-data").get_data(as_text=True)
    assert "不是 JPG 图片" in bad
    db.session.expire_all()
    assert db.session.get(Enterprise, enterprise.id).licence_file == old_key
    good = client.post("/my/enterprise/edit", data={
        **fields, "yyzz": (io.BytesIO(licence_jpeg(enterprise.uscc)), "yyzz.jpg")},
        content_type="multipart/form-data")
    assert good.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Enterprise, enterprise.id)
    assert saved.licence_file != old_key and not storage().exists(old_key)
    assert saved.review_state == "pending"
    assert enterprise.uscc in saved.ocr_result  # read again by the OCR task


def test_staged_uploads_nobody_used_are_purged(app, client):
    import datetime as dt
    import io

    from app import clock
    from app.integrations.storage import storage
    from app.services import uploads
    from models.accounts import StagedUpload
    from tests.images import plain_jpeg

    client.post("/register/upload/cns", data={"file": (io.BytesIO(plain_jpeg()), "cns.jpg")},
                content_type="multipart/form-data")
    upload = db.session.scalars(select(StagedUpload)).one()
    assert uploads.purge_expired() == 0
    app.config["CLOCK_FROZEN_AT"] = clock.now() + dt.timedelta(minutes=61)
    assert uploads.purge_expired() == 1
    assert not storage().exists(upload.storage_key)
    assert db.session.scalars(select(StagedUpload)).all() == []


def test_a_refused_edit_keeps_the_old_documents(app, login_as, queue):
    import io

    from app.integrations.storage import storage
    from tests.images import licence_jpeg

    enterprise = queue["hz"]
    old_key = enterprise.licence_file
    client = _signed_in(app, login_as, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    page = client.post("/my/enterprise/edit", data={
        "contact_person": "李明", "address": "杭州", "region_code": "330100",
        "contact_mobile": "13600001111", "sms_code": "000000",
        "yyzz": (io.BytesIO(licence_jpeg(enterprise.uscc)), "yyzz.jpg")},
        content_type="multipart/form-data").get_data(as_text=True)
    assert "验证码错误或已过期" in page
    db.session.expire_all()
    saved = db.session.get(Enterprise, enterprise.id)
    assert saved.licence_file == old_key and storage().exists(old_key)
    assert len(list(storage().root.rglob("*.jpg"))) == 9  # three enterprises × three documents
