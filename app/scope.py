"""Who may see which rows: the roles, and the row scope every layer applies.

Row scope is enforced here and only here: RowScopeFilter for Flask-AppBuilder views
and APIs, scoped_select()/get_scoped() for custom views, services and downloads.
Models declare how their rows belong (models/scope.py); this module imports no view, so
services, tasks and the CLI use it freely (the security manager is views/security.py).
"""
from typing import Any, Optional, TypeVar

from flask import abort, g
from flask_appbuilder.models.filters import BaseFilter
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import Select, false, select, true
from sqlalchemy.sql.elements import ColumnElement

from app.extensions import db

ADMIN = "Admin"
ENTERPRISE = "Enterprise"
INSTITUTION = "Institution"
CITY_REGULATOR = "CityRegulator"
PROVINCE_REGULATOR = "ProvinceRegulator"
PUBLIC = "Public"
ROLES = (ADMIN, ENTERPRISE, INSTITUTION, CITY_REGULATOR, PROVINCE_REGULATOR, PUBLIC)

ROLE_LABELS = {
    ADMIN: _l("System administrator"),
    ENTERPRISE: _l("Enterprise"),
    INSTITUTION: _l("Training institution"),
    CITY_REGULATOR: _l("City authority"),
    PROVINCE_REGULATOR: _l("Provincial authority"),
    PUBLIC: _l("Public"),
}

M = TypeVar("M")


def role_names(user: Any) -> set[str]:
    if user is None or not getattr(user, "is_authenticated", False):
        return {PUBLIC}
    return {role.name for role in user.roles}


def primary_role(user: Any) -> str:
    """The role that decides scope; a user normally holds exactly one."""
    names = role_names(user)
    for name in ROLES:
        if name in names:
            return name
    return PUBLIC


def scope_clause(model: type, user: Any) -> ColumnElement[bool]:
    """SQL condition selecting the rows of `model` that `user` may read."""
    role = primary_role(user)
    if role in (ADMIN, PROVINCE_REGULATOR):
        # The province oversees every city; the province is the whole system.
        return true()
    declared = getattr(model, "__row_scope__", None)
    if declared is None:
        return false()
    if role == ENTERPRISE:
        return _path(model, declared.enterprise, user.enterprise_id, user)
    if role == INSTITUTION:
        return _path(model, declared.institution, user.institution_id, user)
    if role == CITY_REGULATOR:
        from app.rules import supervised_region

        return _path(model, declared.region, supervised_region(user), user)
    return false()


def _path(model: type, path: Any, value: Optional[Any], user: Any) -> ColumnElement[bool]:
    if path is None:
        return false()
    if callable(path):
        return path(model, user)
    if value is None:
        return false()
    return getattr(model, path) == value


def acting_user() -> Any:
    """The signed-in user: Flask-Login's, or the API token's (FAB puts that on g.user)."""
    user = getattr(g, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    return current_user


def scoped_select(model: type[M], user: Any = None) -> Select:
    """select(model) limited to the current user's rows."""
    user = acting_user() if user is None else user
    return select(model).where(scope_clause(model, user))


def get_scoped(model: type[M], pk: Any, user: Any = None) -> M:
    """The row `pk` of `model` if the user may see it, else 404 (never 'exists but hidden')."""
    row = db.session.scalars(
        scoped_select(model, user).where(model.__mapper__.primary_key[0] == pk)
    ).first()
    if row is None:
        abort(404)
    return row


class RowScopeFilter(BaseFilter):
    """The row scope as a Flask-AppBuilder base filter; shared by every scoped view."""

    name = "row scope"
    arg_name = "rowscope"

    def apply(self, query, value):  # noqa: ARG002
        return query.filter(scope_clause(self.model, acting_user()))


def _no_value() -> None:
    return None


ROW_SCOPE = [["id", RowScopeFilter, _no_value]]
