"""Training plans (培训计划)."""
import datetime as dt
from decimal import Decimal
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    and_,
    case,
    literal,
    not_,
    select,
)
from sqlalchemy.ext.hybrid import hybrid_method, hybrid_property
from sqlalchemy.orm import Mapped, column_property, joinedload, mapped_column, relationship

from app import clock
from models.organisation import Institution
from models.reference import Occupation, OccupationLevel, Region
from models.scope import RowScope
from models.states import PlanPhase, PlanState


def _phase_steps(plan, at: dt.datetime) -> tuple:
    """The one definition of a plan's phase: (phase, holds) in order, the first that holds
    wins, else 培训结束. `plan` is a row (Python values) or the class (SQL expressions).

    Boundaries: the window is [enrol_start, enrol_end); training ends at the end of
    train_end's day.
    """
    return ((PlanPhase.NOT_OPEN, plan.enrol_start > at),
            (PlanPhase.ENROLLING, plan.enrol_end > at),
            (PlanPhase.ENROLMENT_CLOSED, plan.train_end >= at.date()))


def _published(model, _user):
    """Enterprises may read approved plans only."""
    return model.review_state == PlanState.APPROVED.value


class TrainingPlan(Model):
    __tablename__ = "training_plan"
    __table_args__ = (
        CheckConstraint("quota >= 1", name="ck_plan_quota_positive"),
        CheckConstraint("fee >= 0", name="ck_plan_fee_not_negative"),
        CheckConstraint(
            "seats_reserved >= 0 AND seats_paid >= 0 AND seats_reserved + seats_paid <= quota",
            name="ck_plan_seats_within_quota",
        ),
    )
    __row_scope__ = RowScope(
        enterprise=_published, institution="institution_id", region="region_code"
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("institution.id"), index=True, nullable=False
    )
    occupation_id: Mapped[int] = mapped_column(ForeignKey("dict_occupation.id"), nullable=False)
    level_id: Mapped[int] = mapped_column(ForeignKey("dict_occupation_level.id"), nullable=False)
    quota: Mapped[int] = mapped_column(Integer, nullable=False)
    fee: Mapped[Decimal] = mapped_column(Numeric(10, 2), nullable=False)
    enrol_start: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    enrol_end: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    train_start: Mapped[dt.date] = mapped_column(Date, nullable=False)
    train_end: Mapped[dt.date] = mapped_column(Date, nullable=False)
    venue: Mapped[str] = mapped_column(String(128), nullable=False)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True, nullable=False)
    contact: Mapped[Optional[str]] = mapped_column(String(64))
    notes: Mapped[Optional[str]] = mapped_column(Text)
    review_state: Mapped[str] = mapped_column(
        String(16), default=PlanState.DRAFT.value, index=True, nullable=False
    )
    review_reason: Mapped[Optional[str]] = mapped_column(String(256))
    seats_reserved: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    seats_paid: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)

    institution: Mapped[Institution] = relationship()
    occupation: Mapped[Occupation] = relationship()
    level: Mapped[OccupationLevel] = relationship()
    region: Mapped[Region] = relationship()

    def __str__(self) -> str:
        return f"{self.institution} · {self.occupation} · {self.level}"

    @classmethod
    def label_load(cls, *path) -> tuple:
        """Loader options for what __str__ reads: of plans, or of the plans at the end of
        the relationship `path` (one query for a list, not one per row)."""
        label = [joinedload(rel) for rel in (cls.institution, cls.occupation, cls.level)]
        if not path:
            return tuple(label)
        load = joinedload(path[0])
        for rel in path[1:]:
            load = load.joinedload(rel)
        return (load.options(*label),)

    @hybrid_property
    def seats_left(self) -> int:
        """The one definition of seats left, in Python and in SQL."""
        return self.quota - self.seats_reserved - self.seats_paid

    @hybrid_method
    def phase_at(self, at: dt.datetime) -> Optional[PlanPhase]:
        """Phase of an approved plan at `at`; None if not approved."""
        if self.review_state != PlanState.APPROVED.value:
            return None
        return next((phase for phase, holds in _phase_steps(self, at) if holds),
                    PlanPhase.TRAINING_ENDED)

    @phase_at.expression
    def phase_at(cls, at: dt.datetime):
        """The phase's value as SQL ('' if not approved)."""
        return case((cls.review_state != PlanState.APPROVED.value, literal("")),
                    *[(holds, literal(phase.value)) for phase, holds in _phase_steps(cls, at)],
                    else_=literal(PlanPhase.TRAINING_ENDED.value))

    @hybrid_method
    def in_phase(self, phase: PlanPhase, at: dt.datetime) -> bool:
        return self.phase_at(at) == phase

    @in_phase.expression
    def in_phase(cls, phase: PlanPhase, at: dt.datetime):
        """SQL for "approved and in `phase` at `at`", as plain comparisons an index can serve."""
        conditions = [cls.review_state == PlanState.APPROVED.value]
        for step, holds in _phase_steps(cls, at):
            if step == phase:
                conditions.append(holds)
                break
            conditions.append(not_(holds))
        return and_(*conditions)

    @property
    def enrol_window(self) -> str:
        return f"{self.enrol_start:%Y-%m-%d %H:%M} ~ {self.enrol_end:%Y-%m-%d %H:%M}"

    @property
    def training_dates(self) -> str:
        return f"{self.train_start:%Y-%m-%d} ~ {self.train_end:%Y-%m-%d}"

    @property
    def review_state_label(self) -> str:
        return PlanState(self.review_state).label

    @property
    def phase_label(self) -> str:
        """The plan's phase now (blank unless approved)."""
        current = self.phase_at(clock.now())
        return current.label if current else ""


def plan_search_text(plan_id) -> tuple:
    """Two text columns to search rows of a plan by, its institution's name and its occupation's
    name: deferred subqueries, read only in a list filter's WHERE (a text box, not a dropdown of
    every plan in scope). `plan_institution, plan_occupation = plan_search_text(plan_id)` in the
    body of a model with a `plan_id` column."""
    def name_of(related, key):
        return column_property(
            select(related.name)
            .where(TrainingPlan.id == plan_id, related.id == getattr(TrainingPlan, key))
            .correlate_except(TrainingPlan, related).scalar_subquery(), deferred=True)

    return name_of(Institution, "institution_id"), name_of(Occupation, "occupation_id")
