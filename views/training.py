"""培训计划 for institutions (create, edit, submit), authorities (review) and everyone in scope;
报名 for enterprises: the plans they can enrol in now, the roster template and photo rules."""
from flask import abort, flash, g, redirect, request, send_file, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.urltools import get_filter_args
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import DateTimeLocalField
from wtforms.validators import InputRequired, Length

from app.scope import ROW_SCOPE, acting_user
from app.services import DomainError, assessments, plans, roster_template
from models.reference import PROVINCE_CODE
from models.states import PlanPhase
from models.training import TrainingPlan
from views.base import EagerInterface, JianpeiModelView

PLAN_LABELS = {
    "institution": _l("Training institution"),
    "occupation": _l("Occupation (trade)"),
    "level": _l("Occupation level"),
    "quota": _l("Quota"),
    "fee": _l("Fee per trainee (yuan)"),
    "enrol_start": _l("Enrolment opens"),
    "enrol_end": _l("Enrolment closes"),
    "train_start": _l("Training starts"),
    "train_end": _l("Training ends"),
    "venue": _l("Venue"),
    "region": _l("Region"),
    "contact": _l("Contact"),
    "notes": _l("Notes"),
    "review_state_label": _l("Review state"),
    "review_state": _l("Review state"),
    "review_reason": _l("Review remarks"),
    "phase_label": _l("Phase"),
    "seats_left": _l("Seats left"),
    "seats_reserved": _l("Seats reserved"),
    "seats_paid": _l("Seats paid"),
}
FORM_COLUMNS = ["occupation", "level", "quota", "fee", "enrol_start", "enrol_end", "train_start",
                "train_end", "venue", "region", "contact", "notes"]
ACTIVE = [["active", FilterEqual, True]]
# Enrolment opens and closes at a time of day: the browser's own date-and-time input (FAB's
# picker is date-only and cut the time off). Typed "2026-12-01 09:00:00" is accepted too.
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
WINDOW_FIELDS = {
    "enrol_start": DateTimeLocalField(_l("Enrolment opens"), format=DATETIME_FORMATS,
                                      validators=[InputRequired()]),
    "enrol_end": DateTimeLocalField(_l("Enrolment closes"), format=DATETIME_FORMATS,
                                    validators=[InputRequired()],
                                    description=_l("Enrolment is open until this moment.")),
}


class TrainingPlanView(JianpeiModelView):
    datamodel = EagerInterface(TrainingPlan, load=TrainingPlan.label_load())
    base_filters = ROW_SCOPE
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_submit", "can_review"]
    method_permission_name = {"submit": "submit", "approve": "review", "reject": "review"}
    list_title = _l("Training plans")
    show_title = _l("Training plan details")
    add_title = _l("New training plan")
    edit_title = _l("Edit training plan")
    label_columns = {**PLAN_LABELS, "enrol_window": _l("Enrolment window"),
                     "training_dates": _l("Training dates")}
    list_columns = ["occupation", "level", "institution", "fee", "enrol_window", "training_dates",
                    "venue", "seats_left", "review_state_label", "phase_label"]
    show_columns = ["institution", "occupation", "level", "quota", "fee", "enrol_start",
                    "enrol_end", "train_start", "train_end", "venue", "region", "contact", "notes",
                    "review_state_label", "review_reason", "phase_label", "seats_reserved",
                    "seats_paid", "seats_left"]
    add_columns = edit_columns = FORM_COLUMNS
    add_form_extra_fields = edit_form_extra_fields = WINDOW_FIELDS
    search_columns = ["occupation", "level", "institution", "region", "review_state"]
    base_order = ("enrol_start", "desc")
    show_template = "plan_show.html"
    add_form_query_rel_fields = edit_form_query_rel_fields = {
        "occupation": ACTIVE, "level": ACTIVE, "region": [["parent_code", FilterEqual, PROVINCE_CODE]],
    }
    description_columns = {
        "fee": _l("Yuan per trainee, up to two decimals."),
        "notes": _l("At most %(n)s characters.", n=plans.NOTES_MAX),
    }
    # venue and contact get their column's length from Flask-AppBuilder; notes is Text.
    validators_columns = {
        "notes": [Length(max=plans.NOTES_MAX,
                         message=_l("At most %(n)s characters.", n=plans.NOTES_MAX))],
    }

    def _get_show_widget(self, pk, item, **kwargs):
        widgets = super()._get_show_widget(pk, item, **kwargs)
        widgets["plan_state"] = item.review_state  # plan_show.html offers the next step
        widgets["training_ended"] = plans.phase(item) == PlanPhase.TRAINING_ENDED
        widgets["assessment"] = assessments.assessment_of(item.id)
        return widgets

    # Create and edit: Flask-AppBuilder checks the form; plans.create/update own the write.
    def _add(self):
        form = self._posted_form(self.add_form.refresh())
        if form is None:  # a GET, or a form that does not pass its own checks: FAB shows it
            return super()._add()
        try:
            plan = plans.create(g.user, _plan_values(form))
        except DomainError as error:
            flash(str(error), "danger")
            return None
        g.saved_plan_id = plan.id
        flash(self.add_row_message, "success")
        return None

    def _edit(self, pk):
        if request.method != "POST":
            return super()._edit(pk)
        if not self.datamodel.get(pk, self._base_filters):
            abort(404)
        form = self._posted_form(self.edit_form.refresh(request.form), pk=pk)
        if form is None:
            return super()._edit(pk)
        try:
            plan = plans.update(pk, g.user, _plan_values(form))
        except DomainError as error:
            flash(str(error), "danger")
            return None
        g.saved_plan_id = plan.id
        flash(self.edit_row_message, "success")
        if plan.review_state == "submitted":
            flash(gettext("The approved terms changed, so the plan goes back to the authority "
                          "for review."), "warning")
        return None

    def _posted_form(self, form, pk=None):
        """The posted form once it passes its field checks; else None."""
        if request.method != "POST":
            return None
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        self._fill_form_exclude_cols(self._filters.get_relation_cols(), form)
        if pk is not None:
            form._id = pk  # as FAB does, for its unique-value checks
        if not form.validate():
            return None
        self.process_form(form, pk is None)
        return form

    def post_add_redirect(self):
        """A saved plan opens, where 提交审核 is; a refused one goes back to the form."""
        saved = g.pop("saved_plan_id", None)
        return redirect(url_for(".show", pk=saved) if saved else url_for(".add"))

    def post_edit_redirect(self):
        saved = g.pop("saved_plan_id", None)
        pk = request.view_args.get("pk")
        return redirect(url_for(".show", pk=saved) if saved else url_for(".edit", pk=pk))

    @expose("/submit/<int:pk>", methods=["POST"])
    @has_access
    def submit(self, pk):
        return self._act(pk, lambda: plans.submit(pk, g.user),
                         gettext("Submitted; the city authority will review the plan."))

    @expose("/approve/<int:pk>", methods=["POST"])
    @has_access
    def approve(self, pk):
        return self._act(pk, lambda: plans.approve(pk, g.user), gettext("The plan is approved."))

    @expose("/reject/<int:pk>", methods=["POST"])
    @has_access
    def reject(self, pk):
        return self._act(pk, lambda: plans.reject(pk, g.user, request.form.get("reason")),
                         gettext("The plan is rejected; the institution sees your reason."))



def _plan_values(form) -> dict:
    """The form's fields as plans.FIELDS: related rows by id (the region by code)."""
    values = {name: form[name].data for name in FORM_COLUMNS}
    occupation, level, region = values.pop("occupation"), values.pop("level"), values.pop("region")
    return {**values, "occupation_id": occupation.id if occupation else None,
            "level_id": level.id if level else None,
            "region_code": region.code if region else None}


class OpenForEnrolmentFilter(BaseFilter):
    """Approved, 报名中, seats left, and the user's enterprise approved."""

    name = "open for enrolment"
    arg_name = "open"

    def apply(self, query, value):  # noqa: ARG002
        return query.filter(plans.may_enrol(acting_user()))


def _no_value():
    return None


class OpenPlanView(JianpeiModelView):
    """报名: what an enterprise can enrol its workers in now."""

    datamodel = EagerInterface(TrainingPlan, load=TrainingPlan.label_load())
    base_filters = ROW_SCOPE + [["id", OpenForEnrolmentFilter, _no_value]]
    base_permissions = ["can_list", "can_show"]
    method_permission_name = {"roster_template": "list"}
    list_title = _l("Enrolment: open training plans")
    show_title = _l("Training plan details")
    label_columns = {**PLAN_LABELS, "enrol_window": _l("Enrolment window"),
                     "training_dates": _l("Training dates"), "id": _l("Enrolment")}
    list_columns = ["occupation", "level", "institution", "fee", "enrol_window", "training_dates",
                    "venue", "seats_left", "id"]
    formatters_columns = {"id": lambda pk: Markup('<a class="btn btn-primary btn-xs" href="{}">{}</a>')
                          .format(url_for("EnrolmentView.plan", plan_id=pk), gettext("Enrol"))}
    show_columns = ["institution", "occupation", "level", "fee", "enrol_start", "enrol_end",
                    "train_start", "train_end", "venue", "region", "contact", "notes",
                    "seats_left"]
    search_columns = ["occupation", "level", "region"]
    base_order = ("enrol_end", "asc")
    list_template = "open_plans.html"

    @expose("/roster-template.xlsx")
    @has_access
    def roster_template(self):
        return send_file(roster_template.to_bytes(), as_attachment=True,
                         download_name="报名人员信息表.xlsx",
                         mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
