"""`flask --app run setup --demo` and the other commands, as an operator runs them."""
import json

import pytest
from sqlalchemy import func, select

import config
from app.extensions import db
from app.services.demo import APPROVED_USCC, PENDING_USCC, DemoRefused, seed
from models.organisation import Enterprise, Institution
from models.training import TrainingPlan
from models.user import JianpeiUser


def _counts():
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Enterprise, Institution, TrainingPlan, JianpeiUser)}


README_ACCOUNTS = {"admin": "Admin", APPROVED_USCC: "Enterprise", PENDING_USCC: "Enterprise",
                   "hzjx": "Institution", "hz_jsj": "CityRegulator", "zj_jst": "ProvinceRegulator"}


def _printed(output: str) -> dict[str, str]:
    """username -> role of each account line `setup --demo` printed."""
    found = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] == config.DEMO_PASSWORD:
            found[parts[1]] = parts[0]
    return found


def test_setup_demo_prints_one_account_per_role_and_is_idempotent(app, runner):
    first = runner.invoke(args=["setup", "--demo"])
    assert first.exit_code == 0, first.output
    printed = _printed(first.stdout)
    assert printed.items() >= README_ACCOUNTS.items()  # README's six, first
    assert list(printed)[:6] == list(README_ACCOUNTS)
    counts = _counts()
    assert counts["JianpeiUser"] == len(printed)
    second = runner.invoke(args=["setup", "--demo"])
    assert second.exit_code == 0
    assert _counts() == counts
    assert second.stdout == first.stdout


def test_demo_accounts_reach_their_chinese_dashboards(app, runner):
    printed = _printed(runner.invoke(args=["setup", "--demo"]).stdout)
    expectations = {"admin": "培训机构", "hzjx": "培训计划", "hz_jsj": "待审核企业",
                    "zj_jst": "待审核企业", APPROVED_USCC: "审核", PENDING_USCC: "审核",
                    # one of each kind of the other cities' accounts
                    "nbjx": "培训计划", "nb_jsj": "待审核企业", "91330200MA22JP001P": "审核"}
    assert set(expectations) <= set(printed)
    for username, text in expectations.items():
        client = app.test_client()
        response = client.post("/login/", data={"username": username,
                                                "password": app.config["DEMO_PASSWORD"]})
        assert response.status_code == 302, username
        page = client.get("/").get_data(as_text=True)
        assert text in page, username


def test_demo_world_has_the_promised_plans(app, runner):
    """README: hzjx has one plan 报名中 and one 培训结束; the approved enterprise three trainees
    with photos in the first, ready for an order, and three paid in the second."""
    from app.services.plans import phase
    from models.enrolment import Enrolment
    from models.orders import Order
    from models.states import PlanPhase

    runner.invoke(args=["setup", "--demo"])
    hzjx = db.session.scalars(select(JianpeiUser).where(JianpeiUser.username == "hzjx")).one()
    plans = db.session.scalars(select(TrainingPlan).where(
        TrainingPlan.institution_id == hzjx.institution_id)).all()
    assert sorted(phase(p).value for p in plans) == sorted(
        [PlanPhase.ENROLLING.value, PlanPhase.TRAINING_ENDED.value])
    approved, pending = (db.session.scalars(select(Enterprise).where(Enterprise.uscc == uscc)).one()
                         for uscc in (APPROVED_USCC, PENDING_USCC))
    assert (approved.review_state, pending.review_state) == ("approved", "pending")

    trainees = db.session.scalars(select(Enrolment).where(
        Enrolment.enterprise_id == approved.id)).all()
    assert len(trainees) == 6 and all(t.photos_complete for t in trainees)
    assert {t.plan_id for t in trainees} == {p.id for p in plans}
    assert db.session.scalar(select(func.count()).select_from(Enrolment).where(
        Enrolment.enterprise_id == pending.id)) == 0
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
    # Only its own trainees are in hzjx's plans: the history is another institution's.
    assert db.session.scalar(select(func.count()).select_from(Enrolment).where(
        Enrolment.plan_id.in_([p.id for p in plans]))) == 6


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
