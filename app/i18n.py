"""Translation helpers every layer may use (services, integrations, tasks)."""
from flask_babel import force_locale, gettext


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated when shown (DomainError.__str__)."""
    return message


def chinese(msgid: str, **params) -> str:
    """`msgid` in Chinese, whatever the request's language (messages and SMS are Chinese)."""
    with force_locale("zh_CN"):
        return gettext(msgid, **params)
