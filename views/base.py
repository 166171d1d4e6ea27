"""What every Jianpei model view shares: readable booleans and empty cells, actions that
respect the row scope, and list arguments checked before they reach a query."""
import re

from flask import abort, current_app, flash, jsonify, redirect, request, url_for
from flask_appbuilder import ModelView, expose
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import Column

# A list's page number and page size are plain numbers within these bounds, and it is ordered
# only by a column it offers; anything else answers 400 (not a 500 from deep in the query).
MAX_PAGE = 100_000
MAX_PAGE_SIZE = 100  # the largest size Flask-AppBuilder's lists offer (25, 50, 75, 100)
MAX_ID = 2**31 - 1  # a row id (PostgreSQL integer)
NUMBER = re.compile(r"[0-9]{1,10}", re.ASCII)


def user_key() -> str:
    """A rate limit's key: the signed-in user (the same user on any address counts once)."""
    return f"user:{current_user.id}" if current_user.is_authenticated else "user:anonymous"


def refuse_in_json(message):
    """A limit's on_breach for an endpoint a page's script calls: 429 with {ok, error}, the
    shape its script reads (`message` a lazy string, translated when refused)."""
    def on_breach(_limit):
        response = jsonify(ok=False, error=str(message))
        response.status_code = 429
        return response

    return on_breach


def number_arg(value, most: int) -> int:
    """A whole number of ASCII digits from 0 to `most`; anything else aborts with 400."""
    if not isinstance(value, str) or not NUMBER.fullmatch(value) or int(value) > most:
        abort(400)
    return int(value)


def check_numbers(args, bounds: dict[str, int]) -> None:
    """Each argument named in `bounds`, when given, is a whole number within its bound."""
    for name, most in bounds.items():
        if args.get(name):
            number_arg(args[name], most)


def check_list_args() -> None:
    """Before any Flask-AppBuilder view (ours and its security views): page_<View>,
    psize_<View> and _oc_<View> are read by Flask-AppBuilder with int() and handed to SQL as
    they come, so check them here, in one place, for the view they name."""
    names = [name for name in request.args if "page_" in name or "psize_" in name
             or "_oc_" in name]
    if not names:
        return
    views = {view.blueprint.name: view for view in current_app.appbuilder.baseviews
             if getattr(view, "blueprint", None) is not None}
    if request.blueprint not in views:
        return  # not Flask-AppBuilder's (the console, the payment notification)
    by_class = {type(view).__name__: view for view in views.values()}
    for name in names:
        for value in request.args.getlist(name):
            # The same matching as flask_appbuilder.urltools (re.findall("page_(.*)", ...)).
            if "page_" in name:
                number_arg(value, MAX_PAGE)
            if "psize_" in name:
                number_arg(value, MAX_PAGE_SIZE)
            if "_oc_" in name:
                view = by_class.get(name.split("_oc_", 1)[1])
                if view is not None and value not in (getattr(view, "order_columns", None) or ()):
                    abort(400)


class EagerInterface(SQLAInterface):
    """A model view's data, whose list pages load the related rows they show with the rows
    (`load`: SQLAlchemy loader options), not one query per row and relation.

    `related` does the same for the search form's dropdown of a relation: its column name,
    the loader options its rows' labels need.
    """

    def __init__(self, obj, load=(), related=None, session=None):
        super().__init__(obj, session)
        self.load = tuple(load)
        self.related = dict(related or {})

    def apply_all(self, query, *args, **kwargs):
        return super().apply_all(query, *args, **kwargs).options(*self.load)

    def get_related_interface(self, col_name):
        return RelatedChoices(self.get_related_model(col_name),
                              load=self.related.get(col_name, ()))

    # A column_property of an SQL expression (e.g. Order.enterprise_name, searched as text
    # instead of a dropdown of every enterprise) is no table column: it has no nullable or
    # unique flag, which Flask-AppBuilder's search form reads.
    def is_nullable(self, col_name):
        if self._is_expression(col_name):
            return True
        return super().is_nullable(col_name)

    def is_unique(self, col_name):
        return not self._is_expression(col_name) and super().is_unique(col_name)

    def _is_expression(self, col_name):
        return col_name in self.list_columns and not isinstance(self.list_columns[col_name],
                                                                Column)


class RelatedChoices(EagerInterface):
    """The rows a form's dropdown of a relation offers. Flask-AppBuilder asks for all of them
    (no page) and reads only the rows: those are counted in Python, not by a second query."""

    def query(self, filters=None, order_column="", order_direction="", page=None,
              page_size=None, select_columns=None, outer_default_load=False):
        if page is not None or page_size is not None:
            return super().query(filters, order_column, order_direction, page, page_size,
                                 select_columns, outer_default_load)
        rows = self.apply_all(self.session.query(self.obj), filters, order_column,
                              order_direction, select_columns=select_columns,
                              outer_default_load=outer_default_load).all()
        return len(rows), rows


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
        from app.scope import ROW_SCOPE

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
        from app.scope import get_scoped
        from app.services import DomainError

        get_scoped(self.datamodel.obj, pk)
        try:
            result = action()
        except DomainError as error:
            flash(str(error), "danger")
        else:
            flash(done(result) if callable(done) else done, "success")
        return redirect(url_for(".show", pk=pk))
