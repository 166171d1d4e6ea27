"""批量报名 and the trainees of a plan, for the enterprise that enrols them."""
from flask import abort, flash, g, redirect, request, send_file, session, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext

from app.integrations.storage import storage
from app.services import DomainError, enrolment
from app.services.roster import REQUIRED

ERRORS_KEY = "roster_errors"


class EnrolmentView(BaseView):
    route_base = "/enrol"
    default_view = "plan"
    method_permission_name = {"plan": "list", "upload": "enrol", "add": "enrol", "remove": "enrol",
                              "error_workbook": "enrol"}
    base_permissions = ["can_list", "can_enrol"]

    def _plan(self, plan_id):
        try:
            return enrolment.enrolling_plan(plan_id, g.user)
        except DomainError as error:
            if isinstance(error, enrolment.EnrolmentRefused):
                flash(str(error), "warning")
                return None
            abort(404)

    @expose("/<int:plan_id>/")
    @has_access
    def plan(self, plan_id, report=None, form_errors=None):
        plan = self._plan(plan_id)
        if plan is None:
            return redirect(url_for("OpenPlanView.list"))
        trainees = enrolment.live_enrolments(plan.id, g.user.enterprise_id)
        return self.render_template(
            "enrolment/plan.html", plan=plan, trainees=trainees, report=report,
            form_errors=form_errors or [], headers=REQUIRED,
            error_workbook=session.get(ERRORS_KEY, {}).get("plan") == plan.id and report)

    @expose("/<int:plan_id>/roster", methods=["POST"])
    @has_access
    def upload(self, plan_id):
        file = request.files.get("roster")
        if not file or not file.filename:
            flash(gettext("Please choose the filled-in roster (.xlsx)."), "warning")
            return redirect(url_for(".plan", plan_id=plan_id))
        data = file.read()
        try:
            report = enrolment.import_roster(plan_id, g.user, data, file.filename)
        except DomainError as error:
            flash(str(error), "danger")
            return redirect(url_for(".plan", plan_id=plan_id))
        if report.ok:
            flash(gettext("%(n)s trainees enrolled. Now upload their photos.", n=report.rows),
                  "success")
            return redirect(url_for(".plan", plan_id=plan_id))
        self._keep_error_workbook(plan_id, data, report)
        flash(gettext("Nothing was imported: the roster has %(n)s errors. Fix them all and upload "
                      "again.", n=len(report.errors)), "danger")
        return self.plan(plan_id, report=report)

    def _keep_error_workbook(self, plan_id, data, report):
        try:
            annotated = enrolment.annotated_workbook(data, report)
        except Exception:  # the table of errors is enough if the workbook cannot be marked
            return
        previous = session.get(ERRORS_KEY, {}).get("key")
        if previous:
            storage().delete(previous)
        session[ERRORS_KEY] = {"plan": plan_id, "key": storage().save(annotated, ".xlsx")}

    @expose("/<int:plan_id>/roster-errors.xlsx")
    @has_access
    def error_workbook(self, plan_id):
        kept = session.get(ERRORS_KEY) or {}
        if kept.get("plan") != plan_id or not storage().exists(kept.get("key", "")):
            abort(404)
        return send_file(storage().open(kept["key"]), as_attachment=True,
                         download_name="报名人员信息表-错误标注.xlsx",
                         mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    @expose("/<int:plan_id>/add", methods=["POST"])
    @has_access
    def add(self, plan_id):
        values = {header: request.form.get(header, "") for header in REQUIRED}
        try:
            errors = enrolment.add_trainee(plan_id, g.user, values)
        except DomainError as error:
            flash(str(error), "danger")
            return redirect(url_for(".plan", plan_id=plan_id))
        if errors:
            return self.plan(plan_id, form_errors=errors)
        flash(gettext("The trainee is enrolled."), "success")
        return redirect(url_for(".plan", plan_id=plan_id))

    @expose("/remove/<int:enrolment_id>", methods=["POST"])
    @has_access
    def remove(self, enrolment_id):
        plan_id = request.form.get("plan_id", type=int)
        try:
            enrolment.remove_trainee(enrolment_id, g.user)
        except DomainError as error:
            flash(str(error), "danger")
        else:
            flash(gettext("The trainee was removed from the plan."), "success")
        return redirect(url_for(".plan", plan_id=plan_id) if plan_id else url_for("OpenPlanView.list"))


