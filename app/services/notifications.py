"""Notifications. Trainees get SMS from their enterprise (training start, exam); organisations
get in-app messages for what needs them, and an enterprise's contact an SMS as well.

Texts are message ids whose Chinese lives in translations/zh_CN, always rendered in Chinese
(an SMS does not follow the sender's UI language). Nothing here sends while a page waits:
messages and notices are rows, delivered by tasks (`deliver_due` every minute, and one task per
trainee notice) through the SMS backend; a failed send is retried and ends as failed.
Quiet hours hold trainee SMS until morning; each phone has a daily cap.
"""
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Optional

from flask import current_app, url_for
from flask_babel import force_locale, gettext
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.integrations import sms
from app.services import N_, DomainError, NotFound, clock
from app.services.codes import mask_mobile
from models.accounts import SmsMessage
from models.assessment import AdmissionTicket, AssessmentPlan
from models.enrolment import Enrolment
from models.notifications import Message, TraineeNotice
from models.organisation import Enterprise
from models.states import AssessmentState

log = logging.getLogger(__name__)

TRAINEE_TEXTS = {
    "training": N_("[Jianpei] %(name)s: your %(occupation)s (%(level)s) training starts on "
                   "%(start)s at %(venue)s. Training institution: %(institution)s, contact: "
                   "%(contact)s. Please be on time."),
    "exam": N_("[Jianpei] %(name)s: your %(occupation)s (%(level)s) exam is on %(time)s at "
               "%(venue)s, admission ticket %(ticket)s. Bring your ID card and the ticket and "
               "arrive 30 minutes early."),
}


class NoticeRefused(DomainError):
    message = N_("The notice was not sent.")


class NeedsConfirmation(DomainError):
    message = N_("Some trainees already received this notice; confirm to send it again.")

    def __init__(self, names: list[str]):
        super().__init__()
        self.names = names


def chinese(msgid: str, **params) -> str:
    with force_locale("zh_CN"):
        return gettext(msgid, **params)


# Trainee notices ------------------------------------------------------------------------------

@dataclass
class Preview:
    enrolment: Enrolment
    text: Optional[str]  # None: cannot be sent (reason says why)
    reason: Optional[str]
    already: int  # notices of this kind sent or queued before

    @property
    def masked_mobile(self) -> str:
        return mask_mobile(self.enrolment.person.mobile)


def _own_enrolments(user: Any, enrolment_ids: list[int]) -> list[Enrolment]:
    """The user's enterprise's live trainees among these ids; any other id is NotFound."""
    ids = sorted({int(i) for i in enrolment_ids})
    if not ids:
        raise NoticeRefused(N_("Choose at least one trainee."))
    found = list(db.session.scalars(select(Enrolment).where(
        Enrolment.id.in_(ids), Enrolment.enterprise_id == user.enterprise_id,
        Enrolment.status == "live").order_by(Enrolment.id)))
    if len(found) != len(ids):
        raise NotFound()
    return found


def compose(kind: str, enrolment: Enrolment) -> tuple[Optional[str], Optional[str]]:
    """(text, None), or (None, why this trainee cannot get this notice)."""
    person, plan = enrolment.person, enrolment.plan
    common = dict(name=person.name, occupation=enrolment.occupation.name,
                  level=enrolment.level.name)
    if kind == "training":
        return chinese(TRAINEE_TEXTS["training"], start=f"{plan.train_start:%Y-%m-%d}",
                       venue=plan.venue, institution=plan.institution.name,
                       contact=plan.contact or plan.institution.name, **common), None
    if kind == "exam":
        ticket = db.session.scalars(select(AdmissionTicket).join(AssessmentPlan).where(
            AdmissionTicket.enrolment_id == enrolment.id,
            AssessmentPlan.state == AssessmentState.APPROVED.value)).one_or_none()
        if ticket is None:
            return None, gettext("No admission ticket yet.")
        exam = ticket.assessment
        return chinese(TRAINEE_TEXTS["exam"], time=exam.exam_time, venue=exam.venue,
                       ticket=ticket.number, **common), None
    raise NoticeRefused(N_("Unknown kind of notice."))


def preview(user: Any, enrolment_ids: list[int], kind: str) -> list[Preview]:
    """Exactly what `send` would send, trainee by trainee."""
    if kind not in TRAINEE_TEXTS:
        raise NoticeRefused(N_("Unknown kind of notice."))
    enrolments = _own_enrolments(user, enrolment_ids)
    before = dict(db.session.execute(
        select(TraineeNotice.enrolment_id, func.count()).where(
            TraineeNotice.enrolment_id.in_([e.id for e in enrolments]),
            TraineeNotice.kind == kind, TraineeNotice.state != "failed")
        .group_by(TraineeNotice.enrolment_id)).tuples().all())
    items = []
    for enrolment in enrolments:
        text, reason = compose(kind, enrolment)
        items.append(Preview(enrolment, text, reason, before.get(enrolment.id, 0)))
    return items


def send(user: Any, enrolment_ids: list[int], kind: str, confirm_repeat: bool = False) -> int:
    """Queue the previewed notices; a repeat needs `confirm_repeat`. Returns how many."""
    items = [item for item in preview(user, enrolment_ids, kind) if item.text]
    repeats = [item.enrolment.person.name for item in items if item.already]
    if repeats and not confirm_repeat:
        raise NeedsConfirmation(repeats)
    if not items:
        raise NoticeRefused(N_("None of these trainees can get this notice yet."))
    now = clock.now()
    send_after = next_send_time(now)
    notices = [TraineeNotice(enrolment_id=item.enrolment.id, kind=kind,
                             phone=item.enrolment.person.mobile, text=item.text,
                             state="queued", send_after=send_after, created_at=now,
                             created_by=user.id) for item in items]
    db.session.add_all(notices)
    db.session.commit()
    from tasks.notifications import deliver_notice

    for notice in notices:
        if send_after <= now:
            deliver_notice(notice.id)
        else:
            deliver_notice.schedule((notice.id,), eta=_utc(send_after))
    return len(notices)


def next_send_time(at: dt.datetime) -> dt.datetime:
    """`at`, or 08:00 if `at` falls in the quiet hours (22:00-08:00)."""
    start, end = current_app.config["SMS_QUIET_HOURS"]
    if at.hour >= start:
        return dt.datetime.combine(at.date() + dt.timedelta(days=1), dt.time(end))
    if at.hour < end:
        return dt.datetime.combine(at.date(), dt.time(end))
    return at


def _utc(local: dt.datetime) -> dt.datetime:
    """huey schedules in UTC; our clock is China Standard Time (and may be offset)."""
    offset = clock.now() - dt.datetime.utcnow().replace(microsecond=0)
    return local - offset


def deliver_notice(notice_id: int) -> str:
    """Send one queued trainee notice now if its time has come; returns its state."""
    notice = db.session.get(TraineeNotice, notice_id)
    if notice is None or notice.state != "queued":
        return notice.state if notice else "missing"
    now = clock.now()
    later = max(next_send_time(now), notice.send_after)
    if later > now:
        return "queued"
    if _sent_today(notice.phone, now) >= current_app.config["SMS_DAILY_CAP"]:
        _defer(notice, gettext("Daily limit for this phone reached; it goes out tomorrow."))
        return "queued"
    claimed = db.session.execute(
        update(TraineeNotice).where(TraineeNotice.id == notice.id,
                                    TraineeNotice.state == "queued")
        .values(attempts=TraineeNotice.attempts + 1, state="sending")
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if not claimed:
        return "sending"
    return _finish(notice.id)


def _sent_today(phone: str, now: dt.datetime) -> int:
    start = dt.datetime.combine(now.date(), dt.time())
    return db.session.scalar(select(func.count()).select_from(SmsMessage).where(
        SmsMessage.phone == phone, SmsMessage.created_at >= start)) or 0


def _defer(notice: TraineeNotice, why: str) -> None:
    tomorrow = dt.datetime.combine(clock.today() + dt.timedelta(days=1),
                                   dt.time(current_app.config["SMS_QUIET_HOURS"][1]))
    notice.send_after, notice.last_error = tomorrow, why[:256]
    db.session.commit()


def _finish(notice_id: int) -> str:
    """Hand a claimed notice to the SMS backend: sent; or queued again for the minute task to
    retry; or failed after NOTIFY_RETRIES attempts."""
    notice = db.session.get(TraineeNotice, notice_id)
    try:
        sms.backend().send(notice.phone, notice.text, "trainee_notice")
    except Exception as error:  # noqa: BLE001 - any provider failure is retried, then recorded
        db.session.rollback()
        notice = db.session.get(TraineeNotice, notice_id)
        final = notice.attempts >= current_app.config["NOTIFY_RETRIES"]
        notice.state, notice.last_error = ("failed" if final else "queued"), str(error)[:256]
        db.session.commit()
        log.warning("SMS to %s failed (attempt %s): %s", mask_mobile(notice.phone),
                    notice.attempts, error)
        return notice.state
    notice.state, notice.sent_at = "sent", clock.now()
    db.session.commit()
    return "sent"


def notices_of(enrolment_id: int) -> list[TraineeNotice]:
    return list(db.session.scalars(select(TraineeNotice).where(
        TraineeNotice.enrolment_id == enrolment_id).order_by(TraineeNotice.created_at.desc(),
                                                              TraineeNotice.id.desc())))


# Messages to organisations --------------------------------------------------------------------

def post(key: str, text_msgid: str, *, enterprise: Optional[Enterprise] = None,
         institution_id: Optional[int] = None, authority_id: Optional[int] = None,
         link: Optional[str] = None, sms_to_contact: bool = False, essential: bool = True,
         **params) -> Optional[Message]:
    """An in-app message (at most one per `key`), in the caller's transaction.

    With `sms_to_contact`, the enterprise's contact also gets it by SMS (delivered by the
    minute task), unless it is informational and the enterprise opted out.
    """
    if db.session.scalar(select(Message.id).where(Message.key == key)) is not None:
        return None
    sms_state = None
    if sms_to_contact and enterprise is not None and enterprise.contact_mobile:
        sms_state = "skipped" if (enterprise.sms_opt_out and not essential) else "queued"
    message = Message(key=key[:128], enterprise_id=enterprise.id if enterprise else None,
                      institution_id=institution_id, authority_id=authority_id,
                      text=chinese(text_msgid, **params), link=link, sms_state=sms_state,
                      created_at=clock.now())
    try:
        with db.session.begin_nested():
            db.session.add(message)
    except IntegrityError:  # posted by a parallel transaction
        return None
    return message


def deliver_due() -> dict:
    """The minute task: trainee notices whose time came, and contact SMS of new messages."""
    now = clock.now()
    due = list(db.session.scalars(select(TraineeNotice.id).where(
        TraineeNotice.state == "queued", TraineeNotice.send_after <= now)))
    states = [deliver_notice(notice_id) for notice_id in due]
    sent = states.count("sent")
    for message_id in list(db.session.scalars(select(Message.id).where(
            Message.sms_state == "queued").order_by(Message.id))):
        message = db.session.get(Message, message_id)
        enterprise = db.session.get(Enterprise, message.enterprise_id)
        claimed = db.session.execute(
            update(Message).where(Message.id == message_id, Message.sms_state == "queued")
            .values(sms_state="sending").execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        if claimed and _finish_message(message_id, enterprise.contact_mobile,
                                       db.session.get(Message, message_id).text) == "sent":
            sent += 1
    remind_expiring_orders(now)
    return {"sent": sent, "notices_due": len(due)}


def _finish_message(message_id: int, phone: str, text: str) -> str:
    try:
        sms.backend().send(phone, text, "message")
    except Exception as error:  # noqa: BLE001
        db.session.rollback()
        db.session.execute(update(Message).where(Message.id == message_id)
                           .values(sms_state="failed"))
        db.session.commit()
        log.warning("SMS for message %s failed: %s", message_id, error)
        return "failed"
    db.session.execute(update(Message).where(Message.id == message_id).values(sms_state="sent"))
    db.session.commit()
    return "sent"


def remind_expiring_orders(now: dt.datetime) -> int:
    """An order's enterprise hears 10 minutes before the order expires (once)."""
    from models.orders import Order

    soon = now + dt.timedelta(minutes=current_app.config["ORDER_REMINDER_MINUTES"])
    made = 0
    for order in db.session.scalars(select(Order).where(
            Order.state == "pending", Order.expires_at > now, Order.expires_at <= soon)):
        if post(f"order.expiring:{order.id}", N_(
                "[Jianpei] Order %(number)s (%(amount)s yuan) expires at %(time)s; pay it before "
                "then or its seats are released."), enterprise=order.enterprise,
                link=_path("OrderView.show", pk=order.id), sms_to_contact=True,
                number=order.out_trade_no, amount=f"{order.amount:.2f}",
                time=f"{order.expires_at:%H:%M}"):
            made += 1
    db.session.commit()
    return made


def _path(endpoint: str, **values) -> Optional[str]:
    try:
        return url_for(endpoint, **values)
    except RuntimeError:  # no request (a task): build it without the server name
        with current_app.test_request_context():
            return url_for(endpoint, **values)


# Inbox ---------------------------------------------------------------------------------------

def _mine(user: Any):
    clauses = []
    if getattr(user, "enterprise_id", None):
        clauses.append(Message.enterprise_id == user.enterprise_id)
    if getattr(user, "institution_id", None):
        clauses.append(Message.institution_id == user.institution_id)
    if getattr(user, "authority_id", None):
        clauses.append(Message.authority_id == user.authority_id)
    return or_(*clauses) if clauses else and_(False)


def inbox(user: Any, limit: int = 100) -> list[Message]:
    return list(db.session.scalars(select(Message).where(_mine(user))
                                   .order_by(Message.created_at.desc(), Message.id.desc())
                                   .limit(limit)))


def unread(user: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(Message).where(
        _mine(user), Message.read_at.is_(None))) or 0


def mark_read(user: Any) -> None:
    db.session.execute(update(Message).where(_mine(user), Message.read_at.is_(None))
                       .values(read_at=clock.now()).execution_options(synchronize_session=False))
    db.session.commit()


# Triggers: one call from each state change, in its transaction --------------------------------

def _key(prefix: str, entry) -> str:
    """A key unique to this state change: the audit entry that records it."""
    db.session.flush()
    return f"{prefix}:{entry.id}"


def _authority_of(region_code: str) -> Optional[int]:
    from models.reference import Authority

    return db.session.scalar(select(Authority.id).where(Authority.region_code == region_code))


def enterprise_reviewed(enterprise: Enterprise, entry) -> None:
    if enterprise.review_state == "approved":
        text = N_("[Jianpei] %(name)s passed registration review; you can now enrol workers "
                  "in training.")
    else:
        text = N_("[Jianpei] %(name)s did not pass registration review: %(reason)s. Please "
                  "correct the information and resubmit.")
    post(_key("enterprise.review", entry), text, enterprise=enterprise,
         link=_path("MyEnterpriseView.info"), sms_to_contact=True, name=enterprise.name,
         reason=enterprise.review_reason or "")


def enterprise_pending(enterprise: Enterprise, entry) -> None:
    post(_key("enterprise.pending", entry), N_("%(name)s is waiting for registration review."),
         authority_id=enterprise.reviewing_authority_id,
         link=_path("EnterpriseReviewView.queue"), name=enterprise.name)


def plan_submitted(plan, entry) -> None:
    post(_key("plan.submitted", entry), N_("Training plan %(plan)s is waiting for review."),
         authority_id=_authority_of(plan.region_code),
         link=_path("TrainingPlanView.show", pk=plan.id), plan=str(plan))


def assessment_reported(assessment, entry) -> None:
    post(_key("assessment.reported", entry),
         N_("Assessment plan of %(plan)s is waiting for review."),
         authority_id=_authority_of(assessment.plan.region_code),
         link=_path("AssessmentPlanView.show", pk=assessment.id), plan=str(assessment.plan))


def assessment_returned(assessment, entry) -> None:
    post(_key("assessment.returned", entry),
         N_("Assessment plan of %(plan)s was returned: %(reason)s"),
         institution_id=assessment.plan.institution_id,
         link=_path("AssessmentPlanView.show", pk=assessment.id), plan=str(assessment.plan),
         reason=assessment.review_reason or "")


def tickets_available(assessment) -> None:
    """Each enterprise with trainees in the exam hears that their tickets can be downloaded."""
    enterprises = db.session.scalars(select(Enterprise).join(
        Enrolment, Enrolment.enterprise_id == Enterprise.id).join(
        AdmissionTicket, AdmissionTicket.enrolment_id == Enrolment.id).where(
        AdmissionTicket.assessment_id == assessment.id).distinct()).all()
    for enterprise in enterprises:
        post(f"tickets:{assessment.id}:{enterprise.id}", N_(
            "[Jianpei] Admission tickets for the %(occupation)s exam on %(time)s are ready: "
            "download them under Enrolled and tell your trainees."), enterprise=enterprise,
            link=_path("EnrolledView.plan", plan_id=assessment.plan_id), sms_to_contact=True,
            occupation=assessment.plan.occupation.name, time=assessment.exam_time)


def scores_accepted(report) -> None:
    plan = report.assessment.plan
    post(f"scores.accepted:{report.id}:{report.imported_at:%Y%m%d%H%M%S}",
         N_("Scores of %(plan)s are waiting for review."),
         authority_id=_authority_of(plan.region_code),
         link=_path("ScoreReportView.show", pk=report.id), plan=str(plan))


def scores_returned(report, entry) -> None:
    plan = report.assessment.plan
    post(_key("scores.returned", entry), N_("Scores of %(plan)s did not pass review: %(reason)s"),
         institution_id=plan.institution_id,
         link=_path("AssessmentPlanView.show", pk=report.assessment_id), plan=str(plan),
         reason=report.review_reason or "")


def scores_approved(report) -> None:
    plan = report.assessment.plan
    enterprises = db.session.scalars(select(Enterprise).join(
        Enrolment, Enrolment.enterprise_id == Enterprise.id).where(
        Enrolment.id.in_([score.enrolment_id for score in report.scores])).distinct()).all()
    for enterprise in enterprises:
        post(f"scores.approved:{report.id}:{enterprise.id}", N_(
            "[Jianpei] The %(occupation)s exam results are approved; see them under Trainee "
            "search."), enterprise=enterprise, link=_path("EnrolledView.plan", plan_id=plan.id),
            sms_to_contact=True, essential=False, occupation=plan.occupation.name)


def invoice_issued(invoice) -> None:
    order = invoice.order
    post(f"invoice:{invoice.number}", N_(
        "[Jianpei] E-invoice %(number)s (%(amount)s yuan) for order %(order)s is issued; "
        "download it from the order page."), enterprise=order.enterprise,
        link=_path("OrderView.show", pk=order.id), sms_to_contact=True, essential=False,
        number=invoice.number, amount=f"{invoice.amount:.2f}", order=order.out_trade_no)


def certificate_pushed(certificate) -> None:
    """When the last certificate of an enterprise in a plan is pushed, it hears once."""
    from models.assessment import Certificate

    enrolment = certificate.enrolment
    waiting = db.session.scalar(select(func.count()).select_from(Certificate).join(
        Enrolment, Enrolment.id == Certificate.enrolment_id).where(
        Enrolment.plan_id == enrolment.plan_id,
        Enrolment.enterprise_id == enrolment.enterprise_id, Certificate.state != "pushed"))
    if waiting:
        return
    pushed = db.session.scalar(select(func.count()).select_from(Certificate).join(
        Enrolment, Enrolment.id == Certificate.enrolment_id).where(
        Enrolment.plan_id == enrolment.plan_id,
        Enrolment.enterprise_id == enrolment.enterprise_id))
    post(f"certificates:{enrolment.plan_id}:{enrolment.enterprise_id}", N_(
        "[Jianpei] %(n)s training certificates (%(occupation)s) are pushed to the national "
        "system and can be looked up there."), enterprise=enrolment.enterprise,
        link=_path("EnrolledView.plan", plan_id=enrolment.plan_id), sms_to_contact=True,
        essential=False, n=pushed, occupation=enrolment.occupation.name)
