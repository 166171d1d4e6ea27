"""个人信息: who the signed-in account is, in each role's own terms; and the language switch,
which brings the user back to the page it was chosen on."""
from typing import Optional
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, session
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import refresh

from app import scope

LANGUAGE_PATH = "/lang/"  # Flask-AppBuilder's language switch (LocaleView)


class ProfileView(BaseView):
    """The account (credit code or username), its role and the organisation it acts for:
    an enterprise's review state and contact, an institution, an authority and its region."""

    route_base = "/profile"
    default_view = "show"
    base_permissions = ["can_show"]

    @expose("/")
    @has_access
    def show(self):
        user = g.user
        role = scope.primary_role(user)
        return self.render_template("profile.html", user=user, role=role,
                                    role_label=scope.ROLE_LABELS[role],
                                    enterprise=user.enterprise, institution=user.institution,
                                    authority=user.authority)


def back_to(referrer: Optional[str]) -> Optional[str]:
    """The path (and query) of the page a link was followed from, on this site; None if there
    is none usable. Only the path is kept, so that the answer never leaves the site."""
    if not referrer:
        return None
    parts = urlsplit(referrer)
    path = parts.path
    if parts.netloc and parts.netloc != request.host:
        return None
    if not path.startswith("/") or path.startswith("//") or "\\" in path \
            or path.startswith(LANGUAGE_PATH):
        return None
    return path + (f"?{parts.query}" if parts.query else "")


def switch_language(locale: str):
    """/lang/<locale>: Flask-AppBuilder's own went to the last page in its history of list and
    detail pages (often 个人信息), not to the page the language was chosen on."""
    if locale not in current_app.appbuilder.bm.languages:
        abort(404)
    session["locale"] = locale
    refresh()
    return redirect(back_to(request.referrer) or current_app.appbuilder.get_url_for_index)
