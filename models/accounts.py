"""SMS verification codes, the SMS outbox, and uploads staged during registration."""
import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class SmsCode(Model):
    """A 6-digit code, stored only as an HMAC, bound to a phone and a purpose."""

    __tablename__ = "sms_code"
    __table_args__ = (Index("ix_sms_code_phone_purpose", "phone", "purpose", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(11), nullable=False)
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    used_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)


# sms_message.state, in words (app/integrations/sms.py says what each means).
SMS_STATES = {
    "sent": _l("Sent"),
    "submitted": _l("Submitted, awaiting receipt"),
    "delivered": _l("Delivered"),
    "failed": _l("Delivery failed"),
    "unconfirmed": _l("No receipt"),
    "refused": _l("Refused by the SMS provider"),
    "retry": _l("Not sent yet (temporary error)"),
}


class SmsMessage(Model):
    """Every SMS we send, and how its sending went. In the embedded default this outbox is the
    'provider'; with Alibaba Cloud SMS it keeps the BizId and the delivery receipt."""

    __tablename__ = "sms_message"
    __table_args__ = (Index("ix_sms_message_state_checked", "state", "checked_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(11), index=True, nullable=False)
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True, nullable=False)
    state: Mapped[str] = mapped_column(String(16), default="sent", nullable=False)
    template_code: Mapped[Optional[str]] = mapped_column(String(32))
    biz_id: Mapped[Optional[str]] = mapped_column(String(64))
    error_kind: Mapped[Optional[str]] = mapped_column(String(16))
    error_code: Mapped[Optional[str]] = mapped_column(String(64))
    reason: Mapped[Optional[str]] = mapped_column(String(256))
    checked_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)  # receipt last asked
    reported_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)  # delivered or failed

    @property
    def state_label(self) -> str:
        return str(SMS_STATES.get(self.state, self.state))


class StagedUpload(Model):
    """A registration document uploaded before the form is submitted.

    Held under a random token so the user can correct the form without uploading again;
    moved to the enterprise on success, purged after an hour otherwise.
    """

    __tablename__ = "staged_upload"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(43), unique=True, nullable=False)
    slot: Mapped[str] = mapped_column(String(8), nullable=False)
    storage_key: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True, nullable=False)
    ocr_state: Mapped[Optional[str]] = mapped_column(String(16))
    ocr_result: Mapped[Optional[str]] = mapped_column(Text)
