"""批量报名 and the trainees of a plan, for the enterprise that enrols them."""
import datetime as dt
import re

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
from views.base import MAX_ID, MAX_PAGE, NUMBER, number_arg, refuse_in_json, user_key
from views.files import send_jpeg, send_stored


# The poll's `since`: the start of the current round of checks, as the page wrote it.
SINCE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?", re.ASCII)


def _page_number() -> int:
    return number_arg(request.args.get("page") or "1", MAX_PAGE)


def _since() -> dt.datetime | None:
    value = request.args.get("since")
    if not value:
        return None
    try:
        if SINCE.fullmatch(value):
            return dt.datetime.fromisoformat(value)
    except ValueError:  # a 13th month
        pass
    abort(400)


def _form_plan_id() -> int | None:
    """The plan whose 报名 page sent a trainee's form (a hidden field): where to go back to."""
    value = request.form.get("plan_id", "")
    return int(value) if NUMBER.fullmatch(value) and 0 < int(value) <= MAX_ID else None


def _back_to_plan(plan_id: int | None, enrolment_id: int | None = None):
    """After a trainee's row was changed: the 报名 page listing that trainee (without one: the
    last page, where a trainee just added is listed)."""
    if not plan_id:
        return redirect(url_for("OpenPlanView.list"))
    page = enrolment.page_of(plan_id, g.user.enterprise_id, enrolment_id)
    return redirect(url_for(".plan", plan_id=plan_id, page=page if page > 1 else None))


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
        page = enrolment.trainee_page(plan.id, g.user.enterprise_id, _page_number())
        batch_ids = [enrolment_id for _, _, enrolment_id in batch[1].saved] if batch else []
        found = photo_checks.findings(plan.id, g.user.enterprise_id,
                                      [*(t.id for t in page.trainees), *batch_ids],
                                      listed=enrolment.LISTED)
        return self.render_template(
            "enrolment/plan.html", plan=plan, page=page, report=report, findings=found,
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
        return _back_to_plan(plan_id)

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
        plan_id = _form_plan_id()
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
        return _back_to_plan(plan_id, enrolment_id)

    @expose("/<int:plan_id>/checks")
    @has_access
    def checks(self, plan_id):
        """The machine checks of this plan's trainees, polled by the page while they run (states
        and messages only: nothing read off an ID card)."""
        plan = enrolment.enrolling_plan(plan_id, g.user)
        _, shown = enrolment.on_page(enrolment.trainee_ids(plan.id, g.user.enterprise_id),
                                     _page_number())
        found = photo_checks.findings(plan.id, g.user.enterprise_id, shown, since=_since())
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
        plan_id = _form_plan_id()
        kind = request.form.get("kind", photos.ID_PHOTO)
        if kind not in photos.KINDS:
            abort(404)
        photo_checks.confirm(enrolment_id, g.user, request.form.get("reason", "")[:1000], kind)
        flash(gettext("Confirmed: the roster is kept as it is, with your reason on record.")
              if kind == photos.ID_PHOTO else
              gettext("Confirmed: the photo is kept, with your reason on record."), "success")
        return _back_to_plan(plan_id, enrolment_id)

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
                    return _back_to_plan(trainee.plan_id, trainee.id)
        return self.render_template("enrolment/edit.html", trainee=trainee, errors=errors,
                                    editable=enrolment.EDITABLE, choices=choices())

    @expose("/remove/<int:enrolment_id>", methods=["POST"])
    @has_access
    def remove(self, enrolment_id):
        plan_id = _form_plan_id()
        try:
            enrolment.remove_trainee(enrolment_id, g.user)
        except DomainError as error:
            flash(str(error), "danger")
        else:
            flash(gettext("The trainee was removed from the plan."), "success")
        return _back_to_plan(plan_id, enrolment_id)


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
