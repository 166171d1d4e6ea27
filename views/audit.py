"""The audit log for regulators, within their scope (Admin also has it in /console)."""
from flask_babel import lazy_gettext as _l

from app.scope import ROLE_LABELS, ROW_SCOPE
from models.audit import ACTION_LABELS, OBJECT_TYPE_LABELS, AuditLog
from views.base import EagerInterface, JianpeiModelView

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


def code_label(labels):
    """A stored code in words: its label, else the code itself."""
    return lambda code: str(labels[code]) if code in labels else (code or "")


def _role_labels(names) -> str:
    """Stored role names (comma-separated) in words: CityRegulator -> 市级行政主管部门."""
    return "、".join(str(ROLE_LABELS.get(name, name)) for name in (names or "").split(",") if name)


def _username(name) -> str:
    """What the system did itself (tasks, payment notices) is written by "system"."""
    return str(OBJECT_TYPE_LABELS["System"]) if name == "system" else (name or "")


# The stored codes in words, on the regulators' list and in the console (app/console.py).
AUDIT_FORMATTERS = {
    "action": code_label(ACTION_LABELS),
    "object_type": code_label(OBJECT_TYPE_LABELS),
    "role": _role_labels,
    "username": _username,
}


class AuditLogView(JianpeiModelView):
    datamodel = EagerInterface(AuditLog)
    base_filters = ROW_SCOPE
    base_permissions = ["can_list", "can_show"]
    list_title = _l("Audit log")
    show_title = _l("Audit entry")
    label_columns = AUDIT_LABELS
    formatters_columns = AUDIT_FORMATTERS
    list_columns = ["at", "username", "role", "action", "object_type", "object_id"]
    show_columns = [
        "at", "username", "role", "action", "object_type", "object_id", "summary", "ip",
        "region_code",
    ]
    search_columns = ["username", "action", "object_type", "at"]
    base_order = ("at", "desc")
