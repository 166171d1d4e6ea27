"""SMS verification codes, the SMS outbox, and uploads staged during registration."""
import datetime as dt
from typing import Optional

from flask_appbuilder import Model
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


class SmsMessage(Model):
    """Every SMS we send; in the embedded default this outbox is the 'provider'."""

    __tablename__ = "sms_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(11), index=True, nullable=False)
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True, nullable=False)
    state: Mapped[str] = mapped_column(String(16), default="sent", nullable=False)


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
