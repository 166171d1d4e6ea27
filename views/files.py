"""Stored files (photos, licences, workbooks) as responses; the storage itself only keeps
bytes (app/integrations/storage.py)."""
from flask import abort, send_file

from app.integrations.storage import content_type, storage


def send_stored(key, download_name=None, as_attachment=False):
    """A stored file as the response, or 404 if there is none.

    Served with the content type of what we stored under the key (pictures are re-encoded
    JPEGs); with the `nosniff` of every response (app/headers.py) no browser reads a picture
    or a workbook as a page.
    """
    if not key:
        abort(404)
    try:
        stored = storage().open(key)  # one round trip to S3, not a HEAD and then a GET
    except FileNotFoundError:
        abort(404)
    return send_file(stored, mimetype=content_type(key), download_name=download_name,
                     as_attachment=as_attachment, max_age=0)


def send_jpeg(key, download_name=None):
    """A stored picture as the response, or 404 if there is none."""
    return send_stored(key, download_name)
