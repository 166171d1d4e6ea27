"""Training plan rules: the phase of a plan, computed from its dates."""
import datetime as dt
from typing import Optional

from app.services import clock
from models.states import PlanPhase, PlanState
from models.training import TrainingPlan


def phase(plan: TrainingPlan, at: Optional[dt.datetime] = None) -> Optional[PlanPhase]:
    """Phase of an approved plan at `at` (default: the clock); None if not approved.

    Boundaries: the window is [enrol_start, enrol_end); training ends at the end of
    train_end's day.
    """
    if plan.review_state != PlanState.APPROVED.value:
        return None
    at = at or clock.now()
    if at < plan.enrol_start:
        return PlanPhase.NOT_OPEN
    if at < plan.enrol_end:
        return PlanPhase.ENROLLING
    if at.date() <= plan.train_end:
        return PlanPhase.ENROLMENT_CLOSED
    return PlanPhase.TRAINING_ENDED
