"""A trainee's road after enrolment, as its enterprise follows it (已报名): training plan phase,
assessment plan state, score report state, certificate state — and the admission tickets."""
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.services import NotFound, scores
from app.services.plans import phase
from models.assessment import AdmissionTicket, AssessmentPlan, Certificate, Score, ScoreReport
from models.enrolment import Enrolment
from models.states import AssessmentState, CertificateState, EnrolmentState, PlanPhase, ScoreState
from models.training import TrainingPlan


@dataclass
class PlanProgress:
    plan: TrainingPlan
    trainees: int
    phase: Optional[PlanPhase]
    assessment: Optional[AssessmentPlan]

    @property
    def assessment_state(self) -> AssessmentState:
        return AssessmentState(self.assessment.state) if self.assessment else AssessmentState.DRAFT

    @property
    def score_state(self) -> ScoreState:
        return scores.state_of(self.assessment) if self.assessment else ScoreState.NOT_REPORTED

    @property
    def tickets_ready(self) -> bool:
        return self.assessment_state is AssessmentState.APPROVED


@dataclass
class TraineeProgress:
    enrolment: Enrolment
    ticket: Optional[AdmissionTicket]
    score: Optional[Score]
    certificate: Optional[Certificate]

    @property
    def certificate_state(self) -> CertificateState:
        if self.certificate is None:
            return CertificateState.NOT_GENERATED
        return CertificateState(self.certificate.state)


def plans_of(enterprise_id: int, plan_id: Optional[int] = None) -> list[PlanProgress]:
    """The plans the enterprise has live trainees in (or just `plan_id`), newest first."""
    query = (select(TrainingPlan, func.count(Enrolment.id))
             .join(Enrolment, Enrolment.plan_id == TrainingPlan.id)
             .where(Enrolment.enterprise_id == enterprise_id, Enrolment.status == EnrolmentState.LIVE.value)
             .group_by(TrainingPlan.id).order_by(TrainingPlan.train_start.desc())
             .options(selectinload(TrainingPlan.institution),  # the plans' names, by list
                      selectinload(TrainingPlan.occupation), selectinload(TrainingPlan.level)))
    if plan_id is not None:
        query = query.where(TrainingPlan.id == plan_id)
    rows = db.session.execute(query).all()
    assessments = {a.plan_id: a for a in db.session.scalars(select(AssessmentPlan).where(
        AssessmentPlan.plan_id.in_([plan.id for plan, _ in rows]))
        .options(selectinload(AssessmentPlan.score_report)))}
    return [PlanProgress(plan, count, phase(plan), assessments.get(plan.id)) for plan, count in rows]


def plan_of(plan_id: int, enterprise_id: int) -> PlanProgress:
    found = plans_of(enterprise_id, plan_id)
    if not found:
        raise NotFound()
    return found[0]


def trainees_of(plan_id: int, enterprise_id: int) -> list[TraineeProgress]:
    enrolments = list(db.session.scalars(
        select(Enrolment).where(Enrolment.plan_id == plan_id,
                                Enrolment.enterprise_id == enterprise_id,
                                Enrolment.status == EnrolmentState.LIVE.value).order_by(Enrolment.id)))
    ids = [e.id for e in enrolments]
    tickets = _by_enrolment(AdmissionTicket, ids)
    approved = {t.enrolment_id for t in tickets.values()
                if t.assessment.state == AssessmentState.APPROVED.value}
    scores = {s.enrolment_id: s for s in db.session.scalars(
        select(Score).join(ScoreReport).where(Score.enrolment_id.in_(ids),
                                              ScoreReport.state == ScoreState.APPROVED.value))}
    certificates = _by_enrolment(Certificate, ids)
    return [TraineeProgress(e, tickets.get(e.id) if e.id in approved else None, scores.get(e.id),
                            certificates.get(e.id)) for e in enrolments]


def _by_enrolment(model, ids):
    return {row.enrolment_id: row for row in db.session.scalars(
        select(model).where(model.enrolment_id.in_(ids)))} if ids else {}


def ticket_for(enrolment_id: int, user: Any) -> AdmissionTicket:
    """The enterprise's trainee's admission ticket, once the assessment plan is approved."""
    ticket = db.session.scalars(select(AdmissionTicket).where(
        AdmissionTicket.enrolment_id == enrolment_id)).one_or_none()
    if ticket is None or ticket.enrolment.enterprise_id != user.enterprise_id \
            or ticket.assessment.state != AssessmentState.APPROVED.value:
        raise NotFound()
    return ticket


def tickets_for(plan_id: int, user: Any) -> list[AdmissionTicket]:
    tickets = [t.ticket for t in trainees_of(plan_id, user.enterprise_id) if t.ticket]
    if not tickets:
        raise NotFound()
    return tickets
