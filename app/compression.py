"""gzip for text answers (pages, JSON, style sheets, scripts), by one after-request hook.

A list page of 50 rows is ~60 KB of HTML and Flask-AppBuilder's style sheets and scripts are
~600 KB: gzip sends a fifth of that, which is what a clerk on a slow government line waits for.

- Only when the browser says it takes gzip (Accept-Encoding), only text types, only above
  MIN_SIZE bytes, never twice (a Content-Encoding already set), never a part (Range) or an
  attachment (xlsx, PDF, photos: compressed already or meant to be saved as they are).
- Every answer that could be compressed says `Vary: Accept-Encoding`, so no cache hands a
  gzip body to a browser that did not ask for one.
- Other file answers (send_file) are streamed and left alone; static files are the exception:
  they are read once, compressed once per file version (ETag) and kept in memory, and their
  cache headers (app/assets.py) stay as they are. Their ETag turns weak (the bytes differ, the
  file does not), which Werkzeug still matches on If-None-Match.
- A request that another site started (Sec-Fetch-Site: cross-site) is answered uncompressed:
  with SameSite=Lax session cookies this keeps BREACH (guessing a page's secret from the
  compressed size of pages that reflect the attacker's input) out of reach.
"""
import gzip
import threading

from flask import Flask, request
from werkzeug.wrappers import Response

from app.assets import is_static

MIN_SIZE = 1024  # bytes; below this the gzip header and the extra work outweigh the gain
STATIC_LEVEL = 6  # static files are compressed once per version: zlib's default
PAGE_LEVEL = 1  # pages are compressed per answer: ~3x less CPU than 6 for ~12 % more bytes
TEXT_TYPES = frozenset({
    "text/html", "text/css", "text/plain", "text/javascript", "text/xml", "text/csv",
    "application/javascript", "application/json", "application/xml", "image/svg+xml",
})
STATIC_CACHE_FILES = 256  # compressed static files kept per process (ours and FAB's: ~60)

_static_cache: dict[tuple[str, str], bytes] = {}
_static_lock = threading.Lock()


def _static_file(response: Response) -> bool:
    return response.direct_passthrough and is_static(request.endpoint or "") \
        and response.status_code == 200


def _compressible(response: Response) -> bool:
    """What this answer is, whoever asks: a text type worth compressing and not yet encoded."""
    status = response.status_code
    if status < 200 or status in (204, 206, 304) or "Content-Encoding" in response.headers:
        return False
    if "Content-Range" in response.headers or response.mimetype not in TEXT_TYPES:
        return False
    if response.headers.get("Content-Disposition", "").startswith("attachment"):
        return False
    if response.is_sequence:
        return response.calculate_content_length() >= MIN_SIZE
    # streamed: a generator or a file (send_file); of files only static ones
    return _static_file(response) and (response.content_length or 0) >= MIN_SIZE


def _client_takes_gzip() -> bool:
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return False
    return request.accept_encodings["gzip"] > 0


def _static_body(response: Response) -> bytes:
    """A static file's compressed bytes, compressed once per path and version."""
    key = (request.path, response.get_etag()[0] or "")
    body = _static_cache.get(key)
    if body is None:
        data = b"".join(response.response)
        body = gzip.compress(data, compresslevel=STATIC_LEVEL, mtime=0)
        if key[1]:  # no ETag, no way to know the file did not change
            with _static_lock:
                if len(_static_cache) >= STATIC_CACHE_FILES:
                    _static_cache.clear()
                _static_cache[key] = body
    return body


def _compress(response: Response) -> Response:
    if response.direct_passthrough:  # a static file (_compressible)
        body = _static_body(response)
        close = getattr(response.response, "close", None)
        if close is not None:
            close()  # the file it was about to stream
        response.direct_passthrough = False
        etag, weak = response.get_etag()
        if etag and not weak:
            response.set_etag(etag, weak=True)
        response.headers.pop("Accept-Ranges", None)
    else:
        body = gzip.compress(response.get_data(), compresslevel=PAGE_LEVEL, mtime=0)
    response.set_data(body)
    response.headers["Content-Encoding"] = "gzip"
    return response


def register(app: Flask) -> None:
    @app.after_request
    def _gzip(response: Response) -> Response:
        if not _compressible(response):
            return response
        response.vary.add("Accept-Encoding")
        if not _client_takes_gzip():
            return response
        return _compress(response)
