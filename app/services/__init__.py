"""Business rules, one module per domain. Services own the transaction and raise DomainError."""
from flask_babel import gettext


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated when shown (DomainError.__str__)."""
    return message


class DomainError(Exception):
    """A refusal the user caused; its message is translated Chinese shown to the user."""

    message = N_("The request was refused.")

    def __init__(self, message: str | None = None, **params):
        self.params = params
        super().__init__(message or self.message)

    def __str__(self) -> str:
        return gettext(self.args[0], **self.params)


class NotFound(DomainError):
    message = N_("The record does not exist or you may not see it.")


class Forbidden(DomainError):
    message = N_("You are not allowed to do this.")


class InvalidState(DomainError):
    message = N_("This cannot be done in the record's current state.")
