"""Flask-AppBuilder 5 strings that its own Chinese catalog lacks; our catalog supplies them."""
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
