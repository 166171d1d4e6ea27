"""The permission matrix: which role may use which view, in one place.

`flask --app run setup` makes the roles hold exactly these permissions; the menu
entries follow from them. Row scope (which rows) is app/scope.py's business.

Views are named here, not imported: the CLI, the workers and the services read the matrix
without loading a view. app/menu.py registers the views (create_app only) and checks that
each menu item below opens the view and page it names.
"""
from dataclasses import dataclass

from flask_appbuilder.const import PERMISSION_PREFIX

from app import scope

# Menu categories (their labels and icons: app/menu.py) and the data console's menu link.
MY_ENTERPRISE = "MyEnterprise"
ENROLMENT = "Enrolment"
REVIEW = "Review"
ORGANISATIONS = "Organisations"
TRAINING = "Training"
SUPERVISION = "Supervision"
CATEGORIES = (MY_ENTERPRISE, ENROLMENT, REVIEW, ORGANISATIONS, TRAINING, SUPERVISION)
CONSOLE_LINK = "Console"


@dataclass(frozen=True)
class MenuItem:
    """A left-menu item: the view it opens, the permission of that view's first page (a role
    holding it sees the item) and its category."""

    view: str
    permission: str
    category: str


MENU = {
    "EnterpriseInfo": MenuItem("MyEnterpriseView", "can_show", MY_ENTERPRISE),
    "OpenPlans": MenuItem("OpenPlanView", "can_list", ENROLMENT),
    "Orders": MenuItem("OrderView", "can_list", ENROLMENT),
    "Enrolled": MenuItem("EnrolledView", "can_list", ENROLMENT),
    "TraineeSearch": MenuItem("TraineeView", "can_list", ENROLMENT),
    "EnterpriseReview": MenuItem("EnterpriseReviewView", "can_list", REVIEW),
    "Enterprises": MenuItem("EnterpriseView", "can_list", ORGANISATIONS),
    "Institutions": MenuItem("InstitutionView", "can_list", ORGANISATIONS),
    "TrainingPlans": MenuItem("TrainingPlanView", "can_list", TRAINING),
    "AssessmentPlans": MenuItem("AssessmentPlanView", "can_list", TRAINING),
    "ScoreReports": MenuItem("ScoreReportView", "can_list", TRAINING),
    "Certificates": MenuItem("CertificateView", "can_list", TRAINING),
    "AuditLog": MenuItem("AuditLogView", "can_list", SUPERVISION),
}

LIST_SHOW = frozenset({"can_list", "can_show"})
API_READ = frozenset({"can_get", "can_info"})
DOWNLOAD = frozenset({"can_download"})
SEARCH = frozenset({"can_list", "can_show", "can_export"})

# Everyone who signs in may see their own account (个人信息) and change their own password.
OWN_ACCOUNT = {
    "ProfileView": frozenset({"can_show"}),
    "UserDBModelView": frozenset({"can_userinfo", "resetmypassword"}),
    "MessageView": frozenset({"can_list"}),
    "ResetMyPasswordView": frozenset({"can_this_form_get", "can_this_form_post"}),
}

REGULATOR = {
    "TrainingPlanApi": API_READ,
    "EnterpriseApi": API_READ,
    "EnterpriseReviewView": frozenset({"can_list", "can_show", "can_review"}),
    "EnterpriseView": LIST_SHOW,
    "InstitutionView": LIST_SHOW,
    "TrainingPlanView": LIST_SHOW,
    "AuditLogView": LIST_SHOW,
    "DocumentView": DOWNLOAD,
    "PhotoView": DOWNLOAD,
    "OrderView": LIST_SHOW | {"can_invoice"},
    "AssessmentPlanView": LIST_SHOW,
    "ScoreReportView": LIST_SHOW,
    "CertificateView": LIST_SHOW,
    # A wrong registered name that the enterprise may no longer change is corrected here.
    "TraineeView": SEARCH | {"can_correct_name"},
    **OWN_ACCOUNT,
}
# Plans, assessment plans and score reports are reviewed by the city authority of their
# region; the province oversees.
CITY_REGULATOR = {**REGULATOR, "TrainingPlanView": LIST_SHOW | {"can_review"},
                  "AssessmentPlanView": LIST_SHOW | {"can_review"},
                  "ScoreReportView": LIST_SHOW | {"can_review"}}

MATRIX: dict[str, dict[str, frozenset]] = {
    scope.ENTERPRISE: {
        "MyEnterpriseView": frozenset({"can_show", "can_edit"}),
        "TrainingPlanApi": API_READ,
        "EnterpriseApi": API_READ,
        "EnterpriseView": frozenset({"can_show"}),
        "OpenPlanView": LIST_SHOW,
        "EnrolmentView": frozenset({"can_list", "can_enrol"}),
        "OrderView": LIST_SHOW | {"can_order", "can_invoice"},
        "EnrolledView": frozenset({"can_list", "can_tickets", "can_notify"}),
        "CertificateView": LIST_SHOW,
        "TraineeView": SEARCH,
        "PhotoView": DOWNLOAD,
        "TrainingPlanView": frozenset({"can_show"}),
        "DocumentView": DOWNLOAD,
        **OWN_ACCOUNT,
    },
    scope.INSTITUTION: {
        "InstitutionView": LIST_SHOW,
        "TrainingPlanView": LIST_SHOW | {"can_add", "can_edit", "can_submit"},
        "TrainingPlanApi": API_READ,
        "PhotoView": DOWNLOAD,
        "OrderView": LIST_SHOW | {"can_invoice"},
        "AssessmentPlanView": LIST_SHOW | {"can_prepare", "can_scores"},
        "ScoreReportView": LIST_SHOW,
        "CertificateView": LIST_SHOW,
        "TraineeView": SEARCH,
        **OWN_ACCOUNT,
    },
    scope.CITY_REGULATOR: CITY_REGULATOR,
    scope.PROVINCE_REGULATOR: REGULATOR,
    scope.PUBLIC: {},
    # Admin holds every permission there is, but for the views of an enterprise's own
    # account (an admin has no enterprise): see admin_excluded().
}

OWN_ORGANISATION_VIEWS = {"MyEnterpriseView": "EnterpriseInfo", "OpenPlanView": "OpenPlans",
                          "EnrolmentView": None, "EnrolledView": "Enrolled"}


def admin_excluded() -> set[str]:
    """View menus (and menu items) Admin does not get; also the 企业 category, whose every
    item is an enterprise's own."""
    return set(OWN_ORGANISATION_VIEWS) | {m for m in OWN_ORGANISATION_VIEWS.values() if m} \
        | {MY_ENTERPRISE}


def entry_permission(view) -> str:
    """The permission that opens a view's default page (can_list for model views)."""
    name = (view.method_permission_name or {}).get(view.default_view, view.default_view)
    return PERMISSION_PREFIX + name


def menu_permissions(role: str) -> set[tuple[str, str]]:
    """Menu items (and their categories) of the views whose default page `role` may open."""
    granted = MATRIX.get(role, {})
    pairs: set[tuple[str, str]] = set()
    for name, item in MENU.items():
        if item.permission in granted.get(item.view, ()):
            pairs.add(("menu_access", name))
            pairs.add(("menu_access", item.category))
    return pairs


def expected_permissions(role: str) -> set[tuple[str, str]]:
    """Every (permission, view menu) pair `role` must hold, and no other."""
    pairs = {
        (perm, view) for view, perms in MATRIX.get(role, {}).items() for perm in perms
    }
    return pairs | menu_permissions(role)


__all__ = ["MATRIX", "CONSOLE_LINK", "expected_permissions"]
