"""The landing page: the login page for visitors, a dashboard for each role."""
from flask import redirect
from flask_appbuilder import IndexView, expose
from flask_login import current_user

from app import scope
from app.services import dashboard
from views.links import page_url


class HomeView(IndexView):
    index_template = "home.html"

    @expose("/")
    def index(self):
        if not current_user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login)
        return self.render_template(
            self.index_template,
            cards=dashboard.cards(current_user),
            actions=dashboard.actions(current_user),
            charts=dashboard.charts(current_user),
            role=scope.primary_role(current_user),
            page_url=page_url,
        )
