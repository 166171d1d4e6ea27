"""审核: regulators review the enterprises their authority is responsible for."""
from flask import flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext

from app.extensions import db
from app.scope import get_scoped
from app.services import DomainError, enterprises
from app.services.licence import LICENCE_FIELDS
from models.organisation import DocumentSlot, Enterprise
from models.states import ReviewState


class EnterpriseReviewView(BaseView):
    route_base = "/review/enterprises"
    default_view = "queue"
    method_permission_name = {"queue": "list", "detail": "show", "approve": "review",
                              "reject": "review"}
    base_permissions = ["can_list", "can_show", "can_review"]

    @expose("/")
    @has_access
    def queue(self):
        pending = db.session.scalars(enterprises.review_queue(g.user)).all()
        return self.render_template("review/queue.html", enterprises=pending)

    @expose("/<int:pk>")
    @has_access
    def detail(self, pk: int):
        enterprise = get_scoped(Enterprise, pk)
        reading = enterprises.licence_reading(enterprise)
        typed = {field.name: getattr(enterprise, field.name) for field in LICENCE_FIELDS}
        return self.render_template(
            "review/detail.html", enterprise=enterprise, reading=reading,
            licence_fields=LICENCE_FIELDS, document_slots=DocumentSlot,
            differences=enterprises.reading_differences(typed, reading),
            can_decide=(enterprise.review_state == ReviewState.PENDING.value
                        and enterprise.reviewing_authority_id == g.user.authority_id))

    @expose("/<int:pk>/approve", methods=["POST"])
    @has_access
    def approve(self, pk: int):
        return self._decide(pk, lambda: enterprises.approve(pk, g.user),
                            gettext("Review passed: the enterprise can now enrol trainees."))

    @expose("/<int:pk>/reject", methods=["POST"])
    @has_access
    def reject(self, pk: int):
        return self._decide(pk, lambda: enterprises.reject(pk, g.user, request.form.get("reason")),
                            gettext("Review not passed; the enterprise will see your reason."))

    def _decide(self, pk, action, done_message):
        get_scoped(Enterprise, pk)  # outside the scope: 404, as everywhere
        try:
            action()
        except DomainError as error:
            flash(str(error), "danger")
            return redirect(url_for(".detail", pk=pk))
        flash(done_message, "success")
        return redirect(url_for(".queue"))
