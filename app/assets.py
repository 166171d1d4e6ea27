"""Static files with versioned URLs and a year's cache: a page view revalidates nothing.

Every url_for() of a static file, ours and Flask-AppBuilder's (its templates and ours), gets
`?v=` and the digest of the file's content. A request that carries the file's current digest is
answered with a year's `Cache-Control: public, immutable`; a changed file has a new URL, so a
browser never keeps an old one. Without the digest (an old link, a font that a style sheet
names) the file is served as before, revalidated by its ETag.
"""
import hashlib
from pathlib import Path
from typing import Optional

from flask import Flask, request
from werkzeug.security import safe_join

STATIC_MAX_AGE = 365 * 24 * 3600  # seconds; the URL changes with the file
VERSION_ARG = "v"


def is_static(endpoint: str) -> bool:
    return endpoint == "static" or endpoint.endswith(".static")


def register(app: Flask) -> None:
    digests: dict[tuple[str, str], Optional[str]] = {}

    def folder(endpoint: str) -> Optional[str]:
        if endpoint == "static":
            return app.static_folder
        blueprint = app.blueprints.get(endpoint.rsplit(".", 1)[0])
        return blueprint.static_folder if blueprint is not None else None

    def digest(endpoint: str, filename: Optional[str]) -> Optional[str]:
        """The file's content digest, read once per process (every request in debug mode)."""
        key = (endpoint, filename or "")
        if key not in digests or app.debug:
            root = folder(endpoint)
            path = safe_join(root, filename) if root and filename else None
            try:
                digests[key] = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12] \
                    if path else None
            except OSError:
                digests[key] = None
        return digests[key]

    @app.url_defaults
    def _versioned(endpoint: str, values: dict) -> None:
        if is_static(endpoint) and VERSION_ARG not in values:
            version = digest(endpoint, values.get("filename"))
            if version:
                values[VERSION_ARG] = version

    @app.after_request
    def _cached(response):
        endpoint = request.endpoint or ""
        if is_static(endpoint) and response.status_code == 200:
            version = request.args.get(VERSION_ARG)
            if version and version == digest(endpoint, (request.view_args or {}).get("filename")):
                response.cache_control.public = True
                response.cache_control.max_age = STATIC_MAX_AGE
                response.cache_control.immutable = True
                response.cache_control.no_cache = None
        return response
