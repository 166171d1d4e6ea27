"""`flask --app run setup --demo` and the other commands, as an operator runs them."""
import json

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.services.demo import DemoRefused, seed
from models.organisation import Enterprise, Institution
from models.training import TrainingPlan
from models.user import JianpeiUser


def _counts():
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Enterprise, Institution, TrainingPlan, JianpeiUser)}


def test_setup_demo_prints_one_account_per_role_and_is_idempotent(app, runner):
    first = runner.invoke(args=["setup", "--demo"])
    assert first.exit_code == 0, first.output
    for role in ("Admin", "Enterprise", "Institution", "CityRegulator", "ProvinceRegulator"):
        assert role in first.stdout
    counts = _counts()
    assert counts == {"Enterprise": 2, "Institution": 1, "TrainingPlan": 2, "JianpeiUser": 6}
    second = runner.invoke(args=["setup", "--demo"])
    assert second.exit_code == 0
    assert _counts() == counts
    assert second.stdout == first.stdout


def test_demo_accounts_reach_their_chinese_dashboards(app, runner):
    output = runner.invoke(args=["setup", "--demo"]).stdout
    expectations = {"admin": "培训机构", "hzjx": "培训计划", "hz_jsj": "待审核企业",
                    "zj_jst": "待审核企业"}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "Enterprise":
            expectations.setdefault(parts[1], "审核")
    assert len(expectations) == 6
    for username, text in expectations.items():
        client = app.test_client()
        response = client.post("/login/", data={"username": username,
                                                "password": app.config["DEMO_PASSWORD"]})
        assert response.status_code == 302, username
        page = client.get("/").get_data(as_text=True)
        assert text in page, username


def test_demo_world_has_the_promised_plans(app, runner):
    from app.services.plans import phase
    from models.states import PlanPhase

    runner.invoke(args=["setup", "--demo"])
    phases = sorted(phase(p).value for p in db.session.scalars(select(TrainingPlan)))
    assert phases == sorted([PlanPhase.ENROLLING.value, PlanPhase.TRAINING_ENDED.value])
    states = sorted(e.review_state for e in db.session.scalars(select(Enterprise)))
    assert states == ["approved", "pending"]
    from models.enrolment import Enrolment
    from models.orders import Order

    trainees = db.session.scalars(select(Enrolment)).all()
    assert len(trainees) == 6 and all(t.photos_complete for t in trainees)
    by_phase = {}
    for trainee in trainees:
        by_phase.setdefault(phase(trainee.plan).value, []).append(trainee)
    # Three ready for an order while enrolling; three paid in the finished plan, ready for
    # its assessment.
    assert all(t.order_id is None for t in by_phase[PlanPhase.ENROLLING.value])
    finished = by_phase[PlanPhase.TRAINING_ENDED.value]
    assert len(finished) == 3 and {t.order_id for t in finished} != {None}
    assert finished[0].plan.seats_paid == 3
    assert {t.order_id and db.session.get(Order, t.order_id).state for t in finished} == {"paid"}


def test_production_never_gets_demo_data(app):
    app.config["JIANPEI_ENV"] = "production"
    with pytest.raises(DemoRefused):
        seed()
    assert _counts()["Enterprise"] == 0


def test_sync_roles_reports_json_alone_on_stdout(app, runner):
    result = runner.invoke(args=["sync-roles"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"changed_roles": []}


def test_tasks_ping_runs_a_task(app, runner):
    result = runner.invoke(args=["tasks", "ping"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["audit_id"] > 0
