"""Keep Flask-AppBuilder's roles equal to the permission matrix."""
from flask import current_app

from app import permissions, security
from app.extensions import db


def sync_roles() -> list[str]:
    """Create missing permissions and roles; give each role exactly its matrix. Idempotent."""
    appbuilder = current_app.appbuilder
    sm = appbuilder.sm
    for role_name in security.ROLES:
        if sm.find_role(role_name) is None:
            sm.add_role(role_name)
    appbuilder.add_permissions(update_perms=True)
    appbuilder.security_cleanup()  # drop permissions of views that no longer exist
    all_pvs = db.session.scalars(db.select(sm.permissionview_model)).all()
    changed = []
    for role_name in security.ROLES:
        role = sm.find_role(role_name)
        if role_name == security.ADMIN:
            wanted = set(all_pvs)
        else:
            pairs = permissions.expected_permissions(role_name)
            wanted = {pv for pv in all_pvs if (pv.permission.name, pv.view_menu.name) in pairs}
        if set(role.permissions) != wanted:
            role.permissions = sorted(wanted, key=lambda pv: pv.id)
            changed.append(role_name)
    db.session.commit()
    return changed
