"""What every Jianpei model view shares: readable booleans and empty cells, and actions that
respect the row scope."""
from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import ModelView, expose
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
    """Flask-AppBuilder's actions load their rows without the view's base filters and fail
    with a 500 on an unknown action name; ours answer 404 and load rows within scope.

    The search form's dropdowns of related rows (an order's enterprise, a plan's institution)
    would list every row in the database: they offer only the rows in the user's scope.
    """

    def _init_forms(self):
        from app.security import ROW_SCOPE

        scoped = dict(self.search_form_query_rel_fields or {})
        for column in self.search_columns:
            if column in scoped or not self.datamodel.is_relation(column):
                continue
            related = self.datamodel.get_related_model(column)
            if getattr(related, "__row_scope__", None) is not None:
                scoped[column] = ROW_SCOPE
        self.search_form_query_rel_fields = scoped
        super()._init_forms()

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        if name not in self.actions or self.datamodel.get(pk, self._base_filters) is None:
            abort(404)
        return super().action(name, pk)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        name = request.form.get("action")
        pks = request.form.getlist("rowid")
        if name not in self.actions or any(
                self.datamodel.get(pk, self._base_filters) is None for pk in pks):
            abort(404)
        return super().action_post()

    def _act(self, pk, action, done):
        """Run a state change on a row of this view in the user's scope (else 404), flash the
        outcome (a refusal's own message; `done`, or `done(result)`) and go back to the row."""
        from app.security import get_scoped
        from app.services import DomainError

        get_scoped(self.datamodel.obj, pk)
        try:
            result = action()
        except DomainError as error:
            flash(str(error), "danger")
        else:
            flash(done(result) if callable(done) else done, "success")
        return redirect(url_for(".show", pk=pk))
