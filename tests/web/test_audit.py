"""The audit log: one helper writes it, nothing rewrites it."""
import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.services import audit
from models.audit import AppendOnlyError, AuditLog
from tests.factories import gen_enterprise, gen_regulator, gen_user
from tests.helpers import path


def test_record_keeps_who_what_when_and_from_where(app, login_as):
    enterprise = gen_enterprise("330200")
    user = gen_user("Admin", "auditor")
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "10.1.2.3"}):
        from flask_login import login_user

        login_user(user)
        audit.record("enterprise.approve", enterprise, before={"review_state": "pending"},
                     after={"review_state": "approved"})
        db.session.commit()
    entry = db.session.scalars(select(AuditLog)).one()
    assert (entry.username, entry.role, entry.ip) == ("auditor", "Admin", "10.1.2.3")
    assert (entry.object_type, entry.object_id, entry.region_code) == (
        "Enterprise", str(enterprise.id), "330200")
    assert json.loads(entry.summary) == {"before": {"review_state": "pending"},
                                         "after": {"review_state": "approved"}}
    assert entry.at is not None


def test_entries_cannot_be_changed_or_deleted(app):
    audit.record("system.note")
    db.session.commit()
    entry = db.session.scalars(select(AuditLog)).one()
    entry.action = "forged"
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    db.session.rollback()
    with pytest.raises(DBAPIError):
        db.session.execute(text("UPDATE audit_log SET action = 'forged'"))
    db.session.rollback()
    with pytest.raises(DBAPIError):
        db.session.execute(text("DELETE FROM audit_log"))
    db.session.rollback()
    assert db.session.scalars(select(AuditLog.action)).all() == ["system.note"]


def test_city_regulator_reads_its_city_entries_only(app, login_as):
    hz, nb = gen_enterprise("330100", name="杭州甲"), gen_enterprise("330200", name="宁波乙")
    audit.record("enterprise.approve", hz)
    audit.record("enterprise.reject", nb)
    db.session.commit()
    client = app.test_client()
    login_as(client, gen_regulator("330100"))
    page = client.get(path("AuditLogView.list")).get_data(as_text=True)
    assert "企业审核通过" in page and "企业审核不通过" not in page  # actions in words (issue 15)
