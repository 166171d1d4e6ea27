"""HTTP to outside systems (Alipay's gateway, the ministry) in one place.

With HTTP_LOOPBACK (tests, where no server runs) URLs of this app itself — the built-in
gateway simulator and ministry receiver, our own notify endpoint — are served in-process,
each in a fresh app context, so both sides talk as if over the network.
"""
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Optional

from flask import current_app

MAX_REPLY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Reply:
    status: int
    body: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would carry credentials elsewhere: treat it as the answer instead."""

    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def request(url: str, *, body: Optional[bytes] = None, headers: Optional[dict] = None,
            timeout: float = 15) -> Reply:
    """GET (or POST `body`) and return the status and text of the answer, whatever the status.

    Raises OSError when there is no answer (connection refused, timeout).
    """
    headers = headers or {}
    config = current_app.config
    base = config["PUBLIC_BASE_URL"]
    if config.get("HTTP_LOOPBACK") and url.startswith(base + "/"):
        return _loopback(url[len(base):], body, headers)
    method = "POST" if body is not None else "GET"
    outgoing = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with _opener.open(outgoing, timeout=timeout) as response:  # noqa: S310 (config URLs)
            return Reply(response.status, _text(response))
    except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx and 5xx still answer
        try:
            return Reply(error.code, _text(error))
        finally:
            error.close()


def post_form(url: str, form: dict, timeout: float = 15) -> Reply:
    return request(url, body=urllib.parse.urlencode(form).encode(), timeout=timeout,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})


def _text(response) -> str:
    return response.read(MAX_REPLY_BYTES).decode("utf-8", "replace")


def _loopback(path: str, body: Optional[bytes], headers: dict) -> Reply:
    app = current_app._get_current_object()
    with app.app_context():
        client = app.test_client()
        response = client.post(path, data=body, headers=headers) if body is not None \
            else client.get(path, headers=headers)
        return Reply(response.status_code, response.get_data(as_text=True))
