"""Two clerks import rosters with the same worker into one plan at the same moment."""
import datetime as dt
import threading

import pytest

from app import scope
from app.extensions import db
from app.services import enrolment, roster
from models.enrolment import Enrolment
from models.user import JianpeiUser
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_user
from tests.rosters import id_number, roster_bytes, row


def test_the_same_person_is_enrolled_once(app, monkeypatch):
    app.config["CLOCK_FROZEN_AT"] = dt.datetime(2026, 11, 28, 10, 0)
    plan = gen_plan(gen_institution(), enrol_start=dt.datetime(2026, 11, 20),
                    enrol_end=dt.datetime(2026, 12, 10))
    users = [gen_user(scope.ENTERPRISE, enterprise_id=gen_enterprise().id).id for _ in range(2)]
    shared = id_number()
    rosters = [roster_bytes([row(身份证号码=shared), row()]),
               roster_bytes([row(身份证号码=shared), row()])]

    # Both imports pass their checks before either writes: the database must decide.
    barrier = threading.Barrier(2, timeout=20)
    real_check = roster.check

    def check_then_wait(data, plan=None, today=None):
        report = real_check(data, plan, today)
        barrier.wait()
        return report

    monkeypatch.setattr(roster, "check", check_then_wait)
    outcomes = []

    def run(user_id, data):
        with app.app_context():
            user = db.session.get(JianpeiUser, user_id)
            try:
                enrolment.import_roster(plan.id, user, data, "r.xlsx")
                outcomes.append("imported")
            except enrolment.EnrolmentRefused as refused:
                outcomes.append(str(refused))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=args) for args in zip(users, rosters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == sorted(["imported", "表格中有人员刚刚已报名该培训计划，请重新检查表格。"])
    db.session.expire_all()
    live = db.session.scalars(db.select(Enrolment).where(Enrolment.status == "live")).all()
    assert len(live) == 2  # one roster, whole; the other, nothing
    assert len({e.enterprise_id for e in live}) == 1


@pytest.fixture(autouse=True)
def _no_frozen_leak(app):
    yield
    app.config.pop("CLOCK_FROZEN_AT", None)
