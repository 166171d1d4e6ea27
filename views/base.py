"""What every Jianpei model view shares: readable booleans and empty cells."""
from flask_appbuilder import ModelView
from flask_babel import lazy_gettext as _l


def format_value(value):
    if value is None:
        return ""
    if value is True:
        return _l("Yes")
    if value is False:
        return _l("No")
    return value


class FormattedViewMixin:
    """Booleans read 是/否 and missing values are blank, on lists and detail pages."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        columns = set(self.list_columns) | set(self.show_columns)
        formatters = {name: format_value for name in columns}
        formatters.update(self.formatters_columns)
        self.formatters_columns = formatters


class JianpeiModelView(FormattedViewMixin, ModelView):
    pass
