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
)
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from models.organisation import Institution
from models.reference import Occupation, OccupationLevel, Region
from models.scope import RowScope
from models.states import PlanState


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

    @property
    def seats_left(self) -> int:
        return self.quota - self.seats_reserved - self.seats_paid

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
        from app.services.plans import phase

        current = phase(self)
        return current.label if current else ""
