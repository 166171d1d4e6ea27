"""After training: assessment plans (考核计划), admission tickets (准考证), score reports
(成绩报审) and certificates (培训证书), and what the built-in ministry receiver keeps."""
import datetime as dt
from decimal import Decimal
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.enrolment import Enrolment, _institution_plans, _region_plans
from models.reference import Occupation, OccupationLevel
from models.scope import RowScope
from models.states import AssessmentState, CertificateState, ScoreState
from models.training import TrainingPlan, plan_search_text


def _enterprise_plans(model, user):
    """Enterprises read the assessment of plans they have trainees in."""
    return model.plan_id.in_(select(Enrolment.plan_id).where(
        Enrolment.enterprise_id == user.enterprise_id))


class AssessmentPlan(Model):
    """The exam of a finished training plan; one per plan."""

    __tablename__ = "assessment_plan"
    __table_args__ = (
        CheckConstraint("theory_pass BETWEEN 0 AND 100", name="ck_assessment_theory_pass"),
        CheckConstraint("practical_pass BETWEEN 0 AND 100", name="ck_assessment_practical_pass"),
        CheckConstraint("exam_end > exam_start", name="ck_assessment_exam_window"),
    )
    __row_scope__ = RowScope(enterprise=_enterprise_plans, institution=_institution_plans,
                             region=_region_plans)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("training_plan.id"), unique=True, nullable=False)
    exam_start: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    exam_end: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    venue: Mapped[str] = mapped_column(String(128), nullable=False)
    theory_part: Mapped[str] = mapped_column(String(256), nullable=False)
    practical_part: Mapped[str] = mapped_column(String(256), nullable=False)
    theory_pass: Mapped[int] = mapped_column(Integer, default=60, nullable=False)
    practical_pass: Mapped[int] = mapped_column(Integer, default=60, nullable=False)
    state: Mapped[str] = mapped_column(String(16), default=AssessmentState.DRAFT.value, index=True,
                                       nullable=False)
    review_reason: Mapped[Optional[str]] = mapped_column(String(256))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    reported_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    reviewed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)

    plan: Mapped[TrainingPlan] = relationship()
    score_report: Mapped[Optional["ScoreReport"]] = relationship(back_populates="assessment",
                                                                 uselist=False)

    # Text to search assessment plans by (views/assessment.py: a list's filter, not a dropdown
    # of every training plan in scope); read only in a WHERE clause, never loaded.
    plan_institution, plan_occupation = plan_search_text(plan_id)

    def __str__(self) -> str:
        return f"{self.plan} · {self.exam_start:%Y-%m-%d}"

    @property
    def state_label(self) -> str:
        return AssessmentState(self.state).label

    @property
    def exam_time(self) -> str:
        return f"{self.exam_start:%Y-%m-%d %H:%M} ~ {self.exam_end:%H:%M}"


class AdmissionTicket(Model):
    """准考证 of a paid trainee, made when the assessment plan is approved."""

    __tablename__ = "admission_ticket"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment_plan.id"), index=True,
                                               nullable=False)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id"), unique=True,
                                              nullable=False)
    number: Mapped[str] = mapped_column(String(20), unique=True, nullable=False)
    verify_token: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)

    assessment: Mapped[AssessmentPlan] = relationship()
    enrolment: Mapped[Enrolment] = relationship()


class ScoreReport(Model):
    """成绩报审 of an assessment plan: imported (and so reported), then reviewed."""

    __tablename__ = "score_report"
    __row_scope__ = RowScope(
        institution=lambda model, user: model.assessment_id.in_(
            select(AssessmentPlan.id).where(_institution_plans(AssessmentPlan, user))),
        region=lambda model, user: model.assessment_id.in_(
            select(AssessmentPlan.id).where(_region_plans(AssessmentPlan, user))),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment_plan.id"), unique=True,
                                               nullable=False)
    state: Mapped[str] = mapped_column(String(16), default=ScoreState.ACCEPTED.value, index=True,
                                       nullable=False)
    review_reason: Mapped[Optional[str]] = mapped_column(String(256))
    filename: Mapped[Optional[str]] = mapped_column(String(255))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    reviewed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)

    assessment: Mapped[AssessmentPlan] = relationship(back_populates="score_report")
    scores: Mapped[list["Score"]] = relationship(back_populates="report",
                                                 order_by="Score.id",
                                                 cascade="all, delete-orphan")

    @property
    def state_label(self) -> str:
        return ScoreState(self.state).label


class Score(Model):
    __tablename__ = "score"
    __table_args__ = (
        CheckConstraint("theory BETWEEN 0 AND 100 AND practical BETWEEN 0 AND 100",
                        name="ck_score_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("score_report.id"), index=True,
                                           nullable=False)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id"), unique=True,
                                              nullable=False)
    theory: Mapped[Decimal] = mapped_column(Numeric(5, 1), nullable=False)
    practical: Mapped[Decimal] = mapped_column(Numeric(5, 1), nullable=False)
    passed: Mapped[bool] = mapped_column(Boolean, nullable=False)

    report: Mapped[ScoreReport] = relationship(back_populates="scores")
    enrolment: Mapped[Enrolment] = relationship()


class Certificate(Model):
    """培训证书 of a trainee who passed. Number: see app/services/certificates.py."""

    __tablename__ = "certificate"
    __row_scope__ = RowScope(
        enterprise=lambda model, user: model.enrolment_id.in_(
            select(Enrolment.id).where(Enrolment.enterprise_id == user.enterprise_id)),
        institution=lambda model, user: model.enrolment_id.in_(
            select(Enrolment.id).where(_institution_plans(Enrolment, user))),
        region=lambda model, user: model.enrolment_id.in_(
            select(Enrolment.id).where(_region_plans(Enrolment, user))),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id"), unique=True,
                                              nullable=False)
    number: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    issued_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    occupation_id: Mapped[int] = mapped_column(ForeignKey("dict_occupation.id"), nullable=False)
    level_id: Mapped[int] = mapped_column(ForeignKey("dict_occupation_level.id"), nullable=False)
    holder_name: Mapped[str] = mapped_column(String(32), index=True, nullable=False)
    state: Mapped[str] = mapped_column(String(16), default=CertificateState.GENERATED.value,
                                       index=True, nullable=False)
    verify_token: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    pushed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    push_attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)

    enrolment: Mapped[Enrolment] = relationship()
    occupation: Mapped[Occupation] = relationship()
    level: Mapped[OccupationLevel] = relationship()

    def __str__(self) -> str:
        return self.number

    @property
    def state_label(self) -> str:
        return CertificateState(self.state).label


class CertificateSequence(Model):
    """The last certificate sequence number per (province, year, occupation)."""

    __tablename__ = "certificate_sequence"

    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
