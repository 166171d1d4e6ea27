"""A finished training plan with paid trainees, and its assessment plan."""
import datetime as dt
import secrets

from app.extensions import db
from app.services import clock
from models.assessment import AssessmentPlan, Certificate
from models.enrolment import Enrolment
from models.states import AssessmentState, CertificateState
from tests.factories import gen_enterprise, gen_institution, gen_plan
from tests.order_factories import gen_order


def gen_finished_plan(institution=None, **fields):
    """An approved plan whose training ended yesterday (培训结束)."""
    today = clock.today()
    values = dict(enrol_start=dt.datetime.combine(today - dt.timedelta(days=60), dt.time(9)),
                  enrol_end=dt.datetime.combine(today - dt.timedelta(days=40), dt.time(9)),
                  train_start=today - dt.timedelta(days=30), train_end=today - dt.timedelta(days=1))
    values.update(fields)
    return gen_plan(institution or gen_institution(), **values)


def gen_paid_trainees(plan, n=3, enterprise=None) -> list[Enrolment]:
    """n trainees of one enterprise in a paid order of the plan."""
    order = gen_order(enterprise or gen_enterprise(), plan, n, state="paid",
                      created_at=dt.datetime.combine(plan.enrol_start.date(), dt.time(10)))
    return [item.enrolment for item in order.items]


def gen_assessment(plan, state: str = AssessmentState.APPROVED.value, **fields) -> AssessmentPlan:
    today = clock.today()
    values = dict(plan_id=plan.id, exam_start=dt.datetime.combine(today + dt.timedelta(days=7),
                                                                   dt.time(9)),
                  exam_end=dt.datetime.combine(today + dt.timedelta(days=7), dt.time(11, 30)),
                  venue="实训基地考场", theory_part="理论知识（闭卷笔试）",
                  practical_part="钢筋绑扎实操", theory_pass=60, practical_pass=60, state=state,
                  created_at=clock.now())
    values.update(fields)
    assessment = AssessmentPlan(**values)
    db.session.add(assessment)
    db.session.commit()
    return assessment


def gen_held_assessment(plan, state: str = AssessmentState.APPROVED.value,
                        **fields) -> AssessmentPlan:
    """An assessment whose exam ended an hour ago (scores may be imported and approved)."""
    now = clock.now()
    values = dict(exam_start=now - dt.timedelta(hours=3), exam_end=now - dt.timedelta(hours=1))
    values.update(fields)
    return gen_assessment(plan, state, **values)


def gen_certificate(enrolment, **fields) -> Certificate:
    values = dict(enrolment_id=enrolment.id, number=f"332026ZY001{secrets.randbelow(10**6):06d}",
                  issued_on=clock.today(), occupation_id=enrolment.occupation_id,
                  level_id=enrolment.level_id, holder_name=enrolment.person.name,
                  state=CertificateState.GENERATED.value, verify_token=secrets.token_hex(16),
                  created_at=clock.now())
    values.update(fields)
    certificate = Certificate(**values)
    db.session.add(certificate)
    db.session.commit()
    return certificate
