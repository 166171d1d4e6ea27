"""消息: the in-app messages of the user's organisation, with the unread count in the top bar."""
from flask import g, redirect, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_login import current_user

from app.services import inbox
from views.links import message_url


class MessageView(BaseView):
    route_base = "/messages"
    default_view = "inbox"
    method_permission_name = {"inbox": "list", "read_all": "list"}
    base_permissions = ["can_list"]

    @expose("/")
    @has_access
    def inbox(self):
        return self.render_template("messages.html", messages=inbox.latest(g.user),
                                    message_url=message_url)

    @expose("/read", methods=["POST"])
    @has_access
    def read_all(self):
        inbox.mark_read(g.user)
        return redirect(url_for(".inbox"))


def unread_messages() -> int:
    """For the top bar (a template global): 0 for visitors."""
    if not current_user.is_authenticated:
        return 0
    return inbox.unread(current_user)
