"""Issue 19: text answers go out gzip-compressed to a browser that takes gzip (app/compression.py);
files meant to be saved, and browsers that did not ask, get the bytes as they are."""
import gzip
import re

from app import scope
from tests.factories import gen_enterprise, gen_user
from tests.helpers import give_documents

GZIP = {"Accept-Encoding": "gzip, deflate, br"}
YEAR = 365 * 24 * 3600
ASSET = re.compile(r'href="(/static/[^"]+/bootstrap\.min\.css\?v=[0-9a-f]+)"')


def _signed_in(app, login_as):
    enterprise = gen_enterprise()
    client = app.test_client()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise.uscc, enterprise_id=enterprise.id))
    return client, enterprise


def _same_page(html: str) -> str:
    """The page without what changes on every request (script nonce, CSRF token)."""
    html = re.sub(r'nonce="[^"]*"', 'nonce=""', html)
    return re.sub(r'(csrf_token[^>]*value=|csrf-token" content=)"[^"]*"', r'\1""', html)


def test_a_page_comes_back_gzip_and_decodes_to_the_same_html(app, login_as):
    client, _ = _signed_in(app, login_as)
    plain = client.get("/orders/list/")
    packed = client.get("/orders/list/", headers=GZIP)
    assert plain.status_code == packed.status_code == 200
    assert packed.headers["Content-Encoding"] == "gzip"
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data) / 3
    html = gzip.decompress(packed.data).decode()
    assert "</html>" in html
    assert _same_page(html) == _same_page(plain.get_data(as_text=True))
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert packed.headers["Cache-Control"] == "no-store"  # still a signed-in page


def test_without_accept_encoding_the_page_is_plain(app, login_as):
    client, _ = _signed_in(app, login_as)
    for headers in ({}, {"Accept-Encoding": "identity"}, {"Accept-Encoding": "gzip;q=0"}):
        plain = client.get("/orders/list/", headers=headers)
        assert plain.status_code == 200
        assert "Content-Encoding" not in plain.headers
        assert "</html>" in plain.get_data(as_text=True)
        assert "Accept-Encoding" in plain.headers["Vary"]  # a cache must not mix the two


def test_a_request_another_site_started_is_answered_plain(client):
    answer = client.get("/login/", headers={**GZIP, "Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 200 and "Content-Encoding" not in answer.headers
    same = client.get("/login/", headers={**GZIP, "Sec-Fetch-Site": "same-origin"})
    assert same.headers["Content-Encoding"] == "gzip"


def test_small_answers_and_redirects_are_not_compressed(client):
    redirect = client.get("/orders/list/", headers=GZIP)  # not signed in: to the login page
    assert redirect.status_code == 302 and "Content-Encoding" not in redirect.headers


def test_xlsx_and_jpeg_downloads_are_not_recompressed(app, login_as):
    client, enterprise = _signed_in(app, login_as)
    sheet = client.get("/openplanview/roster-template.xlsx", headers=GZIP)
    assert sheet.status_code == 200 and sheet.data[:2] == b"PK"
    assert "Content-Encoding" not in sheet.headers
    give_documents(enterprise)
    photo = client.get(f"/documents/enterprise/{enterprise.id}/cns.jpg", headers=GZIP)
    assert photo.status_code == 200 and photo.data[:3] == b"\xff\xd8\xff"
    assert "Content-Encoding" not in photo.headers


def test_a_static_style_sheet_is_compressed_and_keeps_its_year_of_cache(client):
    url = ASSET.search(client.get("/login/").get_data(as_text=True)).group(1)
    plain = client.get(url)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    for _ in range(2):  # compressed once, then served from memory
        packed = client.get(url, headers=GZIP)
        assert packed.status_code == 200 and packed.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(packed.data) == plain.data
        assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data) / 3
        cache = packed.cache_control
        assert cache.public and cache.immutable and cache.max_age == YEAR
        assert "Accept-Encoding" in packed.headers["Vary"]
    etag, weak = packed.get_etag()
    assert weak and etag == plain.get_etag()[0]  # the same file, other bytes
    again = client.get(url, headers={**GZIP, "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304 and not again.data
