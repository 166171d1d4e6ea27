"""The permission matrix: every role holds exactly its permissions, and every view obeys them."""
import pytest

from app import permissions, scope
from app.extensions import db
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_regulator, gen_user
from tests.helpers import give_documents, path

SCOPED_ROLES = [r for r in scope.ROLES if r != scope.PUBLIC]


def _role_pairs(app, role_name):
    role = app.appbuilder.sm.find_role(role_name)
    return {(pv.permission.name, pv.view_menu.name) for pv in role.permissions}


@pytest.mark.parametrize("role", [r for r in scope.ROLES if r != scope.ADMIN])
def test_role_holds_exactly_its_matrix(app, role):
    assert _role_pairs(app, role) == permissions.expected_permissions(role)


def test_admin_holds_every_permission(app):
    sm = app.appbuilder.sm
    every = {(pv.permission.name, pv.view_menu.name)
             for pv in db.session.scalars(db.select(sm.permissionview_model))
             if pv.view_menu.name not in permissions.admin_excluded()}
    assert _role_pairs(app, scope.ADMIN) == every
    assert ("can_show", "MyEnterpriseView") not in every


def test_matrix_names_only_views_that_exist(app):
    existing = {v.class_permission_name for v in app.appbuilder.baseviews}
    for role, views in permissions.MATRIX.items():
        assert set(views) <= existing, role


def _protected_views(app):
    """Every page view that checks permissions: ours and Flask-AppBuilder's own."""
    return [v for v in app.appbuilder.baseviews
            if v.base_permissions and getattr(v, "default_view", None)]


@pytest.fixture
def world(app):
    """One user per role in 杭州 and an enterprise with documents for the download probe."""
    enterprise = gen_enterprise("330100")
    give_documents(enterprise)
    institution = gen_institution("330100")
    plan = gen_plan(institution)
    users = {
        scope.ADMIN: gen_user(scope.ADMIN),
        scope.ENTERPRISE: gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id),
        scope.INSTITUTION: gen_user(scope.INSTITUTION, institution_id=institution.id),
        scope.CITY_REGULATOR: gen_regulator("330100"),
        scope.PROVINCE_REGULATOR: gen_regulator("330000", scope.PROVINCE_REGULATOR),
    }
    return {"enterprise": enterprise, "plan": plan, "users": users,
            "enrolment": _enrolment_with_photo(enterprise, plan)}


def _enrolment_with_photo(enterprise, plan):
    from app import clock
    from app.integrations.storage import storage
    from models.enrolment import Enrolment, Person
    from tests.images import plain_jpeg
    from tests.rosters import id_number

    person = Person(id_number=id_number(), name="张三", gender="男", birth_date=clock.today(),
                    updated_at=clock.now())
    enrolment = Enrolment(person=person, plan_id=plan.id, enterprise_id=enterprise.id,
                          occupation_id=plan.occupation_id, level_id=plan.level_id,
                          mobile="13800138000", education_id=1, title_id=1,
                          photo_key=storage().save(plain_jpeg(300, 400), ".jpg"),
                          created_at=clock.now())
    db.session.add(enrolment)
    db.session.commit()
    return enrolment


def _probe_url(view, world):
    """The URL that opens a view, with arguments where it needs them."""
    if type(view).__name__ == "DocumentView":
        return path("DocumentView.enterprise_document", pk=world["enterprise"].id, slot="yyzz")
    if type(view).__name__ == "EnrolmentView":
        return path("EnrolmentView.plan", plan_id=world["plan"].id)
    if type(view).__name__ == "PhotoView":
        return path("PhotoView.photo", enrolment_id=world["enrolment"].id, kind="photo")
    return path(f"{view.endpoint}.{view.default_view}")


@pytest.mark.parametrize("role", SCOPED_ROLES)
def test_every_view_answers_role_as_the_matrix_says(app, login_as, world, role):
    client = app.test_client()
    login_as(client, world["users"][role])
    held = _role_pairs(app, role)
    views = _protected_views(app)
    assert {"EnterpriseView", "TrainingPlanView", "RoleModelView"} <= {
        v.class_permission_name for v in views}
    for view in views:
        pair = (permissions.entry_permission(view), view.class_permission_name)
        allowed = pair in held  # equal to the matrix: see the tests above
        response = client.get(_probe_url(view, world))
        expected = 200 if allowed else 403
        assert response.status_code == expected, (role, type(view).__name__, response.status_code)


def test_visitors_are_sent_to_login_from_every_view(app, world):
    client = app.test_client()
    for view in _protected_views(app):
        response = client.get(_probe_url(view, world))
        assert response.status_code == 302, type(view).__name__
        assert "/login/" in response.headers["Location"]


@pytest.mark.parametrize("role", SCOPED_ROLES)
def test_console_is_for_admin_only(app, login_as, world, role):
    client = app.test_client()
    login_as(client, world["users"][role])
    endpoints = [rule.endpoint for rule in app.url_map.iter_rules()
                 if rule.endpoint.startswith("console") and rule.endpoint.endswith("index_view")
                 or rule.endpoint == "console.index"]
    assert len(endpoints) >= 8
    for endpoint in endpoints:
        response = client.get(path(endpoint))
        if role == scope.ADMIN:
            assert response.status_code == 200, endpoint
        else:
            assert response.status_code == 302, endpoint
            assert "/login/" in response.headers["Location"]


def test_menu_shows_only_what_the_role_may_open(app, login_as, world):
    client = app.test_client()
    login_as(client, world["users"][scope.ENTERPRISE])
    page = client.get("/").get_data(as_text=True)
    assert path("OpenPlanView.list") in page and path("TrainingPlanView.list") not in page
    assert path("AuditLogView.list") not in page
    assert "/console/" not in page
