"""After training: 考核计划 (institution prepares and reports, city authority reviews),
成绩报审 (institution imports, city authority reviews), 培训证书 (everyone in scope reads)."""
import io

from flask import flash, g, redirect, request, send_file, url_for
from flask_appbuilder import expose, has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, IntegerField, StringField
from wtforms.validators import InputRequired, Length, NumberRange

from app.scope import ROW_SCOPE, get_scoped
from app.services import (
    assessments,
    certificate_push,
    certificates,
    error_workbooks,
    scores,
    workbooks,
)
from models.assessment import AssessmentPlan, Certificate, ScoreReport
from models.training import TrainingPlan
from views.base import EagerInterface, JianpeiModelView
from views.files import send_stored

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

ASSESSMENT_LABELS = {
    "plan": _l("Training plan"),
    "plan_institution": _l("Training institution"),  # the list's text filters (not dropdowns)
    "plan_occupation": _l("Occupation (trade)"),
    "exam_time": _l("Exam time"),
    "exam_start": _l("Exam starts"),
    "exam_end": _l("Exam ends"),
    "venue": _l("Exam venue"),
    "theory_part": _l("Theory part"),
    "practical_part": _l("Practical part"),
    "theory_pass": _l("Theory pass mark"),
    "practical_pass": _l("Practical pass mark"),
    "state": _l("State"),
    "state_label": _l("State"),
    "review_reason": _l("Review remarks"),
    "reported_at": _l("Reported at"),
    "reviewed_at": _l("Reviewed at"),
}


def _at_most(field):
    """The service's bound on a free-text field, also as the input's maxlength."""
    limit = assessments.TEXT_LIMITS[field]
    return Length(max=limit, message=_l("At most %(n)s characters.", n=limit))


class AssessmentForm(FlaskForm):
    exam_start = DateTimeLocalField(_l("Exam starts"), format="%Y-%m-%dT%H:%M",
                                    validators=[InputRequired()])
    exam_end = DateTimeLocalField(_l("Exam ends"), format="%Y-%m-%dT%H:%M",
                                  validators=[InputRequired()])
    venue = StringField(_l("Exam venue"), validators=[InputRequired(), _at_most("venue")])
    theory_part = StringField(_l("Theory part"), validators=[InputRequired(),
                                                             _at_most("theory_part")],
                              description=_l("e.g. 理论知识（闭卷笔试，90分钟）"))
    practical_part = StringField(_l("Practical part"),
                                 validators=[InputRequired(), _at_most("practical_part")])
    theory_pass = IntegerField(_l("Theory pass mark"), default=60,
                               validators=[InputRequired(), NumberRange(0, 100)])
    practical_pass = IntegerField(_l("Practical pass mark"), default=60,
                                  validators=[InputRequired(), NumberRange(0, 100)])


class AssessmentPlanView(JianpeiModelView):
    route_base = "/assessments"
    datamodel = EagerInterface(AssessmentPlan,
                               load=TrainingPlan.label_load(AssessmentPlan.plan))
    base_filters = ROW_SCOPE
    base_permissions = ["can_list", "can_show", "can_prepare", "can_review", "can_scores"]
    method_permission_name = {"create_for": "prepare", "change": "prepare", "report": "prepare",
                              "approve": "review", "reject": "review",
                              "scores_template": "scores", "scores_upload": "scores",
                              "scores_errors": "scores"}
    list_title = _l("Assessment plans")
    show_title = _l("Assessment plan")
    label_columns = ASSESSMENT_LABELS
    list_columns = ["plan", "exam_time", "venue", "state_label", "reported_at"]
    show_columns = ["plan", "exam_start", "exam_end", "venue", "theory_part", "practical_part",
                    "theory_pass", "practical_pass", "state_label", "review_reason",
                    "reported_at", "reviewed_at"]
    # A plan by its institution or occupation, as text: a dropdown would list every training
    # plan in scope (thousands for an admin or the province).
    search_columns = ["plan_institution", "plan_occupation", "state", "exam_start"]
    base_order = ("exam_start", "desc")
    show_template = "assessment/show.html"

    def _get_show_widget(self, pk, item, score_errors=None, error_workbook=None, **kwargs):
        """The detail page's widgets; after a failed import, its errors and marked workbook
        (Flask-AppBuilder's own method takes none of our keywords)."""
        widgets = super()._get_show_widget(pk, item, **kwargs)
        widgets["assessment"] = item
        widgets["paid"] = assessments.paid_count(item.plan_id)
        widgets["score_errors"] = score_errors
        widgets["error_workbook"] = error_workbook
        widgets["error_limit"] = workbooks.MAX_LISTED_ERRORS
        return widgets

    def _form_page(self, form, plan, title, errors=()):
        for error in errors:
            getattr(form, error.field).errors = [*getattr(form, error.field).errors, error.message]
        return self.render_template("assessment/form.html", form=form, plan=plan, title=title)

    @expose("/new/<int:plan_id>", methods=["GET", "POST"])
    @has_access
    def create_for(self, plan_id):
        # Not the institution's plan (404) or training not ended (flashed): app/errors.py.
        plan = assessments.finished_plan(plan_id, g.user)
        existing = assessments.assessment_of(plan.id)
        if existing:
            return redirect(url_for(".show", pk=existing.id))
        form = AssessmentForm()
        title = gettext("New assessment plan")
        if not form.validate_on_submit():
            return self._form_page(form, plan, title)
        try:
            assessment, errors = assessments.create(plan_id, g.user, form.data)
        except assessments.InvalidState as error:  # e.g. made meanwhile in another tab
            flash(str(error), "danger")
            return redirect(url_for("TrainingPlanView.show", pk=plan_id))
        if errors:
            return self._form_page(form, plan, title, errors)
        flash(gettext("Saved. Report it (上报) when it is ready for the authority."), "success")
        return redirect(url_for(".show", pk=assessment.id))

    @expose("/change/<int:pk>", methods=["GET", "POST"])
    @has_access
    def change(self, pk):
        assessment = assessments.own_assessment(pk, g.user)
        form = AssessmentForm(obj=assessment)
        title = gettext("Edit assessment plan")
        if not form.validate_on_submit():
            return self._form_page(form, assessment.plan, title)
        try:
            errors = assessments.update_values(pk, g.user, form.data)
        except assessments.InvalidState as error:  # reported meanwhile: the form is no use now
            flash(str(error), "danger")
            return redirect(url_for(".show", pk=pk))
        if errors:
            return self._form_page(form, assessment.plan, title, errors)
        flash(gettext("Saved."), "success")
        return redirect(url_for(".show", pk=pk))

    @expose("/report/<int:pk>", methods=["POST"])
    @has_access
    def report(self, pk):
        return self._act(pk, lambda: assessments.report(pk, g.user),
                         gettext("Reported; the city authority will review it."))

    @expose("/approve/<int:pk>", methods=["POST"])
    @has_access
    def approve(self, pk):
        return self._act(pk, lambda: assessments.approve(pk, g.user),
                         gettext("Approved; the admission tickets are ready for the enterprises."))

    @expose("/reject/<int:pk>", methods=["POST"])
    @has_access
    def reject(self, pk):
        return self._act(pk, lambda: assessments.reject(pk, g.user, request.form.get("reason")),
                         gettext("Returned; the institution sees your reason."))

    @expose("/scores-template/<int:pk>.xlsx")
    @has_access
    def scores_template(self, pk):
        assessment = assessments.own_assessment(pk, g.user)
        return send_file(io.BytesIO(scores.template(assessment)), as_attachment=True,
                         download_name=f"成绩导入表-{assessment.id}.xlsx", mimetype=XLSX)

    @expose("/scores/<int:pk>", methods=["POST"])
    @has_access
    def scores_upload(self, pk):
        file = request.files.get("scores")
        if not file or not file.filename:
            flash(gettext("Please choose the filled-in score sheet (.xlsx)."), "warning")
            return redirect(url_for(".show", pk=pk))
        data = file.read()
        try:
            report = scores.import_scores(pk, g.user, data, file.filename)
        except scores.ScoresRefused as error:  # not the institution's: app/errors.py
            flash(str(error), "danger")
            return redirect(url_for(".show", pk=pk))
        if report.ok:
            error_workbooks.discard(g.user.id, error_workbooks.SCORES)
            flash(gettext("Scores imported and reported (已受理); the city authority will review "
                          "them."), "success")
            return redirect(url_for(".show", pk=pk))
        kept = error_workbooks.keep(g.user.id, error_workbooks.SCORES, pk,
                                    scores.annotated_workbook(data, report))
        flash(gettext("Nothing was imported: the score sheet has %(n)s errors. Fix them all and "
                      "upload again.", n=len(report.errors)), "danger")
        widgets = self._get_show_widget(pk, get_scoped(AssessmentPlan, pk), score_errors=report,
                                        error_workbook=kept)
        return self.render_template(self.show_template, pk=pk, title=self.show_title,
                                    widgets=widgets, related_views=[])

    @expose("/score-errors/<int:pk>.xlsx")
    @has_access
    def scores_errors(self, pk):
        """The marked copy of this user's own last failed score sheet for this assessment."""
        kept = error_workbooks.find(g.user.id, error_workbooks.SCORES, pk)
        return send_stored(kept and kept.storage_key, download_name="成绩导入表-错误标注.xlsx",
                           as_attachment=True)


SCORE_LABELS = {
    "assessment": _l("Assessment plan"),
    "state_label": _l("State"),
    "state": _l("State"),
    "filename": _l("File"),
    "imported_at": _l("Imported at"),
    "reviewed_at": _l("Reviewed at"),
    "review_reason": _l("Review remarks"),
}


class ScoreReportView(JianpeiModelView):
    route_base = "/score-reports"
    datamodel = EagerInterface(ScoreReport, load=TrainingPlan.label_load(
        ScoreReport.assessment, AssessmentPlan.plan))
    base_filters = ROW_SCOPE
    base_permissions = ["can_list", "can_show", "can_review"]
    method_permission_name = {"approve": "review", "reject": "review"}
    list_title = _l("Score reports")
    show_title = _l("Score report")
    label_columns = SCORE_LABELS
    list_columns = ["assessment", "state_label", "imported_at", "reviewed_at"]
    show_columns = ["assessment", "state_label", "filename", "imported_at", "reviewed_at",
                    "review_reason"]
    search_columns = ["state", "imported_at"]
    base_order = ("imported_at", "desc")
    show_template = "assessment/scores_show.html"

    def _get_show_widget(self, pk, item, **kwargs):
        widgets = super()._get_show_widget(pk, item, **kwargs)
        widgets["report"] = item
        widgets["summary"] = scores.summary(item)
        return widgets

    @expose("/approve/<int:pk>", methods=["POST"])
    @has_access
    def approve(self, pk):
        return self._act(pk, lambda: certificates.approve_scores(pk, g.user),
                         lambda made: gettext("Approved; %(n)s certificates were generated.",
                                              n=len(made)))

    @expose("/reject/<int:pk>", methods=["POST"])
    @has_access
    def reject(self, pk):
        return self._act(pk, lambda: certificates.reject_scores(pk, g.user,
                                                                request.form.get("reason")),
                         gettext("Not passed; the institution sees your reason and reports "
                                 "again."))


CERTIFICATE_LABELS = {
    "number": _l("Certificate number"),
    "holder_name": _l("Holder"),
    "enrolment": _l("Trainee"),
    "occupation": _l("Occupation (trade)"),
    "level": _l("Occupation level"),
    "issued_on": _l("Issue date"),
    "state": _l("State"),
    "state_label": _l("State"),
    "pushed_at": _l("Pushed at"),
    "push_attempts": _l("Push attempts"),
    "last_error": _l("Last push error"),
}


class CertificateView(JianpeiModelView):
    route_base = "/certificates"
    datamodel = EagerInterface(Certificate)
    base_filters = ROW_SCOPE
    base_permissions = ["can_list", "can_show"]
    list_title = _l("Training certificates")
    show_title = _l("Training certificate")
    label_columns = CERTIFICATE_LABELS
    list_columns = ["number", "holder_name", "occupation", "level", "issued_on", "state_label",
                    "pushed_at", "last_error"]
    show_columns = ["number", "holder_name", "occupation", "level", "issued_on", "state_label",
                    "pushed_at", "push_attempts", "last_error"]
    search_columns = ["number", "holder_name", "occupation", "state", "issued_on"]
    base_order = ("created_at", "desc")
    show_template = "assessment/certificate_show.html"
    formatters_columns = {"last_error": certificate_push.shown_error}  # raw for admins only

    def _get_show_widget(self, pk, item, **kwargs):
        widgets = super()._get_show_widget(pk, item, **kwargs)
        widgets["certificate"] = item
        return widgets

