"""Append-only audit log."""
import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
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

    @property
    def action_label(self) -> str:
        """What happened, in the user's language (the code itself if it has no label)."""
        label = ACTION_LABELS.get(self.action)
        return str(label) if label else self.action


# The actions a trainee's history shows (详情); the audit log lists codes for everyone else.
ACTION_LABELS = {
    "enrolment.add": _l("Enrolled"),
    "enrolment.edit": _l("Details corrected"),
    "enrolment.remove": _l("Removed from the plan"),
    "order.create": _l("Order created"),
    "order.cancel": _l("Order cancelled"),
    "order.expire": _l("Order expired"),
    "order.paid": _l("Paid"),
    "order.late_paid": _l("Paid after expiry"),
    "order.refund": _l("Payment to be refunded"),
    "order.refunded": _l("Refunded"),
    "assessment.create": _l("Assessment plan created"),
    "assessment.edit": _l("Assessment plan edited"),
    "assessment.report": _l("Assessment plan reported"),
    "assessment.approve": _l("Assessment plan approved"),
    "assessment.reject": _l("Assessment plan returned"),
    "scores.import": _l("Scores imported and reported"),
    "scores.approve": _l("Scores approved"),
    "scores.reject": _l("Scores not passed"),
    "certificate.push": _l("Certificate pushed"),
}


class AppendOnlyError(RuntimeError):
    pass


@event.listens_for(AuditLog, "before_update")
@event.listens_for(AuditLog, "before_delete")
def _refuse_change(mapper, connection, target):  # noqa: ARG001
    raise AppendOnlyError("the audit log is append-only")
