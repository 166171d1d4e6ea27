"""已报名: an enterprise follows its enrolled trainees after payment — training, assessment,
scores, certificates — and downloads their admission tickets (准考证)."""
import io

from flask import abort, g, send_file
from flask_appbuilder import BaseView, expose, has_access

from app.services import DomainError, progress, tickets


class EnrolledView(BaseView):
    route_base = "/enrolled"
    default_view = "plans"
    method_permission_name = {"plans": "list", "plan": "list", "ticket": "tickets",
                              "plan_tickets": "tickets"}
    base_permissions = ["can_list", "can_tickets"]

    @expose("/")
    @has_access
    def plans(self):
        return self.render_template("enrolled/plans.html",
                                    plans=progress.plans_of(g.user.enterprise_id or 0))

    @expose("/<int:plan_id>/")
    @has_access
    def plan(self, plan_id):
        try:
            entry = progress.plan_of(plan_id, g.user.enterprise_id or 0)
        except DomainError:
            abort(404)
        return self.render_template("enrolled/plan.html", entry=entry,
                                    trainees=progress.trainees_of(plan_id, g.user.enterprise_id))

    @expose("/ticket/<int:enrolment_id>.pdf")
    @has_access
    def ticket(self, enrolment_id):
        try:
            ticket = progress.ticket_for(enrolment_id, g.user)
        except DomainError:
            abort(404)
        return self._pdf(tickets.tickets_pdf([ticket]), tickets.ticket_filename(ticket))

    @expose("/<int:plan_id>/tickets.pdf")
    @has_access
    def plan_tickets(self, plan_id):
        try:
            found = progress.tickets_for(plan_id, g.user)
        except DomainError:
            abort(404)
        return self._pdf(tickets.tickets_pdf(found),
                         tickets.plan_tickets_filename(found[0].assessment))

    @staticmethod
    def _pdf(data: bytes, name: str):
        return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                         download_name=name)
