"""Chinese error pages: no English framework page and no traceback ever reaches a user."""
import logging

from flask import Flask, current_app, g, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

MESSAGES = {
    400: _l("The request could not be understood. Please go back and try again."),
    403: _l("You are not allowed to open this page."),
    404: _l("The page or record does not exist, or you may not see it."),
    405: _l("This page cannot be used that way."),
    413: _l("The uploaded file is too large."),
    429: _l("Too many attempts. Please wait a minute and try again."),
    500: _l("Something went wrong on our side. The error has been logged; please try again later."),
}


def _page(status: int, message=None):
    text = message or MESSAGES.get(status, MESSAGES[500])
    if "user" not in g:
        # Refused before Flask-AppBuilder's own before_request ran (CSRF, request size): the
        # layout's navbar reads g.user as on every other page.
        g.user = current_user
    try:
        appbuilder = current_app.appbuilder
        page = render_template("error.html", status=status, message=text,
                               appbuilder=appbuilder, base_template=appbuilder.base_template)
        return page, status
    except Exception:  # the layout itself failed (e.g. the database is down)
        log.exception("error page failed to render")
        return render_template("error_plain.html", status=status, message=text), status


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(_error):
        return _page(400, _l("The form expired or was sent from another page. Please reload and try again."))

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        if error.response is not None:  # made for this error, e.g. a limit's JSON answer to the API
            return error.response
        return _page(error.code)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error", exc_info=error)
        return _page(500)
