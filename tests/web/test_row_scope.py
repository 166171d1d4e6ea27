"""One row scope everywhere: nobody reads another organisation's or city's rows by URL."""
import pytest
from sqlalchemy import select

from app import scope
from app.extensions import db
from app.services import audit
from models.audit import AuditLog
from models.organisation import Enterprise
from tests.assessment_factories import gen_two_cities
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_regulator, gen_user
from tests.helpers import give_documents, path, scoped_models


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
    client = _client(app, login_as, gen_user(scope.ENTERPRISE, enterprise_id=own.id))

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
    client = _client(app, login_as, gen_regulator("330000", scope.PROVINCE_REGULATOR))
    page = client.get(path("EnterpriseView.list")).get_data(as_text=True)
    assert "hz企业有限公司" in page and "nb企业有限公司" in page


def test_institution_sees_only_its_own_plans(app, login_as, two_cities):
    own = two_cities["hz"]["institution"]
    client = _client(app, login_as, gen_user(scope.INSTITUTION, institution_id=own.id))
    page = client.get(path("TrainingPlanView.list")).get_data(as_text=True)
    assert "hz实训基地" in page and "nb实训基地" not in page
    other_plan = two_cities["nb"]["plan"]
    assert client.get(path("TrainingPlanView.show", pk=other_plan.id)).status_code == 404


def test_enterprises_see_only_approved_plans(app, login_as, two_cities):
    draft = gen_plan(two_cities["hz"]["institution"], review_state="draft", venue="草稿基地")
    client = _client(app, login_as, gen_user(scope.ENTERPRISE,
                                             enterprise_id=two_cities["hz"]["enterprise"].id))
    page = client.get(path("OpenPlanView.list")).get_data(as_text=True)
    assert "hz实训基地" in page and "草稿基地" not in page
    assert client.get(path("TrainingPlanView.show", pk=draft.id)).status_code == 404
    assert client.get(path("OpenPlanView.show", pk=draft.id)).status_code == 404


# Who sees which rows of each scoped model in gen_two_cities() (see its docstring for the
# names). Written out by hand: a change of any scope path changes an answer here.
HZ_CITY = {"Enterprise": {"E_hz"}, "Institution": {"I_hz"}, "TrainingPlan": {"P_hz", "P_hz_draft"},
           "Enrolment": {"t_hz"}, "Order": {"o_hz"}, "AssessmentPlan": {"A_hz"},
           "ScoreReport": {"R_hz"}, "Certificate": {"c_hz"}, "AuditLog": {"log_hz"},
           "TraineeNotice": {"n_hz"}}
NB_CITY = {"Enterprise": {"E_nb"}, "Institution": {"I_nb"}, "TrainingPlan": {"P_nb"},
           "Enrolment": {"t_nb", "t_hz_in_nb"}, "Order": {"o_nb", "o_hz_in_nb"},
           "AssessmentPlan": {"A_nb"}, "ScoreReport": {"R_nb"},
           "Certificate": {"c_nb", "c_hz_in_nb"}, "AuditLog": {"log_nb"},
           "TraineeNotice": {"n_nb", "n_hz_in_nb"}}
SEES = {
    # An enterprise: itself, every approved plan, its own trainees wherever they train and what
    # hangs on them, the assessments of plans it has trainees in; no institution, score report
    # or audit row.
    "hz enterprise": {"Enterprise": {"E_hz"}, "Institution": set(),
                      "TrainingPlan": {"P_hz", "P_nb"}, "Enrolment": {"t_hz", "t_hz_in_nb"},
                      "Order": {"o_hz", "o_hz_in_nb"}, "AssessmentPlan": {"A_hz", "A_nb"},
                      "ScoreReport": set(), "Certificate": {"c_hz", "c_hz_in_nb"},
                      "AuditLog": set(), "TraineeNotice": {"n_hz", "n_hz_in_nb"}},
    "nb enterprise": {"Enterprise": {"E_nb"}, "Institution": set(),
                      "TrainingPlan": {"P_hz", "P_nb"}, "Enrolment": {"t_nb"},
                      "Order": {"o_nb"}, "AssessmentPlan": {"A_nb"}, "ScoreReport": set(),
                      "Certificate": {"c_nb"}, "AuditLog": set(), "TraineeNotice": {"n_nb"}},
    # An institution: itself, its plans (drafts too) and everything in them, whoever's.
    "hz institution": {**HZ_CITY, "Enterprise": set(), "AuditLog": set()},
    "nb institution": {**NB_CITY, "Enterprise": set(), "AuditLog": set()},
    # A city: the organisations, plans and audit rows of its region and everything in its plans.
    "hz city": HZ_CITY,
    "nb city": NB_CITY,
}


def _user(who: str, rows: dict):
    city, role = who.split()
    code = {"hz": "330100", "nb": "330200"}.get(city)
    if role == "enterprise":
        return gen_user(scope.ENTERPRISE, enterprise_id=rows[f"E_{city}"].id)
    if role == "institution":
        return gen_user(scope.INSTITUTION, institution_id=rows[f"I_{city}"].id)
    if role == "city":
        return gen_regulator(code)
    return {"the province": lambda: gen_regulator("330000", scope.PROVINCE_REGULATOR),
            "an admin": lambda: gen_user(scope.ADMIN),
            "the public": lambda: gen_user(scope.PUBLIC)}[who]()


def test_the_table_covers_every_scoped_model():
    assert {model.__name__ for model in scoped_models()} == set(HZ_CITY)
    assert all(set(answer) == set(HZ_CITY) for answer in SEES.values())


@pytest.mark.parametrize("who", [*SEES, "the province", "an admin", "the public"])
def test_scoped_select_gives_each_role_exactly_its_rows(app, who):
    """The service-level path (custom views, exports, downloads) and, through RowScopeFilter,
    every scoped Flask-AppBuilder view (tests/unit/test_scope_structure.py checks they use it)."""
    rows = gen_two_cities()
    user = _user(who, rows)
    names = {(type(row), row.id): name for name, row in rows.items()}
    for model in scoped_models():
        every = {names.get((model, row.id), f"unnamed {row.id}")
                 for row in db.session.scalars(select(model))}
        assert every == {name for name, row in rows.items() if type(row) is model}, model
        seen = {names[(model, row.id)]
                for row in db.session.scalars(scope.scoped_select(model, user))}
        if who in SEES:
            expected = SEES[who][model.__name__]
        else:
            expected = every if who != "the public" else set()
        assert seen == expected, (who, model.__name__)


def test_unknown_or_foreign_actions_are_404(app, login_as, two_cities):
    client = _client(app, login_as, gen_regulator("330100"))
    nb_plan = two_cities["nb"]["plan"].id
    assert client.post("/trainingplanview/action_post",
                       data={"action": "nope", "rowid": [nb_plan]}).status_code == 404
    assert client.post(f"/trainingplanview/action/nope/{nb_plan}").status_code == 404
