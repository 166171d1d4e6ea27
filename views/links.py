"""Where the pages the services name open: the dashboard's cards and rows, and the links of
in-app messages. Services name a page (a target and a row id, filters for a list); only the
views know its URL."""
from typing import Any, Mapping, Optional

from flask import url_for

# target: (endpoint, the endpoint's argument that takes the row id; None for a page without)
PAGES: dict[str, tuple[str, Optional[str]]] = {
    "my_enterprise": ("MyEnterpriseView.info", None),
    "open_plans": ("OpenPlanView.list", None),
    "enrolment_plan": ("EnrolmentView.plan", "plan_id"),  # a plan's trainees, to enrol
    "enrolled_plan": ("EnrolledView.plan", "plan_id"),  # a plan's enrolled trainees
    "order": ("OrderView.show", "pk"),
    "enterprise_review": ("EnterpriseReviewView.queue", None),
    "enterprises": ("EnterpriseView.list", None),
    "institutions": ("InstitutionView.list", None),
    "plans": ("TrainingPlanView.list", None),
    "plan": ("TrainingPlanView.show", "pk"),
    "assessment_plans": ("AssessmentPlanView.list", None),
    "assessment_plan": ("AssessmentPlanView.show", "pk"),
    "new_assessment_plan": ("AssessmentPlanView.create_for", "plan_id"),
    "score_reports": ("ScoreReportView.list", None),
    "score_report": ("ScoreReportView.show", "pk"),
}
# Flask-AppBuilder list filters: "_flt_3_<column>" is "equal to" on a string column.
EQUAL = "_flt_3_"


def page_url(target: str, row_id: Optional[int] = None,
             filters: Optional[Mapping[str, Any]] = None) -> str:
    """The URL of `target` (for row `row_id`), its list filtered to column == value."""
    endpoint, argument = PAGES[target]
    values = {argument: row_id} if argument else {}
    values.update({EQUAL + column: value for column, value in (filters or {}).items()})
    return url_for(endpoint, **values)


def message_url(link: Optional[str]) -> Optional[str]:
    """A message's link: "<target>" or "<target>:<row id>" (app.services.inbox); a
    message posted before those held its path, which is kept."""
    if not link:
        return None
    if link.startswith("/"):
        return link
    target, _, row_id = link.partition(":")
    if target not in PAGES or (row_id and not row_id.isdigit()):
        return None
    return page_url(target, int(row_id) if row_id else None)
