"""Enterprises and institutions as regulators, institutions and enterprises see them."""
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l

from app.scope import ROW_SCOPE, get_scoped
from app.services.enterprises import DOCUMENT_COLUMNS
from models.organisation import DocumentSlot, Enterprise, Institution
from views.base import EagerInterface, JianpeiModelView
from views.files import send_jpeg

ENTERPRISE_LABELS = {
    "uscc": _l("Unified social credit code"),
    "name": _l("Enterprise name"),
    "enterprise_type": _l("Enterprise type"),
    "legal_representative": _l("Legal representative"),
    "registered_capital": _l("Registered capital"),
    "established": _l("Date of establishment"),
    "address": _l("Address"),
    "region": _l("Region"),
    "province_owned": _l("Province-owned unit"),
    "contact_person": _l("Contact person"),
    "contact_mobile": _l("Contact mobile"),
    "review_state_label": _l("Review state"),
    "review_state": _l("Review state"),
    "review_reason": _l("Review remarks"),
    "reviewed_at": _l("Reviewed at"),
    "reviewing_authority": _l("Reviewing authority"),
    "created_at": _l("Registered at"),
}


class EnterpriseView(JianpeiModelView):
    datamodel = EagerInterface(Enterprise)
    base_filters = ROW_SCOPE
    base_permissions = ["can_list", "can_show"]
    list_title = _l("Enterprises")
    show_title = _l("Enterprise details")
    label_columns = ENTERPRISE_LABELS
    list_columns = ["uscc", "name", "region", "province_owned", "review_state_label", "created_at"]
    show_columns = [
        "uscc", "name", "enterprise_type", "legal_representative", "registered_capital",
        "established", "address", "region", "province_owned", "contact_person",
        "contact_mobile", "review_state_label", "review_reason", "reviewing_authority",
        "reviewed_at", "created_at",
    ]
    search_columns = ["uscc", "name", "region", "province_owned", "review_state"]
    order_columns = ["uscc", "name", "created_at"]
    base_order = ("created_at", "desc")
    show_template = "enterprise_show.html"
    extra_args = {"document_slots": DocumentSlot}


class InstitutionView(JianpeiModelView):
    datamodel = EagerInterface(Institution)
    base_filters = ROW_SCOPE
    base_permissions = ["can_list", "can_show"]
    list_title = _l("Training institutions")
    show_title = _l("Training institution details")
    label_columns = {
        "name": _l("Institution name"),
        "uscc": _l("Unified social credit code"),
        "region": _l("Region"),
        "contact_person": _l("Contact person"),
        "contact_phone": _l("Contact phone"),
    }
    list_columns = ["name", "region", "contact_person", "contact_phone"]
    show_columns = ["name", "uscc", "region", "contact_person", "contact_phone"]
    search_columns = ["name", "region"]


class DocumentView(BaseView):
    """Serves an enterprise's documents to those whose scope includes it."""

    route_base = "/documents"
    default_view = "enterprise_document"
    method_permission_name = {"enterprise_document": "download"}
    base_permissions = ["can_download"]

    @expose("/enterprise/<int:pk>/<slot>.jpg")
    @has_access
    def enterprise_document(self, pk: int, slot: str = DocumentSlot.LICENCE):
        enterprise = get_scoped(Enterprise, pk)
        key = getattr(enterprise, DOCUMENT_COLUMNS.get(slot, ""), None)
        return send_jpeg(key, download_name=f"{slot}.jpg")
