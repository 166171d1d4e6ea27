"""The admins' data console: dictionaries edited inline, retired not deleted, all audited."""
from sqlalchemy import func, select

from app import console
from app.extensions import db
from app.services import dictionaries
from models.audit import AuditLog
from models.reference import Occupation
from tests.factories import dictionary_value, gen_institution, gen_plan, gen_user


def _admin_client(app, login_as):
    client = app.test_client()
    login_as(client, gen_user("Admin"))
    return client


def test_console_is_chinese_and_lists_dictionaries(app, login_as):
    client = _admin_client(app, login_as)
    page = client.get("/console/console_occupation/").get_data(as_text=True)
    assert "钢筋工" in page and "职业(工种)名称" in page and "建培数据管理台" in page


def test_inline_edit_renames_and_is_audited(app, login_as):
    client = _admin_client(app, login_as)
    item = dictionary_value(Occupation, "木工")
    response = client.post("/console/console_occupation/ajax/update/",
                           data={"list_form_pk": item.id, "name": "木工(装饰)"})
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(Occupation, item.id).name == "木工(装饰)"
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "console.update")).one()
    assert entry.object_type == "Occupation" and entry.object_id == str(item.id)
    assert "木工(装饰)" in entry.summary


def test_retired_value_leaves_new_choices(app, login_as):
    client = _admin_client(app, login_as)
    item = dictionary_value(Occupation, "石工")
    client.post("/console/console_occupation/ajax/update/",
                data={"list_form_pk": item.id, "active": ""})
    db.session.expire_all()
    assert db.session.get(Occupation, item.id).active is False
    assert "石工" not in [o.name for o in dictionaries.active_values(Occupation)]


def test_value_in_use_cannot_be_deleted(app, login_as):
    client = _admin_client(app, login_as)
    used = dictionary_value(Occupation, "钢筋工")
    gen_plan(gen_institution(), occupation_id=used.id)
    response = client.post("/console/console_occupation/delete/", data={"id": used.id},
                           follow_redirects=True)
    assert "已被使用，不能删除" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Occupation, used.id) is not None


def test_unused_value_can_be_deleted(app, login_as):
    client = _admin_client(app, login_as)
    unused_id = dictionary_value(Occupation, "古建筑传统瓦工").id
    client.post("/console/console_occupation/delete/", data={"id": unused_id})
    db.session.expire_all()
    assert db.session.get(Occupation, unused_id) is None
    assert db.session.scalars(select(AuditLog).where(AuditLog.action == "console.delete")).one()


def test_search_and_export(app, login_as):
    client = _admin_client(app, login_as)
    found = client.get("/console/console_occupation/?search=钢筋").get_data(as_text=True)
    assert "钢筋工" in found and "砌筑工" not in found
    export = client.get("/console/console_occupation/export/csv/")
    assert export.status_code == 200
    assert "钢筋工" in export.get_data(as_text=True)


def test_an_export_larger_than_its_cap_is_refused_not_cut(app, login_as, monkeypatch):
    client = _admin_client(app, login_as)
    total = db.session.scalar(select(func.count()).select_from(Occupation))
    monkeypatch.setattr(console.ConsoleModelView, "export_max_rows", total - 1)
    refused = client.get("/console/console_occupation/export/csv/")
    assert refused.status_code == 302 and "/console/console_occupation/" in refused.location
    page = client.get(refused.location).get_data(as_text=True)
    assert f"共有 {total} 行符合条件" in page and f"最多 {total - 1} 行" in page
    # Filtered below the cap, the export is whole.
    export = client.get("/console/console_occupation/export/csv/?search=钢筋")
    assert export.status_code == 200 and "钢筋工" in export.get_data(as_text=True)
    monkeypatch.setattr(console.ConsoleModelView, "export_max_rows", total)
    whole = client.get("/console/console_occupation/export/csv/").get_data(as_text=True)
    assert len(whole.strip().splitlines()) == 1 + total


def test_audit_log_in_console_is_read_only(app, login_as):
    client = _admin_client(app, login_as)
    assert client.get("/console/console_audit_log/").status_code == 200
    assert client.get("/console/console_audit_log/new/").status_code in (302, 403, 404)
