"""The admins' data console (Flask-Admin) at /console, behind Flask-AppBuilder's login."""
from decimal import Decimal

from flask import current_app, flash, redirect, request
from flask_admin import Admin, AdminIndexView, expose
from flask_admin.contrib.sqla import ModelView
from flask_admin.helpers import get_redirect_target
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.validators import ValidationError

from app import scope
from app.extensions import db
from app.services import DomainError, audit, dictionaries, sms_templates
from app.services.exports import neutralize
from models.accounts import SMS_STATES, SmsMessage
from models.audit import AuditLog
from models.orders import PaymentNotice
from models.organisation import Institution
from models.reference import (
    Authority,
    Education,
    Occupation,
    OccupationLevel,
    ProfessionalTitle,
    Region,
)
from models.states import PlanState
from models.training import TrainingPlan
from views.audit import AUDIT_FORMATTERS, AUDIT_LABELS, code_label
from views.base import MAX_PAGE, MAX_PAGE_SIZE, check_numbers
from views.training import PLAN_LABELS

CONSOLE_URL = "/console"
# What the SMS outbox stores, in words: the purposes of app/services/sms_templates.py, and the
# two of rows written before templates.
SMS_PURPOSES = {
    "trainee_notice": _l("Trainee notice"),
    "message": _l("In-app message"),
    **sms_templates.labels(),
}
# Flask-Admin reads these list arguments with int(): plain numbers within bounds, else 400.
LIST_NUMBERS = {"page": MAX_PAGE, "page_size": MAX_PAGE_SIZE, "sort": 100, "desc": 1}


def _is_admin() -> bool:
    return current_user.is_authenticated and scope.ADMIN in scope.role_names(current_user)


def _to_login():
    return redirect(current_app.appbuilder.get_url_for_login_with(request.url))


class ConsoleIndexView(AdminIndexView):
    def is_accessible(self):
        return _is_admin()

    def inaccessible_callback(self, name, **kwargs):
        return _to_login()

    @expose("/")
    def index(self):
        return self.render("console/index.html")


EXPORT_MAX_ROWS = 10_000  # a console export is built in the request: bounded, never cut short


class _TooManyRows(Exception):
    def __init__(self, count: int):
        super().__init__(count)
        self.count = count


class ConsoleModelView(ModelView):
    """Admin-only; every change lands in the audit log."""

    can_export = True
    can_view_details = True
    page_size = 50
    export_max_rows = EXPORT_MAX_ROWS

    def is_accessible(self):
        return _is_admin()

    def inaccessible_callback(self, name, **kwargs):
        return _to_login()

    def on_model_change(self, form, model, is_created):
        # Runs before Flask-Admin's commit, so the change and its audit row land together.
        db.session.flush()
        audit.record("console.create" if is_created else "console.update", model,
                     after={k: str(v) for k, v in form.data.items() if k != "csrf_token"})

    def on_model_delete(self, model):
        audit.record("console.delete", model, before={"repr": str(model)})

    def _get_list_extra_args(self):
        """The list's (and its export's) query arguments, refused with 400 when malformed."""
        check_numbers(request.args, LIST_NUMBERS)
        return super()._get_list_extra_args()

    def _export_data(self):
        count, rows = super()._export_data()  # at most export_max_rows rows, and the count
        if count is not None and count > self.export_max_rows:
            raise _TooManyRows(count)
        return count, rows

    @expose("/export/<export_type>/")
    def export(self, export_type):
        """Flask-Admin's export, refused (not silently cut) when more rows match than it
        holds: the admin filters first."""
        try:
            return super().export(export_type)
        except _TooManyRows as too_many:
            flash(gettext("%(count)s rows match, and an export holds at most %(max)s. Filter the "
                          "list first, then export.", count=too_many.count,
                          max=self.export_max_rows), "error")
            return redirect(get_redirect_target() or self.get_url(".index_view"))

    def get_export_value(self, model, name):
        """Every exported cell as text a spreadsheet cannot take for a formula (numbers stay)."""
        value = super().get_export_value(model, name)
        if value is None or isinstance(value, (int, float, Decimal)):
            return value
        return neutralize(str(value))


class ReadOnlyConsoleView(ConsoleModelView):
    can_create = False
    can_edit = False
    can_delete = False


class DictionaryConsoleView(ConsoleModelView):
    column_list = ("code", "name", "sort_order", "active")
    column_editable_list = ("name", "sort_order", "active")
    column_searchable_list = ("code", "name")
    column_filters = ("active",)
    column_default_sort = ("sort_order", False)
    form_columns = ("code", "name", "sort_order", "active")
    column_labels = {
        "code": _l("Code"),
        "name": _l("Name"),
        "sort_order": _l("Sort order"),
        "active": _l("Active"),
    }

    def on_model_delete(self, model):
        try:
            dictionaries.ensure_deletable(model)
        except DomainError as error:
            raise ValidationError(str(error)) from error
        super().on_model_delete(model)


class RegionConsoleView(ReadOnlyConsoleView):
    column_list = ("code", "name", "parent_code")
    column_searchable_list = ("code", "name")
    column_labels = {"code": _l("Code"), "name": _l("Name"), "parent_code": _l("Parent code")}


class AuthorityConsoleView(ConsoleModelView):
    can_delete = False
    column_list = ("name", "level", "region")
    form_columns = ("name",)
    column_labels = {"name": _l("Name"), "level": _l("Level"), "region": _l("Region")}


class InstitutionConsoleView(ConsoleModelView):
    can_delete = False
    column_list = ("name", "uscc", "region", "contact_person", "contact_phone")
    column_searchable_list = ("name", "uscc")
    form_columns = ("name", "uscc", "region", "contact_person", "contact_phone")
    column_labels = {
        "name": _l("Institution name"),
        "uscc": _l("Unified social credit code"),
        "region": _l("Region"),
        "contact_person": _l("Contact person"),
        "contact_phone": _l("Contact phone"),
    }


class TrainingPlanConsoleView(ConsoleModelView):
    can_create = False
    can_delete = False
    column_list = ("institution", "occupation", "level", "quota", "fee", "enrol_start",
                   "enrol_end", "train_start", "train_end", "review_state")
    column_filters = ("review_state", "region_code")
    column_formatters = {
        "review_state": lambda _v, _c, model, _n: PlanState(model.review_state).label,
    }
    form_columns = ("venue", "contact", "notes")
    column_labels = {**PLAN_LABELS, "region_code": _l("Region code")}


def _formatter(fmt):
    """A Flask-Admin column formatter that shows fmt(the stored value)."""
    return lambda _view, _context, model, name: fmt(getattr(model, name))


def _in_words(labels):
    """A Flask-Admin column formatter: the stored code's label (the code if it has none)."""
    return _formatter(code_label(labels))


class AuditLogConsoleView(ReadOnlyConsoleView):
    column_default_sort = ("at", True)
    column_formatters = {name: _formatter(fmt) for name, fmt in AUDIT_FORMATTERS.items()}
    column_searchable_list = ("username", "action", "object_type", "object_id")
    column_filters = ("action", "object_type", "at", "region_code")
    column_labels = {**AUDIT_LABELS, "user_id": _l("User ID")}


class SmsOutboxConsoleView(ReadOnlyConsoleView):
    """Every SMS and how it went: in the embedded default what would have been sent, codes
    included; with the provider its BizId, refusals and delivery receipts (codes masked)."""

    column_default_sort = ("created_at", True)
    column_list = ("created_at", "phone", "purpose", "text", "state", "error_code", "reported_at")
    column_details_list = ("created_at", "phone", "purpose", "template_code", "text", "state",
                           "biz_id", "error_code", "reason", "checked_at", "reported_at")
    column_searchable_list = ("phone", "biz_id")
    column_filters = ("state", "purpose", "created_at")
    column_formatters = {"purpose": _in_words(SMS_PURPOSES), "state": _in_words(SMS_STATES)}
    column_labels = {
        "created_at": _l("Time"),
        "phone": _l("Mobile"),
        "purpose": _l("Purpose"),
        "text": _l("Text"),
        "state": _l("State"),
        "template_code": _l("Template code"),
        "biz_id": _l("Provider receipt ID (BizId)"),
        "error_code": _l("Provider code"),
        "reason": _l("Provider's reason"),
        "checked_at": _l("Receipt last asked"),
        "reported_at": _l("Delivered or failed at"),
    }


class PaymentNoticeConsoleView(ReadOnlyConsoleView):
    """Every payment notification as received; rejected ones are the payment alerts."""

    column_default_sort = ("received_at", True)
    column_list = ("received_at", "out_trade_no", "outcome", "reason", "remote_addr")
    column_searchable_list = ("out_trade_no",)
    column_filters = ("outcome", "received_at")
    column_details_list = ("received_at", "out_trade_no", "order_id", "outcome", "reason",
                           "remote_addr", "raw")
    can_view_details = True
    column_labels = {
        "received_at": _l("Time"),
        "out_trade_no": _l("Order number"),
        "order_id": _l("Order ID"),
        "outcome": _l("Outcome"),
        "reason": _l("Reason"),
        "remote_addr": _l("IP address"),
        "raw": _l("Notification as received"),
    }


DICTIONARY_VIEWS = (
    (Occupation, "console_occupation", _l("Occupations (trades)")),
    (OccupationLevel, "console_occupation_level", _l("Occupation levels")),
    (ProfessionalTitle, "console_professional_title", _l("Professional titles")),
    (Education, "console_education", _l("Education levels")),
)


def init_console(app) -> Admin:
    console = Admin(
        app,
        name=_l("Jianpei data console"),
        url=CONSOLE_URL,
        index_view=ConsoleIndexView(url=CONSOLE_URL, endpoint="console", name=_l("Home")),
    )
    dictionaries_label = _l("Dictionaries")
    for model, endpoint, name in DICTIONARY_VIEWS:
        console.add_view(DictionaryConsoleView(model, db.session, name=name, endpoint=endpoint,
                                               category=dictionaries_label))
    reference = _l("Reference data")
    console.add_view(RegionConsoleView(Region, db.session, name=_l("Regions"),
                                       endpoint="console_region", category=reference))
    console.add_view(AuthorityConsoleView(Authority, db.session, name=_l("Authorities"),
                                          endpoint="console_authority", category=reference))
    console.add_view(InstitutionConsoleView(Institution, db.session, name=_l("Training institutions"),
                                            endpoint="console_institution"))
    console.add_view(TrainingPlanConsoleView(TrainingPlan, db.session, name=_l("Training plans"),
                                             endpoint="console_training_plan"))
    console.add_view(AuditLogConsoleView(AuditLog, db.session, name=_l("Audit log"),
                                         endpoint="console_audit_log"))
    console.add_view(PaymentNoticeConsoleView(PaymentNotice, db.session,
                                              name=_l("Payment notifications"),
                                              endpoint="console_payment_notice"))
    console.add_view(SmsOutboxConsoleView(SmsMessage, db.session, name=_l("SMS outbox"),
                                          endpoint="console_sms_outbox"))
    return console
