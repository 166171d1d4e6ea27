"""Files made for one user to download, and purged: exports too large for one request (built
by a task), and the marked copies of roster and score sheets that failed their check."""
import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
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


class ErrorWorkbook(Model):
    """The marked copy of a user's last failed upload of one kind (it holds ID numbers).

    One per user and kind: a new failed upload replaces it, a clean one removes it, and the
    periodic purge deletes it (row and file) a day later. Only its owner may download it.
    """

    __tablename__ = "error_workbook"
    __table_args__ = (UniqueConstraint("user_id", "kind", name="uq_error_workbook_user_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # roster | scores
    subject_id: Mapped[int] = mapped_column(Integer, nullable=False)  # the plan or assessment
    storage_key: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True, nullable=False)
