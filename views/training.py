"""Training plans as each role sees them (read side; publishing comes with plan review)."""
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from app.security import ROW_SCOPE
from models.training import TrainingPlan
from views.base import JianpeiModelView

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


class TrainingPlanView(JianpeiModelView):
    datamodel = SQLAInterface(TrainingPlan)
    base_filters = ROW_SCOPE
    base_permissions = ["can_list", "can_show"]
    list_title = _l("Training plans")
    show_title = _l("Training plan details")
    label_columns = PLAN_LABELS
    list_columns = [
        "occupation", "level", "institution", "fee", "enrol_start", "enrol_end",
        "train_start", "train_end", "venue", "seats_left", "review_state_label", "phase_label",
    ]
    show_columns = [
        "institution", "occupation", "level", "quota", "fee", "enrol_start", "enrol_end",
        "train_start", "train_end", "venue", "region", "contact", "notes",
        "review_state_label", "review_reason", "phase_label", "seats_reserved", "seats_paid",
        "seats_left",
    ]
    search_columns = ["occupation", "level", "institution", "region", "review_state"]
    base_order = ("enrol_start", "desc")
