"""Trainee notices: SMS an enterprise sends its paid trainees about their training or exam.

Every SMS is a template with named parameters (app/services/sms_templates.py): the text the
preview, the outbox and 详情 show is rendered from the same definition the provider renders.
Nothing here sends while a page waits: notices are rows, delivered by tasks (one task per batch,
sent as one SendBatchSms; the minute task in app/services/notifications.py for what was held)
through the SMS backend. What the provider may take later (rate limits, outages) is retried,
then failed; what it refuses for good (invalid number, template, balance) fails at once. Quiet
hours hold notices until morning; each phone has a daily cap; both are applied before the
provider is called.
"""
import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any, Optional

from flask import current_app
from flask_babel import gettext
from sqlalchemy import select, update

from app import clock
from app.extensions import db
from app.integrations import sms
from app.services import N_, DomainError, NotFound, sms_templates
from app.services.codes import mask_mobile
from app.services.transaction import after_commit, transaction, transactional
from models.assessment import AdmissionTicket, AssessmentPlan
from models.enrolment import Enrolment
from models.notifications import TraineeNotice
from models.states import AssessmentState, EnrolmentState, NoticeKind, NoticeState, OrderState

log = logging.getLogger(__name__)

# A kind of trainee notice, and the SMS template it is sent with.
NOTICE_PURPOSES = {NoticeKind.TRAINING: "training_notice", NoticeKind.EXAM: "exam_notice"}
MISSING = "missing"  # what deliver_notices says of an id with no notice
EXAM_STARTED = N_("The exam has started; exam notices go out only before it.")


class NoticeRefused(DomainError):
    message = N_("The notice was not sent.")


class NeedsConfirmation(DomainError):
    message = N_("Some trainees already received this notice; confirm to send it again.")

    def __init__(self, names: list[str]):
        super().__init__()
        self.names = names



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
        Enrolment.status == EnrolmentState.LIVE.value).order_by(Enrolment.id)))
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
        Enrolment.id.in_(enrolment_ids), Enrolment.status == EnrolmentState.LIVE.value,
        Order.state == OrderState.PAID.value)))


def exam_started(assessment: AssessmentPlan) -> bool:
    """An exam notice is for before the exam; once it has started none is sent."""
    return clock.now() >= assessment.exam_start


def compose(kind: str, enrolment: Enrolment) -> tuple[Optional[dict], Optional[str]]:
    """(the template's parameters, None), or (None, why this trainee cannot get this notice)."""
    person, plan = enrolment.person, enrolment.plan
    common = dict(name=person.name, occupation=enrolment.occupation.name,
                  level=enrolment.level.name)
    if kind == NoticeKind.TRAINING:
        return sms_templates.params(NOTICE_PURPOSES[kind], dict(
            start=f"{plan.train_start:%Y-%m-%d}", venue=plan.venue,
            institution=plan.institution.name, contact=plan.contact or plan.institution.name,
            **common)), None
    if kind == NoticeKind.EXAM:
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
        if notice.state != NoticeState.FAILED:
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
                             state=NoticeState.QUEUED.value, send_after=send_after, created_at=now,
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
    return deliver_notices([notice_id]).get(notice_id, MISSING)


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
        if notice is None or notice.state != NoticeState.QUEUED:
            states[notice_id] = notice.state if notice else MISSING
            continue
        states[notice_id] = NoticeState.QUEUED.value
        if max(next_send_time(now), notice.send_after) > now:
            continue
        if notice.kind == NoticeKind.EXAM and _exam_started_for(notice.enrolment_id):  # held past it
            with transaction():
                db.session.execute(update(TraineeNotice).where(
                    TraineeNotice.id == notice.id,
                    TraineeNotice.state == NoticeState.QUEUED.value)
                    .values(state=NoticeState.FAILED.value, last_error=gettext(EXAM_STARTED))
                    .execution_options(synchronize_session=False))
            states[notice_id] = NoticeState.FAILED.value
            continue
        if notice.phone not in counted:
            counted[notice.phone] = sms.sent_today(notice.phone, now)
        if counted[notice.phone] >= current_app.config["SMS_DAILY_CAP"]:
            _defer(notice, gettext("Daily limit for this phone reached; it goes out tomorrow."))
            continue
        with transaction():  # the claim
            taken = db.session.execute(
                update(TraineeNotice).where(TraineeNotice.id == notice.id,
                                            TraineeNotice.state == NoticeState.QUEUED.value)
                .values(attempts=TraineeNotice.attempts + 1, state=NoticeState.SENDING.value)
                .execution_options(synchronize_session=False)).rowcount
        if taken:
            counted[notice.phone] += 1
            claimed.append(notice_id)
        else:
            states[notice_id] = NoticeState.SENDING.value
    by_kind: dict[str, list[int]] = {}
    for notice_id in claimed:
        by_kind.setdefault(db.session.get(TraineeNotice, notice_id).kind, []).append(notice_id)
    for kind, ids in by_kind.items():
        states.update(_finish(kind, ids))
    return states


def deliver_held(now: dt.datetime) -> tuple[int, int]:
    """The queued notices whose time has come (held in quiet hours or by the daily cap, or to be
    retried): (how many were sent, how many were due)."""
    due = list(db.session.scalars(select(TraineeNotice.id).where(
        TraineeNotice.state == NoticeState.QUEUED.value, TraineeNotice.send_after <= now)))
    sent = list(deliver_notices(due).values()).count(NoticeState.SENT) if due else 0
    return sent, len(due)


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
            notice.state, notice.sent_at = NoticeState.SENT.value, clock.now()
            notice.sms_message_id = message.id
            notice.last_error = None
        else:
            retry = message is None or message.state == "retry"
            final = not retry or notice.attempts >= current_app.config["NOTIFY_RETRIES"]
            notice.state = (NoticeState.FAILED if final else NoticeState.QUEUED).value
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

