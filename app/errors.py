"""Chinese error pages: no English framework page and no traceback ever reaches a user."""
import logging
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, g, jsonify, redirect, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from app.services import DomainError

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


def _answer(status: int, message=None):
    """The error page, or to a script (a send-code button, a poll) the same words in JSON: the
    shape of our buttons' answers ({ok, error}) and of refused() ({message, status})."""
    if _wants_json():
        text = str(message or MESSAGES.get(status, MESSAGES[500]))
        return jsonify(ok=False, error=text, message=text, status=status), status
    return _page(status, message)


def _wants_json() -> bool:
    """A script's request (fetch/XHR), not a page the browser navigates to."""
    if request.headers.get("X-Requested-With"):
        return True
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) \
        == "application/json"


def _back() -> str:
    """The page of this site the request came from (path only, never another host), else the
    home page; never the failing GET itself (it would redirect to itself for ever), nor a page
    that was the answer to a POST (a GET there is 405)."""
    from views.profile import back_to

    back = back_to(request.referrer)
    if back is None or (request.method == "GET" and back == request.full_path.rstrip("?")):
        return current_app.appbuilder.get_url_for_index
    try:
        current_app.create_url_adapter(request).match(urlsplit(back).path, method="GET")
    except RequestRedirect:  # e.g. the same page without its trailing slash
        pass
    except HTTPException:
        return current_app.appbuilder.get_url_for_index
    return back


def refused(error: DomainError):
    """One answer per kind of refusal that reached no view's own `except`: to a script, JSON
    with the status; to a browser, the 404/403 page for a record it may not have or touch, else
    (409 a state that forbids it, 422 a request to correct) the message flashed on the page
    the user came from."""
    status, message = error.status, str(error)
    if request.path.startswith("/api/"):
        return jsonify(message=message), status  # Flask-AppBuilder's REST shape
    if _wants_json():
        return jsonify(message=message, status=status), status
    if status in (403, 404):
        return _page(status, message)
    flash(message, "danger")
    return redirect(_back())


def register(app: Flask) -> None:
    app.register_error_handler(DomainError, refused)

    @app.errorhandler(CSRFError)
    def _csrf(_error):
        return _answer(400, _l("The form expired or was sent from another page. Please reload and try again."))

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        if error.response is not None:  # made for this error, e.g. a limit's JSON answer to the API
            return error.response
        return _answer(error.code)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error", exc_info=error)
        return _answer(500)
