"""报名人员查询: enterprises (their trainees) and authorities (their region) search trainees,
see the four progress columns, open 详情, and export the result."""
import io

from flask import abort, flash, g, jsonify, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext

from app.extensions import db
from app.integrations.storage import storage
from app.scope import scoped_select
from app.services import exports, people, trainees
from app.services.dictionaries import active_values
from models.reference import Occupation
from models.states import AssessmentState, CertificateState, PlanPhase, ScoreState
from models.training import TrainingPlan
from views.base import MAX_ID, check_numbers
from views.orders import status_html

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The search form's numbers; anything else in them is a malformed request (400), not a 500.
SEARCH_NUMBERS = {"plan_id": MAX_ID, "occupation_id": MAX_ID, "year": 2999}
# Not the search itself: where in its results a page is (and the page number links had).
PAGING_ARGS = ("cursor", "page")


def shown_id(enrolment) -> str:
    """Template filter: a trainee's ID number as the signed-in user may see it."""
    return trainees.shown_id_number(enrolment, g.user)


def shown_mobile(enrolment) -> str:
    """Template filter: an enrolment's mobile as the signed-in user may see it."""
    return trainees.shown_mobile(enrolment, g.user)


def _search_query(args) -> trainees.Search:
    check_numbers(args, SEARCH_NUMBERS)
    return trainees.Search.from_args(args)

# Bootstrap label colours for each progress state.
STYLES = {
    PlanPhase.NOT_OPEN: "default", PlanPhase.ENROLLING: "primary",
    PlanPhase.ENROLMENT_CLOSED: "info", PlanPhase.TRAINING_ENDED: "success",
    AssessmentState.DRAFT: "default", AssessmentState.REPORTED: "warning",
    AssessmentState.APPROVED: "success", AssessmentState.REJECTED: "danger",
    ScoreState.NOT_REPORTED: "default", ScoreState.ACCEPTED: "warning",
    ScoreState.APPROVED: "success", ScoreState.REJECTED: "danger",
    CertificateState.NOT_GENERATED: "default", CertificateState.GENERATED: "warning",
    CertificateState.PUSHED: "success",
}


class TraineeView(BaseView):
    route_base = "/trainees"
    default_view = "search"
    method_permission_name = {"search": "list", "detail": "show", "export": "export",
                              "export_status": "export", "export_file": "export",
                              "correct_name": "correct_name"}
    base_permissions = ["can_list", "can_show", "can_export", "can_correct_name"]

    @expose("/")
    @has_access
    def search(self):
        query = _search_query(request.args)
        args = {k: v for k, v in request.args.items() if k not in PAGING_ARGS}  # the search
        try:
            page = trainees.search(query, g.user, request.args.get("cursor", ""))
        except trainees.StaleCursor:
            flash(gettext("That page link is out of date (a bookmark from before, or the order "
                          "was changed): the search starts again at page 1."), "warning")
            return redirect(url_for(".search", **args))
        except trainees.BadCursor:
            abort(400)  # a cursor edited by hand: malformed like a bad number
        return self.render_template(
            "trainees/search.html", query=query, page=page, rows=page.rows,
            args=args, styles=STYLES,
            plans=db.session.scalars(scoped_select(TrainingPlan).order_by(
                TrainingPlan.train_start.desc()).limit(200)
                .options(*TrainingPlan.label_load())).all(),
            occupations=active_values(Occupation), phases=list(PlanPhase),
            assessment_states=list(AssessmentState), score_states=list(ScoreState),
            certificate_states=list(CertificateState), sorts=trainees.SORTS,
            sync_limit=exports.SYNC_LIMIT, show_enterprise=trainees.shows_enterprise(g.user))

    @expose("/<int:enrolment_id>")
    @has_access
    def detail(self, enrolment_id):
        found = trainees.detail(enrolment_id, g.user)
        may_correct = self.appbuilder.sm.has_access("can_correct_name", "TraineeView")
        return self.render_template("trainees/detail.html", d=found, styles=STYLES,
                                    may_correct_name=may_correct, order_status=status_html)

    @expose("/<int:enrolment_id>/name", methods=["POST"])
    @has_access
    def correct_name(self, enrolment_id):
        """A regulator corrects the registered name of a trainee in its scope (a refusal, or a
        trainee outside it: app/errors.py)."""
        people.correct_name(enrolment_id, g.user, request.form.get("name", "")[:64],
                            request.form.get("reason", "")[:1000])
        flash(gettext("The registered name was corrected."), "success")
        return redirect(url_for(".detail", enrolment_id=enrolment_id))

    @expose("/export", methods=["POST"])
    @has_access
    def export(self):
        query = _search_query(request.form)
        if trainees.count(query, g.user, at_most=exports.SYNC_LIMIT) <= exports.SYNC_LIMIT:
            return send_file(io.BytesIO(exports.sync_bytes(query, g.user)), mimetype=XLSX,
                             as_attachment=True, download_name="报名人员.xlsx")
        job = exports.start(query, g.user)
        return redirect(url_for(".export_status", export_id=job.id))

    @expose("/exports/<int:export_id>")
    @has_access
    def export_status(self, export_id):
        job = exports.own_export(export_id, g.user)
        state = exports.progress(job)
        if request.args.get("format") == "json":
            state["download"] = url_for(".export_file", export_id=job.id) if state["done"] else None
            return jsonify(state)
        return self.render_template("trainees/export.html", job=job, state=state)

    @expose("/exports/<int:export_id>/报名人员.xlsx")
    @has_access
    def export_file(self, export_id):
        job = exports.own_export(export_id, g.user)
        if job.state != "done" or not job.file_key or not storage().exists(job.file_key):
            abort(404)
        return send_file(storage().open(job.file_key), mimetype=XLSX, as_attachment=True,
                         download_name="报名人员.xlsx")


