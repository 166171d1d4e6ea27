"""The organisations' inbox: in-app messages to an enterprise, an institution or an authority
about what needs them, written by one trigger per state change (below), in its transaction.

In-app messages without an SMS are message ids, always rendered in Chinese. An enterprise's
contact gets some by SMS as well: the text is the SMS template rendered (so the bell and the
phone say the same), and the SMS is sent by the minute task (`deliver_contact_sms`, from
app/services/notifications.py), never while a page waits.
"""
import json
import logging
from typing import Any, Optional

from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from app import clock
from app.extensions import db
from app.i18n import chinese
from app.integrations import sms
from app.services import N_, sms_templates
from app.services.transaction import transaction, transactional
from models.assessment import AdmissionTicket
from models.enrolment import Enrolment
from models.notifications import Message
from models.organisation import Enterprise
from models.states import CertificateState, ContactSmsState, ReviewState

log = logging.getLogger(__name__)


# Messages ------------------------------------------------------------------------------------

def post(key: str, text_msgid: str, *, enterprise: Optional[Enterprise] = None,
         institution_id: Optional[int] = None, authority_id: Optional[int] = None,
         link: Optional[str] = None, **params) -> Optional[Message]:
    """An in-app message (at most one per `key`), in the caller's transaction."""
    return _post(key, chinese(text_msgid, **params), enterprise=enterprise,
                 institution_id=institution_id, authority_id=authority_id, link=link)


def post_with_sms(key: str, purpose: str, *, enterprise: Enterprise, link: Optional[str] = None,
                  essential: bool = True, **params) -> Optional[Message]:
    """An in-app message to an enterprise whose contact also gets it by SMS (delivered by the
    minute task), unless it is informational and the enterprise opted out. Its text is the SMS
    template rendered, so the bell and the phone say the same."""
    values = sms_templates.params(purpose, params)
    sms_state = None
    if enterprise.contact_mobile:
        sms_state = (ContactSmsState.SKIPPED if (enterprise.sms_opt_out and not essential)
                     else ContactSmsState.QUEUED).value
    return _post(key, sms_templates.render(purpose, values), enterprise=enterprise, link=link,
                 sms_state=sms_state, sms_purpose=purpose,
                 sms_params=json.dumps(values, ensure_ascii=False))


def _post(key: str, text: str, *, enterprise: Optional[Enterprise] = None,
          institution_id: Optional[int] = None, authority_id: Optional[int] = None,
          link: Optional[str] = None, **sms_fields) -> Optional[Message]:
    if db.session.scalar(select(Message.id).where(Message.key == key)) is not None:
        return None
    message = Message(key=key[:128], enterprise_id=enterprise.id if enterprise else None,
                      institution_id=institution_id, authority_id=authority_id,
                      text=text, link=link, created_at=clock.now(), **sms_fields)
    try:
        with db.session.begin_nested():
            db.session.add(message)
    except IntegrityError:  # posted by a parallel transaction
        return None
    return message


def deliver_contact_sms() -> int:
    """The contact SMS of new messages, each claimed (committed) before the provider is called,
    as trainee notices are; returns how many were sent."""
    sent = 0
    for message_id in list(db.session.scalars(select(Message.id).where(
            Message.sms_state == ContactSmsState.QUEUED.value).order_by(Message.id))):
        message = db.session.get(Message, message_id)
        enterprise = db.session.get(Enterprise, message.enterprise_id)
        with transaction():  # the claim
            claimed = db.session.execute(
                update(Message).where(Message.id == message_id,
                                      Message.sms_state == ContactSmsState.QUEUED.value)
                .values(sms_state=ContactSmsState.SENDING.value,
                        sms_attempts=Message.sms_attempts + 1)
                .execution_options(synchronize_session=False)).rowcount
        if claimed and _finish_message(message_id, enterprise.contact_mobile) == ContactSmsState.SENT:
            sent += 1
    return sent


@transactional
def _finish_message(message_id: int, phone: str) -> str:
    """The contact SMS of one in-app message: sent, queued again (what can succeed later), or
    failed. A message from before templates has no purpose and is not sent."""
    message = db.session.get(Message, message_id)
    if not message.sms_purpose:
        message.sms_state = ContactSmsState.FAILED.value
        return ContactSmsState.FAILED.value
    try:
        with db.session.begin_nested():  # a failed hand-over leaves no message row behind
            sent = sms.send(phone, message.sms_purpose, json.loads(message.sms_params or "{}"))
    except Exception as error:  # noqa: BLE001 - recorded as failed, never half-sent
        db.session.execute(update(Message).where(Message.id == message_id)
                           .values(sms_state=ContactSmsState.FAILED.value))
        log.warning("SMS for message %s failed: %s", message_id, type(error).__name__)
        return ContactSmsState.FAILED.value
    if sent.state in sms.ACCEPTED:
        state = ContactSmsState.SENT.value
    else:
        retry = sent.state == "retry" and message.sms_attempts < current_app.config[
            "NOTIFY_RETRIES"]
        state = (ContactSmsState.QUEUED if retry else ContactSmsState.FAILED).value
    db.session.execute(update(Message).where(Message.id == message_id)
                       .values(sms_state=state, sms_message_id=sent.id))
    return state



def link_to(target: str, row_id: Optional[int] = None) -> str:
    """What a message opens: a page named in views/links.py, for a row; the view builds the
    URL when it shows the message."""
    return target if row_id is None else f"{target}:{row_id}"



# Reading ------------------------------------------------------------------------------------

def _mine(user: Any):
    clauses = []
    if getattr(user, "enterprise_id", None):
        clauses.append(Message.enterprise_id == user.enterprise_id)
    if getattr(user, "institution_id", None):
        clauses.append(Message.institution_id == user.institution_id)
    if getattr(user, "authority_id", None):
        clauses.append(Message.authority_id == user.authority_id)
    return or_(*clauses) if clauses else and_(False)


def latest(user: Any, limit: int = 100) -> list[Message]:
    return list(db.session.scalars(select(Message).where(_mine(user))
                                   .order_by(Message.created_at.desc(), Message.id.desc())
                                   .limit(limit)))


def unread(user: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(Message).where(
        _mine(user), Message.read_at.is_(None))) or 0


@transactional
def mark_read(user: Any) -> None:
    db.session.execute(update(Message).where(_mine(user), Message.read_at.is_(None))
                       .values(read_at=clock.now()).execution_options(synchronize_session=False))



# Triggers: one call from each state change, in its transaction --------------------------------

def _key(prefix: str, entry) -> str:
    """A key unique to this state change: the audit entry that records it."""
    db.session.flush()
    return f"{prefix}:{entry.id}"


def _authority_of(region_code: str) -> Optional[int]:
    from app.rules import supervising_authority
    from models.reference import Authority

    return db.session.scalar(select(Authority.id).where(supervising_authority(region_code)))


def enterprise_reviewed(enterprise: Enterprise, entry) -> None:
    if enterprise.review_state == ReviewState.APPROVED:
        purpose, extra = "review_approved", {}
    else:
        purpose, extra = "review_rejected", {"reason": enterprise.review_reason or "—"}
    post_with_sms(_key("enterprise.review", entry), purpose, enterprise=enterprise,
                  link=link_to("my_enterprise"), name=enterprise.name, **extra)


def enterprise_pending(enterprise: Enterprise, entry) -> None:
    post(_key("enterprise.pending", entry), N_("%(name)s is waiting for registration review."),
         authority_id=enterprise.reviewing_authority_id,
         link=link_to("enterprise_review"), name=enterprise.name)


def plan_submitted(plan, entry) -> None:
    post(_key("plan.submitted", entry), N_("Training plan %(plan)s is waiting for review."),
         authority_id=_authority_of(plan.region_code),
         link=link_to("plan", plan.id), plan=str(plan))


def assessment_reported(assessment, entry) -> None:
    post(_key("assessment.reported", entry),
         N_("Assessment plan of %(plan)s is waiting for review."),
         authority_id=_authority_of(assessment.plan.region_code),
         link=link_to("assessment_plan", assessment.id), plan=str(assessment.plan))


def assessment_returned(assessment, entry) -> None:
    post(_key("assessment.returned", entry),
         N_("Assessment plan of %(plan)s was returned: %(reason)s"),
         institution_id=assessment.plan.institution_id,
         link=link_to("assessment_plan", assessment.id), plan=str(assessment.plan),
         reason=assessment.review_reason or "")


def tickets_available(assessment) -> None:
    """Each enterprise with trainees in the exam hears that their tickets can be downloaded."""
    enterprises = db.session.scalars(select(Enterprise).join(
        Enrolment, Enrolment.enterprise_id == Enterprise.id).join(
        AdmissionTicket, AdmissionTicket.enrolment_id == Enrolment.id).where(
        AdmissionTicket.assessment_id == assessment.id).distinct()).all()
    for enterprise in enterprises:
        post_with_sms(f"tickets:{assessment.id}:{enterprise.id}", "tickets",
                      enterprise=enterprise,
                      link=link_to("enrolled_plan", assessment.plan_id),
                      occupation=assessment.plan.occupation.name, time=assessment.exam_time)


def scores_accepted(report) -> None:
    plan = report.assessment.plan
    post(f"scores.accepted:{report.id}:{report.imported_at:%Y%m%d%H%M%S}",
         N_("Scores of %(plan)s are waiting for review."),
         authority_id=_authority_of(plan.region_code),
         link=link_to("score_report", report.id), plan=str(plan))


def scores_returned(report, entry) -> None:
    plan = report.assessment.plan
    post(_key("scores.returned", entry), N_("Scores of %(plan)s did not pass review: %(reason)s"),
         institution_id=plan.institution_id,
         link=link_to("assessment_plan", report.assessment_id), plan=str(plan),
         reason=report.review_reason or "")


def scores_approved(report) -> None:
    plan = report.assessment.plan
    enterprises = db.session.scalars(select(Enterprise).join(
        Enrolment, Enrolment.enterprise_id == Enterprise.id).where(
        Enrolment.id.in_([score.enrolment_id for score in report.scores])).distinct()).all()
    for enterprise in enterprises:
        post_with_sms(f"scores.approved:{report.id}:{enterprise.id}", "scores",
                      enterprise=enterprise, link=link_to("enrolled_plan", plan.id),
                      essential=False, occupation=plan.occupation.name)


def invoice_issued(invoice) -> None:
    order = invoice.order
    post_with_sms(f"invoice:{invoice.number}", "invoice", enterprise=order.enterprise,
                  link=link_to("order", order.id), essential=False,
                  number=invoice.number, amount=f"{invoice.amount:.2f}",
                  order=order.out_trade_no)


def certificate_pushed(certificate) -> None:
    """When the last certificate of an enterprise in a plan is pushed, it hears once."""
    from models.assessment import Certificate

    enrolment = certificate.enrolment
    waiting = db.session.scalar(select(func.count()).select_from(Certificate).join(
        Enrolment, Enrolment.id == Certificate.enrolment_id).where(
        Enrolment.plan_id == enrolment.plan_id,
        Enrolment.enterprise_id == enrolment.enterprise_id,
        Certificate.state != CertificateState.PUSHED.value))
    if waiting:
        return
    pushed = db.session.scalar(select(func.count()).select_from(Certificate).join(
        Enrolment, Enrolment.id == Certificate.enrolment_id).where(
        Enrolment.plan_id == enrolment.plan_id,
        Enrolment.enterprise_id == enrolment.enterprise_id))
    post_with_sms(f"certificates:{enrolment.plan_id}:{enrolment.enterprise_id}", "certificates",
                  enterprise=enrolment.enterprise,
                  link=link_to("enrolled_plan", enrolment.plan_id), essential=False,
                  n=pushed, occupation=enrolment.occupation.name)

