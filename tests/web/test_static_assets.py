"""Issue 19: static files have versioned URLs and a year's cache, so that a page view does not
revalidate thirty files; a changed file gets a new URL."""
import re

from app import scope
from tests.factories import gen_enterprise, gen_user

ASSET = re.compile(r'(?:href|src)="(/static/[^"]+\.(?:css|js))(?:\?v=([0-9a-f]+))?"')
YEAR = 365 * 24 * 3600


def _assets(client, page: str = "/login/") -> list[tuple[str, str]]:
    response = client.get(page)
    assert response.status_code == 200, page
    return ASSET.findall(response.get_data(as_text=True))


def test_every_style_sheet_and_script_of_a_page_has_a_versioned_url(client):
    assets = _assets(client)
    assert any(url.endswith("/jianpei.css") for url, _ in assets)  # ours
    assert any(url.endswith("/bootstrap.min.css") for url, _ in assets)  # Flask-AppBuilder's
    assert [url for url, version in assets if not version] == []


def test_a_versioned_asset_is_cached_for_a_year_and_unversioned_revalidated(app, login_as):
    client = app.test_client()
    enterprise = gen_enterprise()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise.uscc, enterprise_id=enterprise.id))
    assets = _assets(client, "/")  # a signed-in page: pages themselves are never stored
    assert len(assets) >= 10
    for url, version in assets:
        response = client.get(f"{url}?v={version}")
        assert response.status_code == 200, url
        cache = response.cache_control
        assert cache.public and cache.immutable and cache.max_age == YEAR, url
        assert "no-store" not in response.headers.get("Cache-Control", "")
        stale = client.get(f"{url}?v=000000000000")  # an old version: revalidated, not kept
        assert stale.cache_control.max_age != YEAR and not stale.cache_control.immutable
        assert client.get(url).cache_control.max_age != YEAR


def test_a_changed_file_gets_a_new_url(app, tmp_path):
    from flask import url_for

    with app.test_request_context():
        before = url_for("static", filename="css/jianpei.css")
    sheet = tmp_path / "css" / "jianpei.css"
    sheet.parent.mkdir()
    sheet.write_text("body { color: #000; }")
    app.static_folder = str(tmp_path)
    app.debug = True  # digests are read again in debug mode (a file changes under it)
    try:
        with app.test_request_context():
            after = url_for("static", filename="css/jianpei.css")
    finally:
        app.debug = False
    assert before.split("?v=")[0] == after.split("?v=")[0] and before != after
