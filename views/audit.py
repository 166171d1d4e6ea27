"""The audit log for regulators, within their scope (Admin also has it in /console)."""
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from app.security import ROW_SCOPE
from models.audit import AuditLog
from views.base import JianpeiModelView

AUDIT_LABELS = {
    "at": _l("Time"),
    "username": _l("User"),
    "role": _l("Role"),
    "action": _l("Action"),
    "object_type": _l("Object type"),
    "object_id": _l("Object ID"),
    "summary": _l("Before / after"),
    "ip": _l("IP address"),
    "region_code": _l("Region code"),
}


class AuditLogView(JianpeiModelView):
    datamodel = SQLAInterface(AuditLog)
    base_filters = ROW_SCOPE
    base_permissions = ["can_list", "can_show"]
    list_title = _l("Audit log")
    show_title = _l("Audit entry")
    label_columns = AUDIT_LABELS
    list_columns = ["at", "username", "role", "action", "object_type", "object_id"]
    show_columns = [
        "at", "username", "role", "action", "object_type", "object_id", "summary", "ip",
        "region_code",
    ]
    search_columns = ["username", "action", "object_type", "at"]
    base_order = ("at", "desc")
