"""Exports too large for one request: built by a task, downloaded by the user who asked."""
import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class Export(Model):
    __tablename__ = "export"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), index=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    query: Mapped[str] = mapped_column(Text, nullable=False)  # the search, as JSON
    state: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    rows_total: Mapped[Optional[int]] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    file_key: Mapped[Optional[str]] = mapped_column(String(64))
    error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    finished_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
