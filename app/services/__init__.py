"""Business rules, one module per domain. Services own the transaction and raise DomainError."""
from flask_babel import gettext

from app.i18n import N_  # noqa: F401  (services raise with `from app.services import N_`)


class DomainError(Exception):
    """A refusal the user caused; its message is translated Chinese shown to the user.

    `status` is the HTTP answer (app/errors.py turns every uncaught one into a page, a flash or
    JSON): 422 here, for a request the user can correct (a missing reason, a bad file);
    NotFound 404, Forbidden 403, InvalidState 409. A refusal class that callers catch by name
    keeps its name and says a state refusal per raise: `raise OrderRefused(..., status=409)`.
    """

    message = N_("The request was refused.")
    status = 422

    def __init__(self, message: str | None = None, *, status: int | None = None, **params):
        self.params = params
        if status is not None:
            self.status = status
        super().__init__(message or self.message)

    def __str__(self) -> str:
        return gettext(self.args[0], **self.params)


class NotFound(DomainError):
    message = N_("The record does not exist or you may not see it.")
    status = 404


class Forbidden(DomainError):
    message = N_("You are not allowed to do this.")
    status = 403


class InvalidState(DomainError):
    message = N_("This cannot be done in the record's current state.")
    status = 409
