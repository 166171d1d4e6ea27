"""批量报名 and the trainees of a plan, for the enterprise that enrols them."""
from flask import abort, current_app, flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.utils.limit import Limit
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from app.scope import get_scoped
from app.services import DomainError, enrolment, error_workbooks, photo_checks, photos, workbooks
from app.services.dictionaries import active_values
from app.services.roster import DICTIONARY_COLUMNS, REQUIRED
from models.enrolment import Enrolment
from views.base import refuse_in_json, user_key
from views.files import send_jpeg, send_stored


def _poll_limit() -> str:
    return current_app.config["CHECK_POLL_RATE_LIMIT"]


def _not_the_poll() -> bool:
    return request.endpoint != "EnrolmentView.checks"


def choices() -> dict[str, list[str]]:
    """Options for the dictionary fields of the one-trainee forms."""
    return {header: [item.name for item in active_values(model)]
            for header, model in DICTIONARY_COLUMNS.items() if header in ("文化程度", "职称")}


class EnrolmentView(BaseView):
    route_base = "/enrol"
    default_view = "plan"
    method_permission_name = {"plan": "list", "upload": "enrol", "add": "enrol", "remove": "enrol",
                              "error_workbook": "enrol", "photo_batch": "enrol",
                              "photo_one": "enrol", "edit": "enrol",
                              "checks": "list", "confirm_check": "enrol"}
    base_permissions = ["can_list", "can_enrol"]
    # The 报名 page polls its machine checks every 2 s while they run; each answer reads every
    # trainee's checks, so a user's polls are bounded (several tabs still fit).
    # On 429 the page waits and asks again (enrolment/plan.html).
    limits = [Limit(_poll_limit, key_func=user_key, exempt_when=_not_the_poll,
                    on_breach=refuse_in_json(_l("Too many attempts; please try again later.")))]

    def _plan(self, plan_id):
        try:
            return enrolment.enrolling_plan(plan_id, g.user)
        except enrolment.EnrolmentRefused as error:  # not one it may see: app/errors.py (404)
            flash(str(error), "warning")
            return None

    @expose("/<int:plan_id>/")
    @has_access
    def plan(self, plan_id, report=None, form_errors=None, batch=None, error_workbook=None):
        plan = self._plan(plan_id)
        if plan is None:
            return redirect(url_for("OpenPlanView.list"))
        trainees = enrolment.live_enrolments(plan.id, g.user.enterprise_id)
        unordered = [t for t in trainees if t.order_id is None]
        found = photo_checks.findings(trainees)
        return self.render_template(
            "enrolment/plan.html", plan=plan, trainees=trainees, report=report,
            unordered=unordered, unordered_amount=plan.fee * len(unordered),
            without_photos=[t for t in unordered if not t.photos_complete],
            checks=found.checks, queued=found.queued, check_total=found.total,
            unsettled=found.unsettled,
            form_errors=form_errors or [], headers=REQUIRED, batch=batch, kinds=photos.KINDS,
            choices=choices(), error_workbook=error_workbook, error_limit=workbooks.MAX_LISTED_ERRORS)

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
            error_workbooks.discard(g.user.id, error_workbooks.ROSTER)
            flash(gettext("%(n)s trainees enrolled. Now upload their photos.", n=report.rows),
                  "success")
            return redirect(url_for(".plan", plan_id=plan_id))
        kept = error_workbooks.keep(g.user.id, error_workbooks.ROSTER, plan_id,
                                    enrolment.annotated_workbook(data, report))
        flash(gettext("Nothing was imported: the roster has %(n)s errors. Fix them all and upload "
                      "again.", n=len(report.errors)), "danger")
        return self.plan(plan_id, report=report, error_workbook=kept)

    @expose("/<int:plan_id>/roster-errors.xlsx")
    @has_access
    def error_workbook(self, plan_id):
        """The marked copy of this user's own last failed roster for this plan."""
        kept = error_workbooks.find(g.user.id, error_workbooks.ROSTER, plan_id)
        return send_stored(kept and kept.storage_key, download_name="报名人员信息表-错误标注.xlsx",
                           as_attachment=True)

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

    @expose("/<int:plan_id>/photos/<kind>", methods=["POST"])
    @has_access
    def photo_batch(self, plan_id, kind):
        if kind not in photos.KINDS:
            abort(404)
        files = [(f.filename, f.read()) for f in request.files.getlist("files") if f.filename]
        if not files:
            flash(gettext("Please choose the photos (or one zip of them)."), "warning")
            return redirect(url_for(".plan", plan_id=plan_id))
        try:
            result = photos.upload_batch(plan_id, g.user, kind, files)
        except DomainError as error:
            flash(str(error), "danger")
            return redirect(url_for(".plan", plan_id=plan_id))
        return self.plan(plan_id, batch=(kind, result))

    @expose("/photo/<int:enrolment_id>/<kind>", methods=["POST"])
    @has_access
    def photo_one(self, enrolment_id, kind):
        plan_id = request.form.get("plan_id", type=int)
        file = request.files.get("file")
        if kind not in photos.KINDS or not file or not file.filename:
            flash(gettext("Please choose a photo."), "warning")
        else:
            try:
                photos.upload_one(enrolment_id, g.user, kind, file.read())
            except DomainError as error:
                flash(str(error), "danger")
            else:
                flash(gettext("Photo saved."), "success")
        return redirect(url_for(".plan", plan_id=plan_id) if plan_id else url_for("OpenPlanView.list"))

    @expose("/<int:plan_id>/checks")
    @has_access
    def checks(self, plan_id):
        """The machine checks of this plan's trainees, polled by the page while they run (states
        and messages only: nothing read off an ID card)."""
        plan = enrolment.enrolling_plan(plan_id, g.user)
        found = photo_checks.findings(enrolment.live_enrolments(plan.id, g.user.enterprise_id))
        return jsonify(
            queued=found.queued, total=found.total,
            progress=gettext("%(done)s of %(total)s checked", done=found.total - found.queued,
                             total=found.total),
            done_text=gettext("Checked. Reload the page to see the results."),
            checks={f"{enrolment_id}-{kind}": photo_checks.summary(check)
                    for enrolment_id, kinds in found.checks.items()
                    for kind, check in kinds.items()})

    @expose("/check/<int:enrolment_id>/confirm", methods=["POST"])
    @has_access
    def confirm_check(self, enrolment_id):
        """Stand by a photo the machine found fault with: the roster row against a differing or
        unreadable ID card, a 1-inch photo without the expected face (a refusal: app/errors.py
        flashes it and goes back)."""
        plan_id = request.form.get("plan_id", type=int)
        kind = request.form.get("kind", photos.ID_PHOTO)
        if kind not in photos.KINDS:
            abort(404)
        photo_checks.confirm(enrolment_id, g.user, request.form.get("reason", "")[:1000], kind)
        flash(gettext("Confirmed: the roster is kept as it is, with your reason on record.")
              if kind == photos.ID_PHOTO else
              gettext("Confirmed: the photo is kept, with your reason on record."), "success")
        return redirect(url_for(".plan", plan_id=plan_id) if plan_id else url_for("OpenPlanView.list"))

    @expose("/edit/<int:enrolment_id>", methods=["GET", "POST"])
    @has_access
    def edit(self, enrolment_id):
        trainee = enrolment.own_live_enrolment(enrolment_id, g.user)
        errors = []
        if request.method == "POST":
            values = {header: request.form.get(header, "") for header in enrolment.EDITABLE}
            try:
                errors = enrolment.edit_trainee(enrolment_id, g.user, values)
            except DomainError as error:
                flash(str(error), "danger")
            else:
                if not errors:
                    flash(gettext("Saved."), "success")
                    return redirect(url_for(".plan", plan_id=trainee.plan_id))
        return self.render_template("enrolment/edit.html", trainee=trainee, errors=errors,
                                    editable=enrolment.EDITABLE, choices=choices())

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


class PhotoView(BaseView):
    """Trainee photos, for the enterprise, the plan's institution and the authorities in scope."""

    route_base = "/photos"
    default_view = "photo"
    method_permission_name = {"photo": "download"}
    base_permissions = ["can_download"]

    @expose("/<int:enrolment_id>/<kind>.jpg")
    @has_access
    def photo(self, enrolment_id, kind):
        trainee = get_scoped(Enrolment, enrolment_id)
        if kind not in photos.KINDS:
            abort(404)
        return send_jpeg(trainee.stored_photo(kind, thumbnail=request.args.get("thumb") == "1"))
