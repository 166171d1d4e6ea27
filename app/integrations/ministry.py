"""The ministry's national training system (住房和城乡建设行业从业人员培训管理信息系统):
certificates are POSTed to it as JSON, idempotent by certificate number.

MINISTRY_ENDPOINT is the system's base URL or, on the embedded default, "receiver": the
built-in receiver in app/integrations/ministry_receiver.py; the code path is the same.
A push is retried with exponential backoff on connection errors, timeouts, 429 and 5xx;
any other refusal is final for that push.
"""
import json
import logging
import time
from http.client import HTTPException

from flask import Flask, current_app
from flask_babel import gettext

from app.i18n import N_
from app.integrations import transport

log = logging.getLogger(__name__)
Reply = transport.Reply

RECEIVER = "receiver"
RECEIVER_PATH = "/ministry-sim"
PUSH_PATH = "/api/certificates"
RETRY_STATUSES = (429,)  # besides 5xx
DETAIL_LENGTH = 200  # of the ministry's or the socket's words kept in an error

# Replaced by tests, so that backoff is measured rather than waited for.
sleep = time.sleep


class MinistryError(RuntimeError):
    """The ministry did not take the certificate; str() is the translated reason.

    `transient` is True when the system was down (unreachable, timeouts, 5xx) rather
    than refusing this certificate: a batch stops there instead of trying the rest.
    """

    def __init__(self, message: str, *, transient: bool = False, **params):
        self.transient = transient
        self.params = params
        super().__init__(message)

    def __str__(self) -> str:
        return gettext(self.args[0], **self.params)


def configure(app: Flask) -> None:
    """Check the endpoint; on the embedded default, mount the built-in receiver."""
    endpoint = app.config["MINISTRY_ENDPOINT"]
    if endpoint == RECEIVER:
        from app.integrations import ministry_receiver

        ministry_receiver.mount(app)
    elif not endpoint.startswith(("https://", "http://")):
        raise RuntimeError(f"MINISTRY_ENDPOINT must be receiver or an http(s) URL, not {endpoint!r}")


def base_url() -> str:
    config = current_app.config
    if config["MINISTRY_ENDPOINT"] == RECEIVER:
        return config["PUBLIC_BASE_URL"] + RECEIVER_PATH
    return config["MINISTRY_ENDPOINT"].rstrip("/")


def push(payload: dict) -> dict:
    """POST one certificate; returns the ministry's answer or raises MinistryError.

    The Idempotency-Key (the certificate number) lets the ministry take a repeated push
    once, so retrying after a timeout whose request did arrive is safe.
    """
    config = current_app.config
    number = str(payload["number"])
    url = base_url() + PUSH_PATH
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json",
               "Authorization": f"Bearer {config['MINISTRY_API_TOKEN']}",
               "Idempotency-Key": number}
    retries = int(config["MINISTRY_RETRIES"])
    backoff = float(config["MINISTRY_BACKOFF_SECONDS"])
    timeout = float(config["MINISTRY_TIMEOUT_SECONDS"])
    for attempt in range(retries + 1):
        try:
            reply = send(url, body, headers, timeout)
        except (OSError, HTTPException) as error:  # refused, reset, DNS, timeouts
            failure = MinistryError(N_("The ministry system could not be reached (%(detail)s)."),
                                    transient=True, detail=_reason(error))
        else:
            if not (reply.status >= 500 or reply.status in RETRY_STATUSES):
                return _answer(reply)
            failure = MinistryError(N_("The ministry system is unavailable: HTTP %(status)s "
                                       "%(detail)s"), transient=True, status=reply.status,
                                    detail=_detail(reply))
        if attempt == retries:
            break
        delay = backoff * 2 ** attempt
        log.warning("ministry push of %s: attempt %s failed (%s); retrying in %.1f s", number,
                    attempt + 1, failure.args[0] % failure.params, delay)
        sleep(delay)
    raise failure


def _answer(reply: Reply) -> dict:
    """A 2xx with code "0" is taken; anything else is the ministry refusing this push."""
    try:
        data = json.loads(reply.body)
    except ValueError:
        data = None
    if 200 <= reply.status < 300 and isinstance(data, dict) and str(data.get("code")) == "0":
        return data
    raise MinistryError(N_("The ministry system refused the certificate: HTTP %(status)s "
                           "%(detail)s"), status=reply.status, detail=_detail(reply))


def _reason(error: Exception) -> str:
    """The socket's own words, bounded: kept for admins and the log, never shown to users."""
    reason = getattr(error, "reason", None) or error  # URLError wraps the socket's error
    return (str(reason) or type(reason).__name__)[:DETAIL_LENGTH]


def _detail(reply: Reply) -> str:
    """The ministry's own message if it sent one, else the start of the body."""
    try:
        data = json.loads(reply.body)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("msg"):
        return str(data["msg"])[:DETAIL_LENGTH]
    return " ".join(reply.body.split())[:DETAIL_LENGTH]


# Transport ----------------------------------------------------------------------------------

def send(url: str, body: bytes, headers: dict, timeout: float) -> Reply:
    """POST `body`; the answer whatever its status, OSError when there is none."""
    return transport.request(url, body=body, headers=headers, timeout=timeout)
