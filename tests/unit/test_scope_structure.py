"""Every Flask-AppBuilder view or API over a row-scoped model applies the row scope.

The row scope reaches FAB's list, show, edit, delete, export and API pages only through the
view's base filters (RowScopeFilter, app/scope.py). A view added without them would show
every organisation's rows, so each registered view over a scoped model is checked twice:
its base filters hold RowScopeFilter, and what its datamodel lists for a user of one city is
within what scope.scoped_select gives that user (other filters may narrow it, never widen it).
"""
from flask import g
from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface

from app import scope
from app.extensions import db
from models.organisation import Enterprise
from tests.assessment_factories import gen_two_cities
from tests.factories import gen_regulator, gen_user
from tests.helpers import scoped_models


def _scoped_views(app) -> list:
    models = scoped_models()
    return [view for view in app.appbuilder.baseviews
            if getattr(getattr(view, "datamodel", None), "obj", None) in models]


def _lists_within_scope(view, user) -> bool:
    allowed = {row.id for row in db.session.scalars(scope.scoped_select(view.datamodel.obj, user))}
    g.user = user  # as FAB's API login and our acting_user() see the signed-in user
    try:
        _count, rows = view.datamodel.query(view._base_filters)
    finally:
        del g.user
    return {row.id for row in rows} <= allowed


def unscoped_views(app, users) -> list[str]:
    """The names of the registered views over scoped models that do not apply the scope."""
    found = []
    for view in _scoped_views(app):
        filters = view._base_filters.filters if view._base_filters else []
        if not any(isinstance(f, scope.RowScopeFilter) for f in filters) or not all(
                _lists_within_scope(view, user) for user in users):
            found.append(type(view).__name__)
    return found


def _users(rows):
    return [gen_user(scope.ENTERPRISE, enterprise_id=rows["E_hz"].id),
            gen_user(scope.INSTITUTION, institution_id=rows["I_nb"].id),
            gen_regulator("330100"), gen_user(scope.PUBLIC)]


def test_every_view_over_a_scoped_model_applies_the_scope(app):
    views = {type(view).__name__ for view in _scoped_views(app)}
    # Not vacuous: the FAB pages and APIs of the scoped models are all seen here.
    assert {"EnterpriseView", "InstitutionView", "TrainingPlanView", "OpenPlanView", "OrderView",
            "AssessmentPlanView", "ScoreReportView", "CertificateView", "AuditLogView",
            "TrainingPlanApi", "EnterpriseApi"} <= views, views
    assert unscoped_views(app, _users(gen_two_cities())) == []


def test_a_view_added_without_the_scope_is_caught(app):
    class LeakyEnterpriseView(ModelView):
        datamodel = SQLAInterface(Enterprise)
        list_columns = ["name"]

    app.appbuilder.add_view_no_menu(LeakyEnterpriseView)
    users = _users(gen_two_cities())
    assert unscoped_views(app, users) == ["LeakyEnterpriseView"]

    class FilteredElsewhereView(ModelView):  # the scope filter's name, but no scope
        datamodel = SQLAInterface(Enterprise)
        base_filters = [["name", scope.RowScopeFilter, lambda: None]]

    FilteredElsewhereView.base_filters[0][1] = type(
        "NotTheScope", (scope.RowScopeFilter,), {"apply": lambda self, query, value: query})
    app.appbuilder.add_view_no_menu(FilteredElsewhereView)
    assert unscoped_views(app, users) == ["LeakyEnterpriseView", "FilteredElsewhereView"]
