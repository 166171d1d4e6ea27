"""What the README promises a new user on `make run`, walked through with the demo accounts."""
import datetime as dt

import pytest

from app.services import clock
from app.services.demo import APPROVED_USCC
from models.reference import Occupation, OccupationLevel
from tests.accounts_helpers import register
from tests.factories import dictionary_value, gen_uscc


@pytest.fixture
def demo(app, runner):
    assert runner.invoke(args=["setup", "--demo"]).exit_code == 0
    return app.config["DEMO_PASSWORD"]


def _signed_in(app, username, password):
    client = app.test_client()
    assert client.post("/login/", data={"username": username, "password": password}).status_code == 302
    return client


def test_register_get_approved_and_sign_in(app, demo):
    uscc = gen_uscc()
    _first, done = register(app.test_client(), uscc, mobile="13866667777")
    assert done.status_code == 302
    reviewer = _signed_in(app, "hz_jsj", demo)
    queue = reviewer.get("/review/enterprises/").get_data(as_text=True)
    assert uscc in queue
    from sqlalchemy import select

    from app.extensions import db
    from models.organisation import Enterprise

    enterprise_id = db.session.scalars(select(Enterprise.id).where(Enterprise.uscc == uscc)).one()
    reviewer.post(f"/review/enterprises/{enterprise_id}/approve")
    owner = _signed_in(app, uscc, "Secret@2026")
    assert "审核通过" in owner.get("/my/enterprise/").get_data(as_text=True)


def test_institution_publishes_a_plan_the_enterprise_can_enrol_in(app, demo):
    now = clock.now()
    institution = _signed_in(app, "hzjx", demo)
    form = {
        "occupation": dictionary_value(Occupation, "焊工").id,
        "level": dictionary_value(OccupationLevel, "三级/高级工").id,
        "quota": "25", "fee": "1200.00",
        "enrol_start": f"{now - dt.timedelta(hours=1):%Y-%m-%d %H:%M:%S}",
        "enrol_end": f"{now + dt.timedelta(days=10):%Y-%m-%d %H:%M:%S}",
        "train_start": f"{now.date() + dt.timedelta(days=12)}",
        "train_end": f"{now.date() + dt.timedelta(days=20)}",
        "venue": "杭州市焊接实训基地", "region": "330100", "contact": "王老师", "notes": "",
    }
    assert institution.post("/trainingplanview/add", data=form).status_code == 302
    listing = institution.get("/trainingplanview/list/").get_data(as_text=True)
    assert "杭州市焊接实训基地" in listing and "草稿" in listing
    from sqlalchemy import select

    from app.extensions import db
    from models.training import TrainingPlan

    plan_id = db.session.scalars(select(TrainingPlan.id)
                                 .where(TrainingPlan.venue == "杭州市焊接实训基地")).one()
    institution.post(f"/trainingplanview/submit/{plan_id}")
    enterprise = _signed_in(app, APPROVED_USCC, demo)
    assert "杭州市焊接实训基地" not in enterprise.get("/openplanview/list/").get_data(as_text=True)
    _signed_in(app, "hz_jsj", demo).post(f"/trainingplanview/approve/{plan_id}")
    page = enterprise.get("/openplanview/list/").get_data(as_text=True)
    assert "杭州市焊接实训基地" in page and "1200.00" in page
