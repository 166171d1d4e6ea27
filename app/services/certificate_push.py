"""Pushing generated certificates (已生成未推送) to the ministry's system (证书已推送).

A push first claims the certificate with a conditional UPDATE of `push_attempts` (the
attempt counter doubles as a version), commits, and only then calls the ministry: no
transaction is open during the call, and of two runs that listed the same certificate
only one sends it. A run that lists it while another's call is under way may send it
again; the ministry's Idempotency-Key (the certificate number) absorbs that. A failure
keeps the certificate generated with its last error, and the next run tries again.
"""
import logging
from typing import Any, Optional

from flask_babel import gettext
from sqlalchemy import select, update

from app import clock, scope
from app.extensions import db
from app.integrations import ministry
from app.services import N_, audit, inbox
from app.services.transaction import transactional
from models.assessment import Certificate
from models.states import CertificateState

log = logging.getLogger(__name__)

GENERATED, PUSHED = CertificateState.GENERATED.value, CertificateState.PUSHED.value
ERROR_LENGTH = 500
PUSHED_NOW, ALREADY, FAILED, DOWN = "pushed", "already", "failed", "down"
# What enterprises, institutions and regulators read of a failed push (the raw error, e.g.
# "[Errno 111] Connection refused", is for admins and the log): every run tries it again.
PUSH_FAILED = N_("Push failed; the system will retry automatically.")


def shown_error(raw: Optional[str], user: Any = None) -> str:
    """A certificate's last push error as `user` (default: the signed-in user) may read it."""
    if not raw:
        return ""
    user = scope.acting_user() if user is None else user
    if scope.primary_role(user) == scope.ADMIN:
        return raw
    return gettext(PUSH_FAILED)


def _unlocked(statement):
    """An UPDATE that leaves the session's objects alone (we expire them ourselves)."""
    return db.session.execute(statement.execution_options(synchronize_session=False))


def payload(certificate: Certificate) -> dict:
    """What the ministry records of a certificate; the ID number in full, as it requires."""
    person = certificate.enrolment.person
    plan = certificate.enrolment.plan
    return {
        "number": certificate.number,
        "holder_name": certificate.holder_name,
        "id_number": person.id_number,
        "gender": person.gender,
        "birth_date": person.birth_date.isoformat(),
        "occupation_code": certificate.occupation.code,
        "occupation_name": certificate.occupation.name,
        "level_code": certificate.level.code,
        "level_name": certificate.level.name,
        "issued_on": certificate.issued_on.isoformat(),
        "institution_name": plan.institution.name,
        "region_code": plan.region_code,
        "region_name": plan.region.name,
    }


def push_one(certificate_id: int) -> bool:
    """Push one certificate unless it is pushed already; True once it is at the ministry."""
    return _push(certificate_id) in (PUSHED_NOW, ALREADY)


def push_pending(limit: int = 500) -> dict:
    """Push generated certificates, oldest first; stop early while the ministry is down."""
    pending = _pending(limit)
    pushed = failed = 0
    for index, (certificate_id, attempts) in enumerate(pending):
        outcome = _push(certificate_id, attempts)
        pushed += outcome == PUSHED_NOW
        failed += outcome in (FAILED, DOWN)
        if outcome == DOWN:
            left = len(pending) - index - 1
            if left:
                log.warning("ministry unreachable: %s certificates left for the next run", left)
            return {"pushed": pushed, "failed": failed, "left": left}
    return {"pushed": pushed, "failed": failed, "left": 0}


def _pending(limit: int) -> list[tuple[int, int]]:
    """(id, push_attempts) of generated certificates, oldest first."""
    rows = db.session.execute(
        select(Certificate.id, Certificate.push_attempts)
        .where(Certificate.state == GENERATED)
        .order_by(Certificate.created_at, Certificate.id).limit(limit)).all()
    return [(row.id, row.push_attempts) for row in rows]


def _push(certificate_id: int, attempts: int | None = None) -> str:
    """Claim, send, record. `attempts` is push_attempts as listed (None: as read now).

    Three units of work on purpose: the claim is committed before the ministry is called,
    so no transaction stays open while it answers, and its answer is recorded after.
    """
    claim = _claim(certificate_id, attempts)
    if isinstance(claim, str):
        return claim
    data, region_code = claim
    try:
        answer = ministry.push(data)
    except ministry.MinistryError as error:
        message = str(error)[:ERROR_LENGTH]
        _record_failure(certificate_id, message)
        log.warning("certificate %s not pushed: %s", data["number"], message)
        return DOWN if error.transient else FAILED
    return _record_push(certificate_id, data, region_code, answer)


@transactional
def _claim(certificate_id: int, attempts: int | None) -> str | tuple[dict, str]:
    """The payload and region to send, once claimed; else the outcome (FAILED, ALREADY)."""
    # The conditional UPDATE decides: of two runs that read the same attempts, one claims.
    certificate = db.session.get(Certificate, certificate_id, populate_existing=True)
    if certificate is None:
        log.warning("certificate %s to push does not exist", certificate_id)
        return FAILED
    if certificate.state != GENERATED:
        return ALREADY
    data = payload(certificate)
    region_code = certificate.enrolment.plan.region_code
    seen = certificate.push_attempts if attempts is None else attempts
    claimed = _unlocked(update(Certificate).where(
        Certificate.id == certificate_id, Certificate.state == GENERATED,
        Certificate.push_attempts == seen)
        .values(push_attempts=Certificate.push_attempts + 1)).rowcount
    if not claimed:
        return ALREADY  # pushed meanwhile, or another run is pushing it now
    return data, region_code


@transactional
def _record_failure(certificate_id: int, message: str) -> None:
    _unlocked(update(Certificate).where(Certificate.id == certificate_id,
                                        Certificate.state == GENERATED)
              .values(last_error=message))


@transactional
def _record_push(certificate_id: int, data: dict, region_code: str, answer: dict) -> str:
    moved = _unlocked(update(Certificate).where(Certificate.id == certificate_id,
                                                Certificate.state == GENERATED)
                      .values(state=PUSHED, pushed_at=clock.now(), last_error=None)).rowcount
    if moved:
        certificate = db.session.get(Certificate, certificate_id, populate_existing=True)
        audit.record("certificate.push", certificate, after={
            "number": data["number"], "state": PUSHED, "ministry": answer.get("status")},
            region_code=region_code)
        inbox.certificate_pushed(certificate)
    db.session.expire_all()
    return PUSHED_NOW if moved else ALREADY
