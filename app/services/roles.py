"""Keep Flask-AppBuilder's roles equal to the permission matrix."""
from flask import current_app

from app import permissions, scope
from app.extensions import db
from app.services.transaction import transactional


def _pairs(role) -> set[tuple[str, str]]:
    return {(pv.permission.name, pv.view_menu.name) for pv in role.permissions}


@transactional
def sync_roles() -> list[str]:
    """Create missing permissions and roles; give each role exactly its matrix. Idempotent.

    Returns the roles whose permissions differ from what they held before.
    """
    appbuilder = current_app.appbuilder
    sm = appbuilder.sm
    for role_name in scope.ROLES:
        if sm.find_role(role_name) is None:
            sm.add_role(role_name)
    held_before = {name: _pairs(sm.find_role(name)) for name in scope.ROLES}
    appbuilder.add_permissions(update_perms=True)  # FAB also hands every new one to Admin
    appbuilder.security_cleanup()  # drop permissions of views that no longer exist
    all_pvs = db.session.scalars(db.select(sm.permissionview_model)).all()
    changed = []
    for role_name in scope.ROLES:
        role = sm.find_role(role_name)
        if role_name == scope.ADMIN:
            excluded = permissions.admin_excluded()
            wanted = {pv for pv in all_pvs if pv.view_menu.name not in excluded}
        else:
            pairs = permissions.expected_permissions(role_name)
            wanted = {pv for pv in all_pvs if (pv.permission.name, pv.view_menu.name) in pairs}
        role.permissions = sorted(wanted, key=lambda pv: pv.id)
        if _pairs(role) != held_before[role_name]:
            changed.append(role_name)
    return changed
