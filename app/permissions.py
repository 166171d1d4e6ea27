"""The permission matrix: which role may use which view, in one place.

`flask --app run setup` makes the roles hold exactly these permissions; the menu
entries follow from them. Row scope (which rows) is app/security.py's business.
"""
from app import security
from app.menu import CONSOLE_LINK, ENTRIES

LIST_SHOW = frozenset({"can_list", "can_show"})
DOWNLOAD = frozenset({"can_download"})

# Everyone who signs in may see and change their own password.
OWN_ACCOUNT = {
    "UserDBModelView": frozenset({"can_userinfo", "resetmypassword"}),
    "ResetMyPasswordView": frozenset({"can_this_form_get", "can_this_form_post"}),
}

REGULATOR = {
    "EnterpriseView": LIST_SHOW,
    "InstitutionView": LIST_SHOW,
    "TrainingPlanView": LIST_SHOW,
    "AuditLogView": LIST_SHOW,
    "DocumentView": DOWNLOAD,
    **OWN_ACCOUNT,
}

MATRIX: dict[str, dict[str, frozenset]] = {
    security.ENTERPRISE: {
        "EnterpriseView": LIST_SHOW,
        "TrainingPlanView": LIST_SHOW,
        "DocumentView": DOWNLOAD,
        **OWN_ACCOUNT,
    },
    security.INSTITUTION: {
        "InstitutionView": LIST_SHOW,
        "TrainingPlanView": LIST_SHOW,
        **OWN_ACCOUNT,
    },
    security.CITY_REGULATOR: REGULATOR,
    security.PROVINCE_REGULATOR: REGULATOR,
    security.PUBLIC: {},
    # Admin holds every permission there is (see app/cli.py sync_roles).
}

# Menu entries a role sees: those whose view it may list, plus the console for Admin.
ENTRY_PERMISSION = "can_list"


def menu_permissions(role: str) -> set[tuple[str, str]]:
    """(permission, view menu) pairs for the menu items and categories of `role`."""
    granted = MATRIX.get(role, {})
    pairs: set[tuple[str, str]] = set()
    for entry in ENTRIES:
        if entry.name and ENTRY_PERMISSION in granted.get(entry.view.__name__, ()):
            pairs.add(("menu_access", entry.name))
            pairs.add(("menu_access", entry.category))
    return pairs


def expected_permissions(role: str) -> set[tuple[str, str]]:
    """Every (permission, view menu) pair `role` must hold, and no other."""
    pairs = {
        (perm, view) for view, perms in MATRIX.get(role, {}).items() for perm in perms
    }
    return pairs | menu_permissions(role)


__all__ = ["MATRIX", "CONSOLE_LINK", "expected_permissions"]
