"""The one clock, and the plan phase computed from it."""
import datetime as dt

import pytest

from app import clock
from app.services.plans import phase
from models.states import PlanPhase
from tests.factories import gen_institution, gen_plan

T0 = dt.datetime(2026, 3, 1, 9, 0)


@pytest.fixture
def plan(app):
    return gen_plan(
        gen_institution(),
        enrol_start=T0,
        enrol_end=T0 + dt.timedelta(days=10),
        train_start=(T0 + dt.timedelta(days=15)).date(),
        train_end=(T0 + dt.timedelta(days=30)).date(),
    )


@pytest.mark.parametrize("at, expected", [
    (T0 - dt.timedelta(seconds=1), PlanPhase.NOT_OPEN),
    (T0, PlanPhase.ENROLLING),
    (T0 + dt.timedelta(days=10, seconds=-1), PlanPhase.ENROLLING),
    (T0 + dt.timedelta(days=10), PlanPhase.ENROLMENT_CLOSED),
    (dt.datetime(2026, 3, 31, 23, 59, 59), PlanPhase.ENROLMENT_CLOSED),
    (dt.datetime(2026, 4, 1, 0, 0), PlanPhase.TRAINING_ENDED),
])
def test_phase_at_each_boundary(plan, at, expected):
    assert phase(plan, at) == expected


def test_unapproved_plan_has_no_phase(app):
    assert phase(gen_plan(gen_institution(), review_state="submitted"), T0) is None


def test_phase_follows_the_clock(app, plan):
    app.config["CLOCK_FROZEN_AT"] = T0 + dt.timedelta(days=1)
    assert phase(plan) == PlanPhase.ENROLLING
    app.config["CLOCK_FROZEN_AT"] = T0 + dt.timedelta(days=40)
    assert phase(plan) == PlanPhase.TRAINING_ENDED
    assert plan.phase_label == "培训结束"


def test_offset_moves_now_forward(app):
    before = clock.now()
    app.config["CLOCK_OFFSET_SECONDS"] = 86400 * 30
    moved = clock.now()
    assert dt.timedelta(days=29, hours=23) < moved - before < dt.timedelta(days=30, minutes=1)
