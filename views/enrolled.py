"""已报名: an enterprise follows its enrolled trainees after payment — training, assessment,
scores, certificates — and downloads their admission tickets (准考证)."""
import io

from flask import flash, g, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext

from app.services import notices, progress, tickets


class EnrolledView(BaseView):
    route_base = "/enrolled"
    default_view = "plans"
    method_permission_name = {"plans": "list", "plan": "list", "ticket": "tickets",
                              "plan_tickets": "tickets", "notify_preview": "notify",
                              "notify_send": "notify"}
    base_permissions = ["can_list", "can_tickets", "can_notify"]

    @expose("/")
    @has_access
    def plans(self):
        return self.render_template("enrolled/plans.html",
                                    plans=progress.plans_of(g.user.enterprise_id or 0))

    @expose("/<int:plan_id>/")
    @has_access
    def plan(self, plan_id):
        entry = progress.plan_of(plan_id, g.user.enterprise_id or 0)
        trainees = progress.trainees_of(plan_id, g.user.enterprise_id)
        return self.render_template(
            "enrolled/plan.html", entry=entry, trainees=trainees,
            notifiable=notices.paid_ids([t.enrolment.id for t in trainees]))

    @expose("/ticket/<int:enrolment_id>.pdf")
    @has_access
    def ticket(self, enrolment_id):
        ticket = progress.ticket_for(enrolment_id, g.user)
        return self._pdf(tickets.tickets_pdf([ticket]), tickets.ticket_filename(ticket))

    @expose("/<int:plan_id>/tickets.pdf")
    @has_access
    def plan_tickets(self, plan_id):
        found = progress.tickets_for(plan_id, g.user)
        return self._pdf(tickets.tickets_pdf(found),
                         tickets.plan_tickets_filename(found[0].assessment))

    @expose("/<int:plan_id>/notify", methods=["POST"])
    @has_access
    def notify_preview(self, plan_id, needs_confirmation=None):
        """The exact texts, trainee by trainee, before anything is sent."""
        ids = request.form.getlist("ids", type=int)
        kind = request.form.get("kind", "")
        try:
            items = notices.preview(g.user, ids, kind)
        except notices.NoticeRefused as error:  # not the enterprise's: app/errors.py
            flash(str(error), "warning")
            return redirect(url_for(".plan", plan_id=plan_id))
        return self.render_template("enrolled/notify.html", plan_id=plan_id, items=items,
                                    kind=kind, needs_confirmation=needs_confirmation)

    @expose("/<int:plan_id>/notify/send", methods=["POST"])
    @has_access
    def notify_send(self, plan_id):
        ids = request.form.getlist("ids", type=int)
        kind = request.form.get("kind", "")
        try:
            sent = notices.send(g.user, ids, kind,
                                      confirm_repeat=request.form.get("repeat") == "1")
        except notices.NeedsConfirmation as error:
            flash(str(error), "warning")
            return self.notify_preview(plan_id, needs_confirmation=error.names)
        except notices.NoticeRefused as error:
            flash(str(error), "danger")
            return redirect(url_for(".plan", plan_id=plan_id))
        flash(gettext("%(n)s notices are on their way; their delivery shows on each trainee's "
                      "details page.", n=sent), "success")
        return redirect(url_for(".plan", plan_id=plan_id))

    @staticmethod
    def _pdf(data: bytes, name: str):
        return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                         download_name=name)
