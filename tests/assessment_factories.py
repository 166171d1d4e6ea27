"""A finished training plan with paid trainees, and its assessment plan."""
import datetime as dt
import secrets

from app import clock
from app.extensions import db
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


def gen_two_cities() -> dict:
    """A row of every row-scoped model in 杭州 (hz) and in 宁波 (nb), by name.

    Each city has an enterprise (E_), an institution (I_), an approved plan (P_) with its
    assessment (A_) and score report (R_), one paid trainee of its own enterprise (t_) with an
    order (o_), a certificate (c_) and a notice (n_), and an audit note (log_). Besides, hz's
    institution has a draft plan (P_hz_draft) and hz's enterprise a trainee in nb's plan
    (*_hz_in_nb), so that the enterprise, institution and region paths give different rows.
    """
    from app.services import audit
    from models.assessment import ScoreReport
    from models.notifications import TraineeNotice

    rows: dict = {}
    for city, code in (("hz", "330100"), ("nb", "330200")):
        rows[f"E_{city}"] = gen_enterprise(code, name=f"{city}企业有限公司")
        rows[f"I_{city}"] = gen_institution(code, name=f"{city}培训机构")
        rows[f"P_{city}"] = gen_plan(rows[f"I_{city}"], venue=f"{city}实训基地")
    rows["P_hz_draft"] = gen_plan(rows["I_hz"], review_state="draft", venue="草稿基地")
    for name, enterprise, plan in (("hz", "E_hz", "P_hz"), ("nb", "E_nb", "P_nb"),
                                   ("hz_in_nb", "E_hz", "P_nb")):
        order = gen_order(rows[enterprise], rows[plan], 1)
        rows[f"o_{name}"] = order
        rows[f"t_{name}"] = order.items[0].enrolment
        rows[f"c_{name}"] = gen_certificate(rows[f"t_{name}"])
        notice = TraineeNotice(enrolment_id=rows[f"t_{name}"].id, kind="training",
                               phone="13800138000", text="培训通知", send_after=clock.now(),
                               created_at=clock.now())
        db.session.add(notice)
        rows[f"n_{name}"] = notice
    for city in ("hz", "nb"):
        rows[f"A_{city}"] = assessment = gen_assessment(rows[f"P_{city}"])
        report = ScoreReport(assessment_id=assessment.id, state="accepted",
                             imported_at=clock.now())
        db.session.add(report)
        rows[f"R_{city}"] = report
        rows[f"log_{city}"] = audit.record("test.note", rows[f"E_{city}"])
    db.session.commit()
    return rows
