"""Notifications: SMS to trainees (sent by their enterprise) and in-app messages to
organisations (with SMS to an enterprise's contact for what needs it)."""
import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.accounts import SmsMessage
from models.enrolment import Enrolment, _institution_plans, _region_plans
from models.scope import RowScope
from models.states import NoticeKind, NoticeState


class TraineeNotice(Model):
    """One SMS to one trainee about their training or exam, and how its sending went."""

    __tablename__ = "trainee_notice"
    __table_args__ = (Index("ix_trainee_notice_enrolment_kind", "enrolment_id", "kind"),)
    __row_scope__ = RowScope(
        enterprise=lambda model, user: model.enrolment_id.in_(
            Enrolment.__table__.select().with_only_columns(Enrolment.id)
            .where(Enrolment.enterprise_id == user.enterprise_id)),
        institution=lambda model, user: model.enrolment_id.in_(
            Enrolment.__table__.select().with_only_columns(Enrolment.id)
            .where(_institution_plans(Enrolment, user))),
        region=lambda model, user: model.enrolment_id.in_(
            Enrolment.__table__.select().with_only_columns(Enrolment.id)
            .where(_region_plans(Enrolment, user))),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    phone: Mapped[str] = mapped_column(String(11), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    params: Mapped[Optional[str]] = mapped_column(Text)  # the template's parameters, JSON
    state: Mapped[str] = mapped_column(String(16), default=NoticeState.QUEUED.value, index=True,
                                       nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_error: Mapped[Optional[str]] = mapped_column(String(256))
    send_after: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    created_by: Mapped[Optional[int]] = mapped_column(Integer)
    sent_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    sms_message_id: Mapped[Optional[int]] = mapped_column(ForeignKey("sms_message.id"))

    enrolment: Mapped[Enrolment] = relationship()
    sms_message: Mapped[Optional[SmsMessage]] = relationship()

    @property
    def delivery_label(self) -> str:
        """What the provider's receipt says (已送达, 失败 and why), once there is one."""
        message = self.sms_message
        if message is None or message.state == "sent":
            return ""
        if message.state == "failed" and message.error_code:
            return f"{message.state_label}（{message.error_code}）"
        return message.state_label

    @property
    def state_label(self) -> str:
        known = self.state in NoticeState._value2member_map_
        return NoticeState(self.state).label if known else self.state

    @property
    def kind_label(self) -> str:
        known = self.kind in NoticeKind._value2member_map_
        return NoticeKind(self.kind).label if known else self.kind


class Message(Model):
    """An in-app message to an organisation: an enterprise, an institution or an authority.

    `key` makes each trigger write at most one message (e.g. "order.expiring:42").
    """

    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_enterprise_read", "enterprise_id", "read_at"),
        Index("ix_message_institution_read", "institution_id", "read_at"),
        Index("ix_message_authority_read", "authority_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    enterprise_id: Mapped[Optional[int]] = mapped_column(ForeignKey("enterprise.id"))
    institution_id: Mapped[Optional[int]] = mapped_column(ForeignKey("institution.id"))
    authority_id: Mapped[Optional[int]] = mapped_column(ForeignKey("authority.id"))
    text: Mapped[str] = mapped_column(Text, nullable=False)
    # What it opens: "<page>" or "<page>:<row id>" (views/links.py; older rows hold a path).
    link: Mapped[Optional[str]] = mapped_column(String(256))
    sms_state: Mapped[Optional[str]] = mapped_column(String(16))  # ContactSmsState
    sms_purpose: Mapped[Optional[str]] = mapped_column(String(32))  # its SMS template
    sms_params: Mapped[Optional[str]] = mapped_column(Text)  # the template's parameters, JSON
    sms_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0",
                                              nullable=False)
    sms_message_id: Mapped[Optional[int]] = mapped_column(ForeignKey("sms_message.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True, nullable=False)
    read_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
