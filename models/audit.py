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

    @property
    def object_type_label(self) -> str:
        """What it happened to, in the user's language."""
        label = OBJECT_TYPE_LABELS.get(self.object_type)
        return str(label) if label else self.object_type


# Every action code that app.services.audit.record() is given, in words: the audit log and a
# trainee's history (详情) show these. tests/test_navigation_and_language.py finds every code in
# the code base and fails on one without a label here.
ACTION_LABELS = {
    "account.change_password": _l("Own password changed"),
    "account.reset_password": _l("Password reset by SMS code"),
    "account.admin_reset_password": _l("Password reset by an administrator"),
    "console.create": _l("Added in the data console"),
    "console.update": _l("Changed in the data console"),
    "console.delete": _l("Deleted in the data console"),
    "enterprise.register": _l("Enterprise registered"),
    "enterprise.update": _l("Enterprise information changed"),
    "enterprise.sms_preference": _l("SMS preference changed"),
    "enterprise.approve": _l("Enterprise review passed"),
    "enterprise.reject": _l("Enterprise review not passed"),
    "plan.create": _l("Training plan added"),
    "plan.update": _l("Training plan edited"),
    "plan.submit": _l("Training plan submitted for review"),
    "plan.approve": _l("Training plan approved"),
    "plan.reject": _l("Training plan returned"),
    "roster.import": _l("Roster imported"),
    "photo.photo": _l("1-inch photo uploaded"),
    "photo.id_photo": _l("ID card photo uploaded"),
    "photo.photo.batch": _l("1-inch photos uploaded in batch"),
    "photo.id_photo.batch": _l("ID card photos uploaded in batch"),
    "photo.photo.refused": _l("1-inch photo refused by the machine check"),
    "photo.id_photo.refused": _l("ID card photo refused by the machine check"),
    "photo.photo.confirm": _l("1-inch photo confirmed despite the machine check"),
    "photo.id_photo.confirm": _l("Roster confirmed against the ID card photo"),
    "payment.rejected": _l("Payment notification rejected"),
    "invoice.issue": _l("Electronic invoice issued"),
    "tasks.ping": _l("Task queue checked"),
    "enrolment.add": _l("Enrolled"),
    "enrolment.edit": _l("Details corrected"),
    "enrolment.remove": _l("Removed from the plan"),
    "person.rename": _l("Registered name corrected"),
    "trainee.view_id": _l("Full ID number viewed"),
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

# The kind of row an entry is about (its model's class name; "System" for none), in words.
OBJECT_TYPE_LABELS = {
    "System": _l("System"),
    "JianpeiUser": _l("User account"),
    "Enterprise": _l("Enterprise"),
    "Institution": _l("Training institution"),
    "Region": _l("Administrative region"),
    "Authority": _l("Construction authority"),
    "Occupation": _l("Occupation (trade)"),
    "OccupationLevel": _l("Occupation level"),
    "ProfessionalTitle": _l("Professional title"),
    "Education": _l("Education"),
    "TrainingPlan": _l("Training plan"),
    "ImportBatch": _l("Roster import"),
    "Person": _l("Person"),
    "Enrolment": _l("Enrolment"),
    "PhotoCheck": _l("Photo check"),
    "Order": _l("Order"),
    "OrderItem": _l("Order line"),
    "PaymentNotice": _l("Payment notification"),
    "SimulatedTrade": _l("Simulated payment"),
    "Invoice": _l("Electronic invoice"),
    "AssessmentPlan": _l("Assessment plan"),
    "AdmissionTicket": _l("Admission ticket"),
    "ScoreReport": _l("Score report"),
    "Score": _l("Score"),
    "Certificate": _l("Training certificate"),
    "CertificateSequence": _l("Certificate numbering"),
    "MinistryReceipt": _l("Ministry receipt"),
    "TraineeNotice": _l("Trainee notice"),
    "Message": _l("In-app message"),
    "SmsCode": _l("SMS verification code"),
    "SmsMessage": _l("SMS"),
    "StagedUpload": _l("Registration upload"),
    "Export": _l("Export"),
    "ErrorWorkbook": _l("Marked error workbook"),
    "AuditLog": _l("Audit entry"),
}


class AppendOnlyError(RuntimeError):
    pass


@event.listens_for(AuditLog, "before_update")
@event.listens_for(AuditLog, "before_delete")
def _refuse_change(mapper, connection, target):  # noqa: ARG001
    raise AppendOnlyError("the audit log is append-only")
