"""Append-only audit log."""
import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import DateTime, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from models.scope import RowScope


class AuditLog(Model):
    __tablename__ = "audit_log"
    __row_scope__ = RowScope(region="region_code")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True, nullable=False)
    user_id: Mapped[Optional[int]] = mapped_column(Integer)
    username: Mapped[Optional[str]] = mapped_column(String(64))
    role: Mapped[Optional[str]] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True, nullable=False)
    object_type: Mapped[str] = mapped_column(String(64), nullable=False)
    object_id: Mapped[Optional[str]] = mapped_column(String(64))
    summary: Mapped[Optional[str]] = mapped_column(Text)
    ip: Mapped[Optional[str]] = mapped_column(String(45))
    region_code: Mapped[Optional[str]] = mapped_column(String(6), index=True)


class AppendOnlyError(RuntimeError):
    pass


@event.listens_for(AuditLog, "before_update")
@event.listens_for(AuditLog, "before_delete")
def _refuse_change(mapper, connection, target):  # noqa: ARG001
    raise AppendOnlyError("the audit log is append-only")
