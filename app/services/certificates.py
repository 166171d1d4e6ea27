"""成绩报审 review and 培训证书: approving a score report makes a certificate for each trainee
who passed; anyone can look a certificate up by its number and the holder's name.

Certificate numbers: ``33`` (Zhejiang, GB/T 2260) + the year of issue + the occupation's code
(e.g. ``ZY001``) + a six-digit sequence per province, year and occupation, e.g.
``332026ZY001000042``. The sequence is one counter row per prefix, advanced by a single
``UPDATE ... RETURNING`` (so concurrent approvals get disjoint ranges), and the number is unique
in the database besides.
"""
import secrets
from typing import Any, Optional

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app import clock
from app.extensions import db
from app.rules import is_city_regulator_of
from app.services import N_, DomainError, Forbidden, InvalidState, NotFound, audit, inbox, scores
from app.services.transaction import after_commit, transactional
from models.assessment import Certificate, CertificateSequence, ScoreReport
from models.enrolment import Enrolment
from models.states import CertificateState, ScoreState

PROVINCE = "33"


def reviewable_report(report_id: int, reviewer: Any) -> ScoreReport:
    report = db.session.get(ScoreReport, report_id)
    if report is None:
        raise NotFound()
    plan = report.assessment.plan
    if not is_city_regulator_of(reviewer, plan.region_code):
        raise Forbidden(N_("Score reports are reviewed by the city authority of the plan's region."))
    if report.state != ScoreState.ACCEPTED.value:
        raise InvalidState(N_("This score report is not awaiting review."))
    return report


@transactional
def approve_scores(report_id: int, reviewer: Any) -> list[Certificate]:
    """已审核, and a certificate for everyone who passed, in one transaction."""
    report = reviewable_report(report_id, reviewer)
    scores.require_exam_ended(report.assessment, N_(
        "Scores can be approved only after the exam has ended (%(end)s)."))
    _move(report, ScoreState.APPROVED, None)
    passed = [score.enrolment for score in report.scores if score.passed]
    certificates = generate(passed)
    inbox.scores_approved(report)
    audit.record("scores.approve", report, after={
        "state": ScoreState.APPROVED.value, "certificates": [c.number for c in certificates]},
        region_code=report.assessment.plan.region_code)
    _push_later([c.id for c in certificates])
    return certificates


@transactional
def reject_scores(report_id: int, reviewer: Any, reason: str) -> ScoreReport:
    """未通过: the institution fixes the scores and imports them again."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(N_("Please give the reason the score report does not pass."))
    report = reviewable_report(report_id, reviewer)
    _move(report, ScoreState.REJECTED, reason[:256])
    entry = audit.record("scores.reject", report, after={"state": ScoreState.REJECTED.value,
                                                         "reason": reason[:256]},
                         region_code=report.assessment.plan.region_code)
    inbox.scores_returned(report, entry)
    return report


def _move(report: ScoreReport, target: ScoreState, reason: Optional[str]) -> None:
    moved = db.session.execute(
        update(ScoreReport)
        .where(ScoreReport.id == report.id, ScoreReport.state == ScoreState.ACCEPTED.value)
        .values(state=target.value, review_reason=reason, reviewed_at=clock.now())
        .execution_options(synchronize_session=False)).rowcount
    if not moved:
        raise InvalidState(N_("Someone reviewed this score report meanwhile; please look again."))
    db.session.refresh(report)


def generate(enrolments: list[Enrolment]) -> list[Certificate]:
    """Certificates (in the caller's transaction) for trainees who have none yet."""
    today, now = clock.today(), clock.now()
    certificates = []
    by_prefix: dict[str, list[Enrolment]] = {}
    for enrolment in enrolments:
        if db.session.scalar(select(Certificate.id).where(
                Certificate.enrolment_id == enrolment.id)) is None:
            prefix = f"{PROVINCE}{today:%Y}{enrolment.occupation.code}"
            by_prefix.setdefault(prefix, []).append(enrolment)
    for prefix, group in sorted(by_prefix.items()):
        numbers = _next_numbers(prefix, len(group))
        for enrolment, sequence in zip(group, numbers):
            certificate = Certificate(
                enrolment_id=enrolment.id, number=f"{prefix}{sequence:06d}", issued_on=today,
                occupation_id=enrolment.occupation_id, level_id=enrolment.level_id,
                holder_name=enrolment.person.name, state=CertificateState.GENERATED.value,
                verify_token=secrets.token_hex(16), created_at=now)
            db.session.add(certificate)
            certificates.append(certificate)
    db.session.flush()
    return certificates


def _next_numbers(prefix: str, count: int) -> range:
    """Reserve `count` consecutive sequence numbers under `prefix`."""
    last = _advance(prefix, count)
    if last is None:  # the first certificate under this prefix
        try:
            with db.session.begin_nested():
                db.session.add(CertificateSequence(prefix=prefix, last=0))
        except IntegrityError:
            pass  # another transaction made the counter first; the UPDATE below waits for it
        last = _advance(prefix, count)
    return range(last - count + 1, last + 1)


def _advance(prefix: str, count: int) -> Optional[int]:
    return db.session.execute(
        update(CertificateSequence).where(CertificateSequence.prefix == prefix)
        .values(last=CertificateSequence.last + count)
        .returning(CertificateSequence.last)
        .execution_options(synchronize_session=False)).scalar_one_or_none()


def _push_later(certificate_ids: list[int]) -> None:
    """Queue the push to the ministry once committed; the periodic task retries anything left."""
    from tasks.certificates import push_certificate

    for certificate_id in certificate_ids:
        after_commit(push_certificate, certificate_id)


def lookup(number: str, name: str) -> Optional[Certificate]:
    """The certificate with this number held by this name; None for any other combination."""
    number, name = (number or "").strip().upper(), (name or "").strip()
    if not number or not name:
        return None
    return db.session.scalars(select(Certificate).where(
        Certificate.number == number, Certificate.holder_name == name)).one_or_none()


def by_token(token: str) -> Certificate:
    certificate = db.session.scalars(select(Certificate).where(
        Certificate.verify_token == token)).one_or_none()
    if certificate is None:
        raise NotFound()
    return certificate


def verify_url(certificate: Certificate) -> str:
    return current_app.config["PUBLIC_BASE_URL"] + "/verify/certificate/" + certificate.verify_token

