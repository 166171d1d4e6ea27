"""The figures on each role's home page, always within the user's row scope."""
from dataclasses import dataclass
from typing import Any, Optional

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app import security
from app.extensions import db
from app.services.plans import may_enrol
from models.organisation import Enterprise, Institution
from models.states import PlanState, ReviewState
from models.training import TrainingPlan


@dataclass
class Card:
    label: Any
    value: Any
    endpoint: Optional[str] = None


def _count(model: type, user: Any, *conditions) -> int:
    query = (
        select(func.count())
        .select_from(model)
        .where(security.scope_clause(model, user), *conditions)
    )
    return db.session.scalar(query) or 0


def cards(user: Any) -> list[Card]:
    role = security.primary_role(user)
    plans = "TrainingPlanView.list"
    if role == security.ENTERPRISE:
        enterprise = user.enterprise
        return [
            Card(_l("Review state"), enterprise.review_state_label if enterprise else "-",
                 "MyEnterpriseView.info"),
            Card(_l("Plans open for enrolment"),
                 _count(TrainingPlan, user, may_enrol(user)), "OpenPlanView.list"),
        ]
    if role == security.INSTITUTION:
        return [
            Card(_l("Training plans"), _count(TrainingPlan, user), plans),
            Card(_l("Plans awaiting review"),
                 _count(TrainingPlan, user, TrainingPlan.review_state == PlanState.SUBMITTED.value),
                 plans),
        ]
    if role in (security.CITY_REGULATOR, security.PROVINCE_REGULATOR):
        return [
            Card(_l("Enterprises awaiting review"),
                 _count(Enterprise, user, Enterprise.review_state == ReviewState.PENDING.value,
                        Enterprise.reviewing_authority_id == user.authority_id),
                 "EnterpriseReviewView.queue"),
            Card(_l("Plans awaiting review"),
                 _count(TrainingPlan, user, TrainingPlan.review_state == PlanState.SUBMITTED.value),
                 plans),
            Card(_l("Enterprises"), _count(Enterprise, user), "EnterpriseView.list"),
            Card(_l("Training plans"), _count(TrainingPlan, user), plans),
        ]
    if role == security.ADMIN:
        return [
            Card(_l("Enterprises"), _count(Enterprise, user), "EnterpriseView.list"),
            Card(_l("Training institutions"), _count(Institution, user), "InstitutionView.list"),
            Card(_l("Training plans"), _count(TrainingPlan, user), plans),
        ]
    return []
