"""The REST API answers with the same row scope as the pages."""
import pytest

from app import scope
from tests.conftest import PASSWORD
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_regulator, gen_user


def _token(client, user):
    response = client.post("/api/v1/security/login", json={
        "username": user.username, "password": PASSWORD, "provider": "db"})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


@pytest.fixture
def world(app):
    hz, nb = gen_enterprise("330100", name="杭州甲"), gen_enterprise("330200", name="宁波乙")
    hz_plan = gen_plan(gen_institution("330100"), venue="杭州基地")
    nb_plan = gen_plan(gen_institution("330200"), venue="宁波基地", review_state="submitted")
    return {"hz": hz, "nb": nb, "hz_plan": hz_plan, "nb_plan": nb_plan}


def test_enterprise_token_reads_only_its_own_enterprise(app, client, world):
    headers = _token(client, gen_user(scope.ENTERPRISE, enterprise_id=world["hz"].id))
    listing = client.get("/api/v1/enterprise/", headers=headers).get_json()
    assert [row["name"] for row in listing["result"]] == ["杭州甲"]
    assert client.get(f"/api/v1/enterprise/{world['nb'].id}", headers=headers).status_code == 404
    plans = client.get("/api/v1/plan/", headers=headers).get_json()
    assert [row["venue"] for row in plans["result"]] == ["杭州基地"]  # approved plans only


def test_city_regulator_token_sees_its_city_only(app, client, world):
    headers = _token(client, gen_regulator("330100"))
    plans = client.get("/api/v1/plan/", headers=headers).get_json()
    assert [row["venue"] for row in plans["result"]] == ["杭州基地"]
    assert client.get(f"/api/v1/plan/{world['nb_plan'].id}", headers=headers).status_code == 404


def test_no_token_no_data(client, world):
    assert client.get("/api/v1/plan/").status_code == 401
