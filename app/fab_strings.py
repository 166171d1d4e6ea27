"""Flask-AppBuilder 5's own pages in Chinese: the strings its Chinese catalog lacks (our catalog
supplies them), and its security views with Chinese column labels where it has none (it
labels such columns with their English names, which no catalog reaches)."""
from flask_appbuilder.security.views import (
    PermissionViewModelView,
    RoleModelView,
    UserGroupModelView,
)
from flask_babel import lazy_gettext as _l

MISSING_IN_FAB_ZH = (
    _l("Database Error"),
    _l("Contains (insensitive)"),
    _l("In"),
    _l("Not In"),
    _l("Either select a role or a group"),
    _l("List Groups"),
    _l("Edit User Information"),
    _l("User information changed"),
    _l("Groups"),
    _l("The user's password for authentication"),
    _l("User(s) exists in the role, cannot delete"),
    _l("Show Group"),
    _l("Add Group"),
    _l("Edit Group"),
    _l("User(s) exists in the group, cannot delete"),
    _l("Add"),
    _l("Edit"),
    _l("Show"),
    _l("Delete"),
    _l("Are you sure you want to delete this item?"),
    _l("Cancel"),
    _l("OK"),
    _l("Yes"),
    _l("No"),
)


class JianpeiRoleModelView(RoleModelView):
    """角色列表: its search offers the users and groups of a role."""

    class_permission_name = "RoleModelView"  # the same permissions as Flask-AppBuilder's view
    label_columns = {**RoleModelView.label_columns, "user": _l("Users"), "groups": _l("Groups")}


class JianpeiGroupModelView(UserGroupModelView):
    """用户组列表: Flask-AppBuilder 5 gives it no labels at all."""

    class_permission_name = "UserGroupModelView"
    label_columns = {
        "name": _l("Name"),
        "label": _l("Label"),
        "description": _l("Description"),
        "users": _l("Users"),
        "roles": _l("Roles"),
    }


class JianpeiPermissionViewModelView(PermissionViewModelView):
    """视图/菜单权限: its search offers the roles that hold a permission."""

    class_permission_name = "PermissionViewModelView"
    label_columns = {**PermissionViewModelView.label_columns, "role": _l("Role")}
