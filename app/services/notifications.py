"""Notifications. Trainees get SMS from their enterprise (training start, exam); organisations
get in-app messages for what needs them, and an enterprise's contact an SMS as well.

Every SMS is a template with named parameters (app/services/sms_templates.py): the text the
preview, the outbox and 详情 show is rendered from the same definition the provider renders.
In-app messages without an SMS are message ids, always rendered in Chinese. Nothing here sends
while a page waits: messages and notices are rows, delivered by tasks (`deliver_due` every
minute, and one task per batch of trainee notices, sent as one SendBatchSms) through the SMS
backend. What the provider may take later (rate limits, outages) is retried, then failed; what
it refuses for good (invalid number, template, balance) fails at once. Quiet hours hold trainee
SMS until morning; each phone has a daily cap; both are applied before the provider is called.
"""
import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any, Optional

from flask import current_app
from flask_babel import gettext
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from app import clock
from app.extensions import db
from app.i18n import chinese
from app.integrations import sms
from app.services import N_, DomainError, NotFound, sms_templates
from app.services.codes import mask_mobile
from app.services.transaction import after_commit, transaction, transactional
from models.assessment import AdmissionTicket, AssessmentPlan
from models.enrolment import Enrolment
from models.notifications import Message, TraineeNotice
from models.organisation import Enterprise
from models.states import AssessmentState, OrderState

log = logging.getLogger(__name__)

# A kind of trainee notice, and the SMS template it is sent with.
NOTICE_PURPOSES = {"training": "training_notice", "exam": "exam_notice"}
EXAM_STARTED = N_("The exam has started; exam notices go out only before it.")


class NoticeRefused(DomainError):
    message = N_("The notice was not sent.")


class NeedsConfirmation(DomainError):
    message = N_("Some trainees already received this notice; confirm to send it again.")

    def __init__(self, names: list[str]):
        super().__init__()
        self.names = names


# Trainee notices ------------------------------------------------------------------------------

@dataclass
class Preview:
    enrolment: Enrolment
    text: Optional[str]  # None: cannot be sent (reason says why); else what the phone shows
    reason: Optional[str]
    already: int  # notices of this kind sent or queued before
    params: Optional[dict] = None  # the template's parameters, as the provider gets them
    last: Optional[TraineeNotice] = None  # the latest notice of this kind, with its receipt

    @property
    def masked_mobile(self) -> str:
        return mask_mobile(self.enrolment.mobile)

    @property
    def last_delivery(self) -> str:
        """How the last notice of this kind went: 已送达, 失败 (why), or its sending state."""
        if self.last is None:
            return ""
        return self.last.delivery_label or self.last.state_label


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


def paid_ids(enrolment_ids: list[int]) -> set[int]:
    """Those of these live enrolments whose order is paid: the only trainees notices go to."""
    from models.orders import Order

    if not enrolment_ids:
        return set()
    return set(db.session.scalars(select(Enrolment.id).join(
        Order, Order.id == Enrolment.order_id).where(
        Enrolment.id.in_(enrolment_ids), Enrolment.status == "live",
        Order.state == OrderState.PAID.value)))


def exam_started(assessment: AssessmentPlan) -> bool:
    """An exam notice is for before the exam; once it has started none is sent."""
    return clock.now() >= assessment.exam_start


def compose(kind: str, enrolment: Enrolment) -> tuple[Optional[dict], Optional[str]]:
    """(the template's parameters, None), or (None, why this trainee cannot get this notice)."""
    person, plan = enrolment.person, enrolment.plan
    common = dict(name=person.name, occupation=enrolment.occupation.name,
                  level=enrolment.level.name)
    if kind == "training":
        return sms_templates.params(NOTICE_PURPOSES[kind], dict(
            start=f"{plan.train_start:%Y-%m-%d}", venue=plan.venue,
            institution=plan.institution.name, contact=plan.contact or plan.institution.name,
            **common)), None
    if kind == "exam":
        ticket = db.session.scalars(select(AdmissionTicket).join(AssessmentPlan).where(
            AdmissionTicket.enrolment_id == enrolment.id,
            AssessmentPlan.state == AssessmentState.APPROVED.value)).one_or_none()
        if ticket is None:
            return None, gettext("No admission ticket yet.")
        exam = ticket.assessment
        if exam_started(exam):
            return None, gettext(EXAM_STARTED)
        return sms_templates.params(NOTICE_PURPOSES[kind], dict(
            time=exam.exam_time, venue=exam.venue, ticket=ticket.number, **common)), None
    raise NoticeRefused(N_("Unknown kind of notice."))


def preview(user: Any, enrolment_ids: list[int], kind: str) -> list[Preview]:
    """Exactly what `send` would send, trainee by trainee."""
    if kind not in NOTICE_PURPOSES:
        raise NoticeRefused(N_("Unknown kind of notice."))
    enrolments = _own_enrolments(user, enrolment_ids)
    before: dict[int, int] = {}  # notices of this kind not failed, per trainee
    last = {}
    for notice in db.session.scalars(select(TraineeNotice).where(
            TraineeNotice.enrolment_id.in_([e.id for e in enrolments]),
            TraineeNotice.kind == kind).order_by(TraineeNotice.id)):
        last[notice.enrolment_id] = notice
        if notice.state != "failed":
            before[notice.enrolment_id] = before.get(notice.enrolment_id, 0) + 1
    paid = paid_ids([e.id for e in enrolments])
    items = []
    for enrolment in enrolments:
        params, reason = compose(kind, enrolment) if enrolment.id in paid else (
            None, gettext("Not paid: notices go only to trainees whose order is paid."))
        text = sms_templates.render(NOTICE_PURPOSES[kind], params) if params else None
        items.append(Preview(enrolment, text, reason, before.get(enrolment.id, 0), params,
                             last.get(enrolment.id)))
    return items


@transactional
def send(user: Any, enrolment_ids: list[int], kind: str, confirm_repeat: bool = False) -> int:
    """Queue the previewed notices; a repeat needs `confirm_repeat`. Returns how many."""
    items = [item for item in preview(user, enrolment_ids, kind) if item.text]
    repeats = [item.enrolment.person.name for item in items if item.already]
    if repeats and not confirm_repeat:
        raise NeedsConfirmation(repeats)
    if not items:
        raise NoticeRefused(N_("None of these trainees can get this notice yet."), status=409)
    now = clock.now()
    send_after = next_send_time(now)
    notices = [TraineeNotice(enrolment_id=item.enrolment.id, kind=kind,
                             phone=item.enrolment.mobile, text=item.text,
                             params=json.dumps(item.params, ensure_ascii=False),
                             state="queued", send_after=send_after, created_at=now,
                             created_by=user.id) for item in items]
    db.session.add_all(notices)
    db.session.flush()
    after_commit(_queue, [notice.id for notice in notices], send_after, now)
    return len(notices)


def _queue(notice_ids: list[int], send_after: dt.datetime, now: dt.datetime) -> None:
    from tasks.notifications import deliver_notices

    if send_after <= now:
        deliver_notices(notice_ids)
    else:
        deliver_notices.schedule((notice_ids,), eta=_utc(send_after))


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
    return deliver_notices([notice_id]).get(notice_id, "missing")


def deliver_notices(notice_ids: list[int]) -> dict[int, str]:
    """Send the queued trainee notices whose time has come, those of one kind in one batch.

    Quiet hours, the exam start and each phone's daily cap are checked here, before the
    provider is called; a notice held back stays queued. Returns each notice's state.

    Several units of work on purpose: each notice is claimed (committed) before the provider
    is called, so a parallel run cannot send it too; the provider's answer is recorded after.
    """
    now = clock.now()
    states: dict[int, str] = {}
    claimed: list[int] = []
    counted: dict[str, int] = {}  # phone -> messages today, this batch included
    for notice_id in sorted(set(notice_ids)):
        notice = db.session.get(TraineeNotice, notice_id)
        if notice is None or notice.state != "queued":
            states[notice_id] = notice.state if notice else "missing"
            continue
        states[notice_id] = "queued"
        if max(next_send_time(now), notice.send_after) > now:
            continue
        if notice.kind == "exam" and _exam_started_for(notice.enrolment_id):  # held past it
            with transaction():
                db.session.execute(update(TraineeNotice).where(
                    TraineeNotice.id == notice.id, TraineeNotice.state == "queued")
                    .values(state="failed", last_error=gettext(EXAM_STARTED))
                    .execution_options(synchronize_session=False))
            states[notice_id] = "failed"
            continue
        if notice.phone not in counted:
            counted[notice.phone] = sms.sent_today(notice.phone, now)
        if counted[notice.phone] >= current_app.config["SMS_DAILY_CAP"]:
            _defer(notice, gettext("Daily limit for this phone reached; it goes out tomorrow."))
            continue
        with transaction():  # the claim
            taken = db.session.execute(
                update(TraineeNotice).where(TraineeNotice.id == notice.id,
                                            TraineeNotice.state == "queued")
                .values(attempts=TraineeNotice.attempts + 1, state="sending")
                .execution_options(synchronize_session=False)).rowcount
        if taken:
            counted[notice.phone] += 1
            claimed.append(notice_id)
        else:
            states[notice_id] = "sending"
    by_kind: dict[str, list[int]] = {}
    for notice_id in claimed:
        by_kind.setdefault(db.session.get(TraineeNotice, notice_id).kind, []).append(notice_id)
    for kind, ids in by_kind.items():
        states.update(_finish(kind, ids))
    return states


def _exam_started_for(enrolment_id: int) -> bool:
    exam = db.session.scalars(select(AssessmentPlan).join(
        AdmissionTicket, AdmissionTicket.assessment_id == AssessmentPlan.id).where(
        AdmissionTicket.enrolment_id == enrolment_id)).first()
    return exam is not None and exam_started(exam)


@transactional
def _defer(notice: TraineeNotice, why: str) -> None:
    tomorrow = dt.datetime.combine(clock.today() + dt.timedelta(days=1),
                                   dt.time(current_app.config["SMS_QUIET_HOURS"][1]))
    notice.send_after, notice.last_error = tomorrow, why[:256]


@transactional
def _finish(kind: str, notice_ids: list[int]) -> dict[int, str]:
    """Hand claimed notices of one kind to the SMS backend in one batch: each ends sent;
    queued again for the minute task to retry (what can succeed later, up to NOTIFY_RETRIES
    attempts); or failed."""
    notices = [db.session.get(TraineeNotice, notice_id) for notice_id in notice_ids]
    try:
        with db.session.begin_nested():  # a failed hand-over leaves no message rows behind
            messages = sms.send_batch(NOTICE_PURPOSES[kind], [
                (notice.phone, json.loads(notice.params) if notice.params else _legacy(notice))
                for notice in notices])
    except Exception as error:  # noqa: BLE001 - nothing was sent: retried, then recorded
        log.warning("SMS notices %s not handed over: %s", notice_ids, type(error).__name__)
        messages = [None] * len(notice_ids)
        problem = str(error)
    states = {}
    for notice, message in zip(notices, messages):
        if message is not None and message.state in sms.ACCEPTED:
            notice.state, notice.sent_at, notice.sms_message_id = "sent", clock.now(), message.id
            notice.last_error = None
        else:
            retry = message is None or message.state == "retry"
            final = not retry or notice.attempts >= current_app.config["NOTIFY_RETRIES"]
            notice.state = "failed" if final else "queued"
            notice.last_error = (sms.problem(message) if message is not None else problem)[:256]
            notice.sms_message_id = message.id if message is not None else notice.sms_message_id
            log.warning("SMS notice %s to %s: %s (attempt %s)", notice.id,
                        mask_mobile(notice.phone), notice.state, notice.attempts)
        states[notice.id] = notice.state
    return states


def _legacy(notice: TraineeNotice) -> dict:
    """A notice queued before templates (no params): rebuilt from its trainee."""
    params, _ = compose(notice.kind, notice.enrolment)
    if params is None:
        raise NoticeRefused(N_("The notice was not sent."))
    return params


def notices_of(enrolment_id: int) -> list[TraineeNotice]:
    return list(db.session.scalars(select(TraineeNotice).where(
        TraineeNotice.enrolment_id == enrolment_id).order_by(TraineeNotice.created_at.desc(),
                                                              TraineeNotice.id.desc())))


# Messages to organisations --------------------------------------------------------------------

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
        sms_state = "skipped" if (enterprise.sms_opt_out and not essential) else "queued"
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


def deliver_due() -> dict:
    """The minute task: trainee notices whose time came, and contact SMS of new messages.

    Each claim, each SMS and the reminders are units of work of their own (see
    deliver_notices)."""
    now = clock.now()
    due = list(db.session.scalars(select(TraineeNotice.id).where(
        TraineeNotice.state == "queued", TraineeNotice.send_after <= now)))
    sent = list(deliver_notices(due).values()).count("sent") if due else 0
    for message_id in list(db.session.scalars(select(Message.id).where(
            Message.sms_state == "queued").order_by(Message.id))):
        message = db.session.get(Message, message_id)
        enterprise = db.session.get(Enterprise, message.enterprise_id)
        with transaction():  # claimed before the provider is called, as notices are
            claimed = db.session.execute(
                update(Message).where(Message.id == message_id, Message.sms_state == "queued")
                .values(sms_state="sending", sms_attempts=Message.sms_attempts + 1)
                .execution_options(synchronize_session=False)).rowcount
        if claimed and _finish_message(message_id, enterprise.contact_mobile) == "sent":
            sent += 1
    remind_expiring_orders(now)
    return {"sent": sent, "notices_due": len(due)}


@transactional
def _finish_message(message_id: int, phone: str) -> str:
    """The contact SMS of one in-app message: sent, queued again (what can succeed later), or
    failed. A message from before templates has no purpose and is not sent."""
    message = db.session.get(Message, message_id)
    if not message.sms_purpose:
        message.sms_state = "failed"
        return "failed"
    try:
        with db.session.begin_nested():  # a failed hand-over leaves no message row behind
            sent = sms.send(phone, message.sms_purpose, json.loads(message.sms_params or "{}"))
    except Exception as error:  # noqa: BLE001 - recorded as failed, never half-sent
        db.session.execute(update(Message).where(Message.id == message_id)
                           .values(sms_state="failed"))
        log.warning("SMS for message %s failed: %s", message_id, type(error).__name__)
        return "failed"
    if sent.state in sms.ACCEPTED:
        state = "sent"
    else:
        state = "queued" if sent.state == "retry" and message.sms_attempts < current_app.config[
            "NOTIFY_RETRIES"] else "failed"
    db.session.execute(update(Message).where(Message.id == message_id)
                       .values(sms_state=state, sms_message_id=sent.id))
    return state


@transactional
def remind_expiring_orders(now: dt.datetime) -> int:
    """An order's enterprise hears 10 minutes before the order expires (once)."""
    from models.orders import Order

    soon = now + dt.timedelta(minutes=current_app.config["ORDER_REMINDER_MINUTES"])
    made = 0
    for order in db.session.scalars(select(Order).where(
            Order.payable_at(now), Order.expires_at <= soon)):
        if post_with_sms(f"order.expiring:{order.id}", "order_reminder",
                         enterprise=order.enterprise, link=_link("order", order.id),
                         number=order.out_trade_no, amount=f"{order.amount:.2f}",
                         time=f"{order.expires_at:%H:%M}"):
            made += 1
    return made


def _link(target: str, row_id: Optional[int] = None) -> str:
    """What a message opens: a page named in views/links.py, for a row; the view builds the
    URL when it shows the message."""
    return target if row_id is None else f"{target}:{row_id}"


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
    from models.reference import Authority

    from app.rules import supervising_authority

    return db.session.scalar(select(Authority.id).where(supervising_authority(region_code)))


def enterprise_reviewed(enterprise: Enterprise, entry) -> None:
    if enterprise.review_state == "approved":
        purpose, extra = "review_approved", {}
    else:
        purpose, extra = "review_rejected", {"reason": enterprise.review_reason or "—"}
    post_with_sms(_key("enterprise.review", entry), purpose, enterprise=enterprise,
                  link=_link("my_enterprise"), name=enterprise.name, **extra)


def enterprise_pending(enterprise: Enterprise, entry) -> None:
    post(_key("enterprise.pending", entry), N_("%(name)s is waiting for registration review."),
         authority_id=enterprise.reviewing_authority_id,
         link=_link("enterprise_review"), name=enterprise.name)


def plan_submitted(plan, entry) -> None:
    post(_key("plan.submitted", entry), N_("Training plan %(plan)s is waiting for review."),
         authority_id=_authority_of(plan.region_code),
         link=_link("plan", plan.id), plan=str(plan))


def assessment_reported(assessment, entry) -> None:
    post(_key("assessment.reported", entry),
         N_("Assessment plan of %(plan)s is waiting for review."),
         authority_id=_authority_of(assessment.plan.region_code),
         link=_link("assessment_plan", assessment.id), plan=str(assessment.plan))


def assessment_returned(assessment, entry) -> None:
    post(_key("assessment.returned", entry),
         N_("Assessment plan of %(plan)s was returned: %(reason)s"),
         institution_id=assessment.plan.institution_id,
         link=_link("assessment_plan", assessment.id), plan=str(assessment.plan),
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
                      link=_link("enrolled_plan", assessment.plan_id),
                      occupation=assessment.plan.occupation.name, time=assessment.exam_time)


def scores_accepted(report) -> None:
    plan = report.assessment.plan
    post(f"scores.accepted:{report.id}:{report.imported_at:%Y%m%d%H%M%S}",
         N_("Scores of %(plan)s are waiting for review."),
         authority_id=_authority_of(plan.region_code),
         link=_link("score_report", report.id), plan=str(plan))


def scores_returned(report, entry) -> None:
    plan = report.assessment.plan
    post(_key("scores.returned", entry), N_("Scores of %(plan)s did not pass review: %(reason)s"),
         institution_id=plan.institution_id,
         link=_link("assessment_plan", report.assessment_id), plan=str(plan),
         reason=report.review_reason or "")


def scores_approved(report) -> None:
    plan = report.assessment.plan
    enterprises = db.session.scalars(select(Enterprise).join(
        Enrolment, Enrolment.enterprise_id == Enterprise.id).where(
        Enrolment.id.in_([score.enrolment_id for score in report.scores])).distinct()).all()
    for enterprise in enterprises:
        post_with_sms(f"scores.approved:{report.id}:{enterprise.id}", "scores",
                      enterprise=enterprise, link=_link("enrolled_plan", plan.id),
                      essential=False, occupation=plan.occupation.name)


def invoice_issued(invoice) -> None:
    order = invoice.order
    post_with_sms(f"invoice:{invoice.number}", "invoice", enterprise=order.enterprise,
                  link=_link("order", order.id), essential=False,
                  number=invoice.number, amount=f"{invoice.amount:.2f}",
                  order=order.out_trade_no)


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
    post_with_sms(f"certificates:{enrolment.plan_id}:{enrolment.enterprise_id}", "certificates",
                  enterprise=enrolment.enterprise,
                  link=_link("enrolled_plan", enrolment.plan_id), essential=False,
                  n=pushed, occupation=enrolment.occupation.name)
