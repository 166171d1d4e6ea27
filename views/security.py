"""Flask-AppBuilder's security manager and its user admin, wired to Jianpei's pages.

Sessions and API tokens carry the user's session version; sign-ins are rate limited per
address and per account; permission checks load once per request. Who may see which rows
is app/scope.py's business.
"""
import re
from typing import Any, Optional

from flask import Response, abort, current_app, g, jsonify, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import PermissionView, assoc_permissionview_role
from flask_appbuilder.security.views import UserDBModelView
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.fab_strings import (
    JianpeiGroupModelView,
    JianpeiPermissionViewModelView,
    JianpeiRoleModelView,
)
from app.scope import ROLE_LABELS
from app.services import accounts
from models.user import JianpeiUser
from views.auth import ChangeMyPasswordView, JianpeiAuthDBView
from views.base import EagerInterface, FormattedViewMixin


def password_rule(password: str) -> None:
    """FAB_PASSWORD_COMPLEXITY_VALIDATOR: Flask-AppBuilder's own password forms (an admin adds a
    user, or resets one's password from the user list) keep accounts' one rule."""
    try:
        accounts.check_new_password(password, password)
    except accounts.PasswordRefused as refused:
        raise PasswordComplexityValidationError(str(refused)) from None


def role_labels(roles) -> str:
    return "、".join(str(ROLE_LABELS.get(role.name, role.name)) for role in roles)


class JianpeiUserDBModelView(FormattedViewMixin, UserDBModelView):
    """FAB's user admin and 'user info' page, with role names in Chinese."""

    class_permission_name = "UserDBModelView"  # same permissions as FAB's own view
    formatters_columns = {"roles": role_labels}

    @expose("/userinfo/")
    @has_access
    def userinfo(self):
        """个人信息 is our own page (views/profile.py), not Flask-AppBuilder's."""
        return redirect(url_for("ProfileView.show"))


# API tokens carry the session version in this claim; web sessions in their id (get_id).
SESSION_VERSION_CLAIM = "session_version"
_NUMBER = re.compile(r"[0-9]{1,18}")
USERNAME_MAX = 128  # ab_user.username


def _sign_in_account_key() -> str:
    """The account a sign-in names, from the login form or the API's JSON body.

    By the account's id where one matches: FAB signs in by username or e-mail address,
    and every spelling of one account must count against the same limit.
    """
    payload = request.get_json(silent=True) if request.is_json else request.form
    name = payload.get("username") if isinstance(payload, dict) else None
    name = name.strip()[:USERNAME_MAX] if isinstance(name, str) else ""
    sm = current_app.appbuilder.sm
    user = (sm.find_user(username=name) or sm.find_user(email=name)) if name else None
    return f"sign-in-account:{user.id}" if user else f"sign-in-account:{name.lower()}"


def _too_many_sign_ins_json(_limit) -> Response:
    """The API answers a breached sign-in limit in JSON, as its other errors."""
    response = jsonify(message=gettext("Too many attempts; please try again later."))
    response.status_code = 429
    return response


class JianpeiSecurityManager(SecurityManager):
    user_model = JianpeiUser
    userdbmodelview = JianpeiUserDBModelView
    authdbview = JianpeiAuthDBView
    resetmypasswordview = ChangeMyPasswordView
    # Flask-AppBuilder's own pages in Chinese (app/fab_strings.py); no 用户统计 chart page: it
    # loads Google Charts from the internet, and every page must work offline.
    rolemodelview = JianpeiRoleModelView
    groupmodelview = JianpeiGroupModelView
    permissionviewmodelview = JianpeiPermissionViewModelView
    userstatschartview = None

    def __init__(self, appbuilder):
        super().__init__(appbuilder)
        # The user and role lists show each row's roles (groups, permissions) with the rows.
        self.userdbmodelview.datamodel = EagerInterface(
            self.user_model, load=(selectinload(self.user_model.roles),
                                   selectinload(self.user_model.groups)))
        self.rolemodelview.datamodel = EagerInterface(self.role_model, load=(
            selectinload(self.role_model.permissions).options(
                joinedload(PermissionView.permission), joinedload(PermissionView.view_menu)),))

    def register_views(self):
        super().register_views()
        if self.is_auth_limited:
            # FAB limits its login form per address; both ways in (the form and the API's
            # token login) also count in two shared buckets, per address and per account,
            # so that guesses through one also use up the other.
            api = next(view for view in self.appbuilder.baseviews
                       if isinstance(view, self.security_api))
            self._limit_sign_in(self.auth_view)
            self._limit_sign_in(api, on_breach=_too_many_sign_ins_json)

    def _limit_sign_in(self, view, on_breach=None) -> None:
        config = current_app.config
        sign_in = f"{view.blueprint.name}.login"  # not the API's token refresh
        for limit, scope, key_func in (
                (config["AUTH_RATE_LIMIT"], "sign-in-address", None),  # the limiter's: address
                (config["AUTH_ACCOUNT_RATE_LIMIT"], "sign-in-account", _sign_in_account_key)):
            self.limiter.shared_limit(limit, scope, key_func=key_func, methods=["POST"],
                                      exempt_when=lambda: request.endpoint != sign_in,
                                      on_breach=on_breach)(view.blueprint)

    def create_jwt_manager(self, app):
        jwt_manager = super().create_jwt_manager(app)
        jwt_manager.additional_claims_loader(self._token_claims)
        return jwt_manager

    def _token_claims(self, identity: str) -> dict:
        """An API token carries its user's session version, as a web session does."""
        user = self.get_user_by_id(int(identity))
        return {SESSION_VERSION_CLAIM: user.session_version}

    def load_user(self, pk):
        """Web sessions: Flask-Login keeps get_id(), "id:session_version"."""
        user_id, _, version = str(pk).partition(":")
        return self._signed_in_user(user_id, version)

    def load_user_jwt(self, _jwt_header, jwt_data):
        """API tokens (access and refresh): "sub" is the id, the claim the session version."""
        user = self._signed_in_user(jwt_data.get("sub"), jwt_data.get(SESSION_VERSION_CLAIM))
        if user is not None:
            g.user = user  # as FAB does: API views read g.user
        return user

    def _signed_in_user(self, user_id: Any, version: Any) -> Optional[JianpeiUser]:
        """The user of a session or token, unless it predates a logout or password change.

        Logout and every password change or reset bump the user's session version
        (app.services.accounts); a session or token carrying another version, or none,
        is signed out.
        """
        if not (_NUMBER.fullmatch(str(user_id)) and _NUMBER.fullmatch(str(version))):
            return None
        # With its roles and groups: every permission check of the request reads them.
        user = db.session.scalars(
            select(JianpeiUser).where(JianpeiUser.id == int(user_id))
            .options(joinedload(JianpeiUser.roles), joinedload(JianpeiUser.groups))
        ).unique().first()
        if user is None or not user.is_active or int(version) != user.session_version:
            return None
        return user

    # -- permissions: one load per request ---------------------------------------------------
    # Flask-AppBuilder asks the database once per has_access() call: every menu item, every
    # button, 16-18 statements a page. Here a request loads the (permission, view menu) pairs
    # of the roles it meets once, on `g`, and every check reads them (as Superset caches a
    # user's roles and permissions). `g` lives as long as the request, so a role edit takes
    # effect on the user's next request, in every process, with nothing to invalidate.

    def role_permission_pairs(self, roles) -> frozenset[tuple[str, str]]:
        """(permission, view menu) pairs held by the database roles among `roles`."""
        role_ids = frozenset(role.id for role in roles if role.name not in self.builtin_roles)
        loaded = g.setdefault("_jianpei_permission_pairs", {})
        if role_ids not in loaded:
            loaded[role_ids] = frozenset() if not role_ids else frozenset(db.session.execute(
                select(self.permission_model.name, self.viewmenu_model.name)
                .select_from(self.permissionview_model)
                .join(self.permission_model)
                .join(self.viewmenu_model)
                .join(assoc_permissionview_role, assoc_permissionview_role.c.permission_view_id
                      == self.permissionview_model.id)
                .where(assoc_permissionview_role.c.role_id.in_(role_ids))).tuples())
        return loaded[role_ids]

    def get_public_role(self):
        """The public role, read once per request (anonymous pages ask for it per check)."""
        if "_jianpei_public_role" not in g:
            g._jianpei_public_role = super().get_public_role()
        return g._jianpei_public_role

    def _has_view_access(self, user, permission_name: str, view_name: str) -> bool:
        roles = self.get_user_roles(user)
        if any(role.name in self.builtin_roles
               and self._has_access_builtin_roles(role, permission_name, view_name)
               for role in roles):
            return True
        return (permission_name, view_name) in self.role_permission_pairs(roles)

    def is_item_public(self, permission_name, view_name) -> bool:
        public = self.get_public_role()
        return public is not None and \
            (permission_name, view_name) in self.role_permission_pairs([public])

    def _get_user_permission_view_menus(self, user, permission_name: str,
                                        view_menus_name) -> set[str]:
        """The menu names `user` (None: a visitor) holds `permission_name` on."""
        roles = [self.get_public_role()] if user is None else self.get_user_roles(user)
        roles = [role for role in roles if role is not None]
        names = {name for role in roles if role.name in self.builtin_roles
                 for name in view_menus_name or ()
                 if self._has_access_builtin_roles(role, permission_name, name)}
        return names | {view for permission, view in self.role_permission_pairs(roles)
                        if permission == permission_name}

    def on_user_logout(self, user) -> None:
        accounts.sign_out(user)

    def reset_password(self, userid, password):
        """FAB's own reset (an admin's, from the user list) is a password reset like ours."""
        user = self.get_user_by_id(int(userid)) if _NUMBER.fullmatch(str(userid)) else None
        if user is None:
            abort(404)
        accounts.set_password(user, password)
