"""Every view and menu entry, registered in one place (Flask-AppBuilder skeleton style).

Only create_app() imports this module (it imports every view); which role sees which item is
app/permissions.py's matrix, which names the views without importing them.
"""
from dataclasses import dataclass
from typing import Any, Optional

from flask import current_app
from flask_babel import lazy_gettext as _l

from app import permissions
from app.permissions import (
    CONSOLE_LINK,
    ENROLMENT,
    MY_ENTERPRISE,
    ORGANISATIONS,
    REVIEW,
    SUPERVISION,
    TRAINING,
)
from views.api import EnterpriseApi, TrainingPlanApi
from views.assessment import AssessmentPlanView, CertificateView, ScoreReportView
from views.audit import AuditLogView
from views.auth import ForgotPasswordView
from views.enrolled import EnrolledView
from views.enrolment import EnrolmentView, PhotoView
from views.messages import MessageView
from views.my_enterprise import MyEnterpriseView
from views.orders import OrderView, payments
from views.organisation import DocumentView, EnterpriseView, InstitutionView
from views.profile import ProfileView, switch_language
from views.public import CertificateLookupView, VerifyView
from views.registration import RegisterView
from views.review import EnterpriseReviewView
from views.trainees import TraineeView
from views.training import OpenPlanView, TrainingPlanView

CATEGORY_LABELS = {
    MY_ENTERPRISE: (_l("Enterprise"), "fa-building-o"),
    ENROLMENT: (_l("Enrolment"), "fa-pencil-square-o"),
    REVIEW: (_l("Review"), "fa-check-square-o"),
    ORGANISATIONS: (_l("Organisations"), "fa-building"),
    TRAINING: (_l("Training"), "fa-graduation-cap"),
    SUPERVISION: (_l("Supervision"), "fa-eye"),
}


@dataclass(frozen=True)
class Entry:
    view: type
    name: Optional[str] = None  # menu item name (app/permissions.py MENU); None: no menu entry
    label: Any = None
    icon: str = ""

    @property
    def category(self) -> Optional[str]:
        return permissions.MENU[self.name].category if self.name else None


ENTRIES = (
    Entry(MyEnterpriseView, "EnterpriseInfo", _l("Enterprise information"), "fa-id-card"),
    Entry(OpenPlanView, "OpenPlans", _l("Plans open for enrolment"), "fa-list"),
    Entry(OrderView, "Orders", _l("Orders"), "fa-credit-card"),
    Entry(EnrolledView, "Enrolled", _l("Enrolled"), "fa-users"),
    Entry(TraineeView, "TraineeSearch", _l("Trainee search"), "fa-search"),
    Entry(EnterpriseReviewView, "EnterpriseReview", _l("Enterprise review"), "fa-gavel"),
    Entry(EnterpriseView, "Enterprises", _l("Enterprises"), "fa-industry"),
    Entry(InstitutionView, "Institutions", _l("Training institutions"), "fa-university"),
    Entry(TrainingPlanView, "TrainingPlans", _l("Training plans"), "fa-calendar"),
    Entry(AssessmentPlanView, "AssessmentPlans", _l("Assessment plans"), "fa-clipboard"),
    Entry(ScoreReportView, "ScoreReports", _l("Score reports"), "fa-bar-chart"),
    Entry(CertificateView, "Certificates", _l("Training certificates"), "fa-certificate"),
    Entry(AuditLogView, "AuditLog", _l("Audit log"), "fa-history"),
    Entry(DocumentView),
    Entry(EnrolmentView),
    Entry(PhotoView),
    Entry(RegisterView),
    Entry(ForgotPasswordView),
    Entry(CertificateLookupView),
    Entry(MessageView),
    Entry(VerifyView),
    Entry(ProfileView),  # 个人信息, in the user menu at the top right
)

APIS = (TrainingPlanApi, EnterpriseApi)

# Public pages that send SMS or create accounts: limited per client address.
PUBLIC_FORMS = (RegisterView, ForgotPasswordView)


def check_menu() -> None:
    """The menu items here are app/permissions.py's, each opening the view and page it names
    there (else a role would see an item it cannot open, or miss one it can)."""
    named = {entry.name: entry.view for entry in ENTRIES if entry.name}
    if set(named) != set(permissions.MENU):
        raise RuntimeError(f"menu items differ from app/permissions.py MENU: "
                           f"{sorted(set(named) ^ set(permissions.MENU))}")
    for name, view in named.items():
        item = permissions.MENU[name]
        if (view.__name__, permissions.entry_permission(view)) != (item.view, item.permission):
            raise RuntimeError(f"menu item {name} opens {view.__name__} with "
                               f"{permissions.entry_permission(view)}, not as in MENU")


def register(appbuilder) -> None:
    check_menu()
    for entry in ENTRIES:
        if entry.name is None:
            appbuilder.add_view_no_menu(entry.view)
            continue
        label, icon = CATEGORY_LABELS[entry.category]
        appbuilder.add_view(
            entry.view,
            entry.name,
            label=entry.label,
            icon=entry.icon,
            category=entry.category,
            category_label=label,
            category_icon=icon,
        )
    for api in APIS:
        appbuilder.add_api(api)
    # The language switch goes back to the page it was chosen on (views/profile.py).
    locale_view = appbuilder.bm.locale_view
    current_app.view_functions[f"{locale_view.endpoint}.{locale_view.default_view}"] = \
        switch_language
    appbuilder.app.register_blueprint(payments)  # Alipay's notifications: no login, no CSRF
    config = appbuilder.app.config
    appbuilder.sm.limiter.limit(config["PAYMENT_NOTIFY_RATE_LIMIT"])(payments)  # per address
    for view in appbuilder.baseviews:
        if isinstance(view, PUBLIC_FORMS):
            appbuilder.sm.limiter.limit(config["PUBLIC_FORM_RATE_LIMIT"],
                                        methods=["POST"])(view.blueprint)
        if isinstance(view, CertificateLookupView):  # numbers must not be harvested
            appbuilder.sm.limiter.limit(config["CERTIFICATE_LOOKUP_RATE_LIMIT"],
                                        methods=["POST"])(view.blueprint)
    appbuilder.add_link(
        CONSOLE_LINK,
        label=_l("Data console"),
        href="/console/",
        icon="fa-database",
        category=SUPERVISION,
        category_label=CATEGORY_LABELS[SUPERVISION][0],
    )
