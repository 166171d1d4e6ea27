"""One row scope everywhere: nobody reads another organisation's or city's rows by URL."""
import pytest
from sqlalchemy import select

from app import security
from app.extensions import db
from app.services import audit
from models.audit import AuditLog
from models.organisation import Enterprise, Institution
from models.training import TrainingPlan
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_regulator, gen_user
from tests.helpers import give_documents, path


@pytest.fixture
def two_cities(app):
    """An enterprise, institution and plan in 杭州 and the same in 宁波."""
    data = {}
    for city, code in (("hz", "330100"), ("nb", "330200")):
        enterprise = gen_enterprise(code, name=f"{city}企业有限公司")
        give_documents(enterprise)
        institution = gen_institution(code, name=f"{city}培训机构")
        plan = gen_plan(institution, venue=f"{city}实训基地")
        audit.record("test.note", enterprise)
        db.session.commit()
        data[city] = {"enterprise": enterprise, "institution": institution, "plan": plan}
    return data


def _client(app, login_as, user):
    client = app.test_client()
    login_as(client, user)
    return client


def test_enterprise_cannot_reach_another_enterprise_by_id(app, login_as, two_cities):
    own, other = two_cities["hz"]["enterprise"], two_cities["nb"]["enterprise"]
    client = _client(app, login_as, gen_user(security.ENTERPRISE, enterprise_id=own.id))

    assert client.get(path("EnterpriseView.list")).status_code == 403  # its page is 企业信息
    info = client.get(path("MyEnterpriseView.info")).get_data(as_text=True)
    assert own.name in info and other.name not in info
    assert client.get(path("EnterpriseView.show", pk=own.id)).status_code == 200
    assert client.get(path("EnterpriseView.show", pk=other.id)).status_code == 404
    assert client.get(f"/enterpriseview/edit/{other.id}").status_code in (403, 404)
    assert client.post(f"/enterpriseview/delete/{other.id}").status_code in (403, 404, 405)
    own_doc = path("DocumentView.enterprise_document", pk=own.id, slot="yyzz")
    other_doc = path("DocumentView.enterprise_document", pk=other.id, slot="yyzz")
    response = client.get(own_doc)
    assert response.status_code == 200 and response.data[:2] == b"\xff\xd8"
    assert client.get(other_doc).status_code == 404
    assert db.session.get(Enterprise, other.id).name == "nb企业有限公司"


def test_hangzhou_regulator_sees_nothing_of_ningbo(app, login_as, two_cities):
    client = _client(app, login_as, gen_regulator("330100"))
    hz, nb = two_cities["hz"], two_cities["nb"]
    pages = {
        "EnterpriseView.list": ("enterprise", "name"),
        "InstitutionView.list": ("institution", "name"),
        "TrainingPlanView.list": ("plan", "venue"),
    }
    for endpoint, (kind, field) in pages.items():
        page = client.get(path(endpoint)).get_data(as_text=True)
        assert getattr(hz[kind], field) in page, endpoint
        assert getattr(nb[kind], field) not in page, endpoint
    assert client.get(path("EnterpriseView.show", pk=nb["enterprise"].id)).status_code == 404
    assert client.get(path("TrainingPlanView.show", pk=nb["plan"].id)).status_code == 404
    assert client.get(path("InstitutionView.show", pk=nb["institution"].id)).status_code == 404
    assert client.get(path("DocumentView.enterprise_document", pk=nb["enterprise"].id,
                           slot="cns")).status_code == 404
    nb_audit = db.session.scalars(select(AuditLog).where(AuditLog.region_code == "330200")).first()
    assert client.get(path("AuditLogView.show", pk=nb_audit.id)).status_code == 404


def test_province_regulator_oversees_every_city(app, login_as, two_cities):
    client = _client(app, login_as, gen_regulator("330000", security.PROVINCE_REGULATOR))
    page = client.get(path("EnterpriseView.list")).get_data(as_text=True)
    assert "hz企业有限公司" in page and "nb企业有限公司" in page


def test_institution_sees_only_its_own_plans(app, login_as, two_cities):
    own = two_cities["hz"]["institution"]
    client = _client(app, login_as, gen_user(security.INSTITUTION, institution_id=own.id))
    page = client.get(path("TrainingPlanView.list")).get_data(as_text=True)
    assert "hz实训基地" in page and "nb实训基地" not in page
    other_plan = two_cities["nb"]["plan"]
    assert client.get(path("TrainingPlanView.show", pk=other_plan.id)).status_code == 404


def test_enterprises_see_only_approved_plans(app, login_as, two_cities):
    draft = gen_plan(two_cities["hz"]["institution"], review_state="draft", venue="草稿基地")
    client = _client(app, login_as, gen_user(security.ENTERPRISE,
                                             enterprise_id=two_cities["hz"]["enterprise"].id))
    page = client.get(path("OpenPlanView.list")).get_data(as_text=True)
    assert "hz实训基地" in page and "草稿基地" not in page
    assert client.get(path("TrainingPlanView.show", pk=draft.id)).status_code == 404
    assert client.get(path("OpenPlanView.show", pk=draft.id)).status_code == 404


@pytest.mark.parametrize("model", [Enterprise, Institution, TrainingPlan, AuditLog])
def test_scoped_select_for_each_role(app, two_cities, model):
    """The service-level path (custom views, exports, downloads) gives the same answer."""
    hz = two_cities["hz"]
    users = {
        "enterprise": gen_user(security.ENTERPRISE, enterprise_id=hz["enterprise"].id),
        "institution": gen_user(security.INSTITUTION, institution_id=hz["institution"].id),
        "city": gen_regulator("330100"),
    }
    every = set(db.session.scalars(select(model)))
    for kind, user in users.items():
        rows = set(db.session.scalars(security.scoped_select(model, user)))
        assert rows <= every
        for row in rows:
            region = getattr(row, "region_code", None)
            if kind == "city":
                assert region == "330100"
            if kind == "enterprise" and model is Enterprise:
                assert row.id == hz["enterprise"].id
            if kind == "institution" and model in (Institution, TrainingPlan):
                assert (row.id if model is Institution else row.institution_id) == hz["institution"].id
        if kind == "enterprise" and model in (Institution, AuditLog):
            assert rows == set()
    nobody = gen_user(security.PUBLIC)
    assert list(db.session.scalars(security.scoped_select(model, nobody))) == []


def test_unknown_or_foreign_actions_are_404(app, login_as, two_cities):
    client = _client(app, login_as, gen_regulator("330100"))
    nb_plan = two_cities["nb"]["plan"].id
    assert client.post("/trainingplanview/action_post",
                       data={"action": "nope", "rowid": [nb_plan]}).status_code == 404
    assert client.post(f"/trainingplanview/action/nope/{nb_plan}").status_code == 404
