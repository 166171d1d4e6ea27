"""State enums. Values are stored; labels are what users read (Chinese through babel)."""
import enum

from flask_babel import lazy_gettext as _l


class LabelledEnum(str, enum.Enum):
    @property
    def label(self) -> str:
        return str(self.labels()[self])

    @classmethod
    def labels(cls) -> dict:
        raise NotImplementedError

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(member.value, member.label) for member in cls]


class ReviewState(LabelledEnum):
    """Enterprise registration review."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.PENDING: _l("Pending review"),
            cls.APPROVED: _l("Review passed"),
            cls.REJECTED: _l("Review not passed"),
        }


class PlanState(LabelledEnum):
    """Training plan review."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.DRAFT: _l("Draft"),
            cls.SUBMITTED: _l("Awaiting review"),
            cls.APPROVED: _l("Approved"),
            cls.REJECTED: _l("Rejected"),
        }


class PlanPhase(LabelledEnum):
    """Phase of an approved plan, computed from its dates (never stored)."""

    NOT_OPEN = "not_open"
    ENROLLING = "enrolling"
    ENROLMENT_CLOSED = "enrolment_closed"
    TRAINING_ENDED = "training_ended"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.NOT_OPEN: _l("Not yet open"),
            cls.ENROLLING: _l("Enrolling"),
            cls.ENROLMENT_CLOSED: _l("Enrolment closed"),
            cls.TRAINING_ENDED: _l("Training ended"),
        }


class AuthorityLevel(LabelledEnum):
    PROVINCE = "province"
    CITY = "city"

    @classmethod
    def labels(cls) -> dict:
        return {cls.PROVINCE: _l("Province"), cls.CITY: _l("City")}


class OrderState(LabelledEnum):
    """An order's payment (订单状态). A pending order past its expiry reads as expired."""

    PENDING = "pending"
    PAID = "paid"
    EXPIRED = "expired"
    CLOSED = "closed"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.PENDING: _l("Awaiting payment"),
            cls.PAID: _l("Paid"),
            cls.EXPIRED: _l("Expired"),
            cls.CLOSED: _l("Closed"),
        }


class RefundState(LabelledEnum):
    """A payment that arrived for an order that could no longer take it."""

    PENDING = "pending"
    REFUNDED = "refunded"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.PENDING: _l("To be refunded"),
            cls.REFUNDED: _l("Refunded"),
        }


class AssessmentState(LabelledEnum):
    """考核计划. An assessment plan not yet created also reads 未上报."""

    DRAFT = "draft"
    REPORTED = "reported"
    APPROVED = "approved"
    REJECTED = "rejected"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.DRAFT: _l("Not reported"),
            cls.REPORTED: _l("Not reviewed"),
            cls.APPROVED: _l("Reviewed"),
            cls.REJECTED: _l("Returned"),
        }


class ScoreState(LabelledEnum):
    """成绩报审. Before any import the report reads 未上报."""

    NOT_REPORTED = "not_reported"
    ACCEPTED = "accepted"
    APPROVED = "approved"
    REJECTED = "rejected"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.NOT_REPORTED: _l("Not reported"),
            cls.ACCEPTED: _l("Accepted"),
            cls.APPROVED: _l("Reviewed"),
            cls.REJECTED: _l("Not passed"),
        }


class CertificateState(LabelledEnum):
    """培训证书."""

    NOT_GENERATED = "not_generated"
    GENERATED = "generated"
    PUSHED = "pushed"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.NOT_GENERATED: _l("Certificate not generated"),
            cls.GENERATED: _l("Certificate generated, not pushed"),
            cls.PUSHED: _l("Certificate pushed"),
        }


class EnrolmentState(str, enum.Enum):
    """An enrolment's `status`; never shown, so no label. A removed enrolment keeps its row."""

    LIVE = "live"
    REMOVED = "removed"


class OcrState(str, enum.Enum):
    """OCR of a staged business licence (`StagedUpload.ocr_state`; None for other documents).

    The registration page polls it: queued, then done or failed.
    """

    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"


class PhotoCheckState(LabelledEnum):
    """What the machine found in a trainee's uploaded photo (`PhotoCheck.state`).

    An ID-card front is read and compared with the roster row: it matches, differs (the clerk
    fixes the row, replaces the photo or confirms with a reason), or cannot be read. A 1-inch
    photo is passed or refused for what it shows. A refused photo (an ID card's back side, a
    document as a portrait) is taken off the trainee, so the upload is missing again.
    """

    QUEUED = "queued"
    PASSED = "passed"
    MISMATCH = "mismatch"
    UNREADABLE = "unreadable"
    REFUSED = "refused"
    CONFIRMED = "confirmed"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.QUEUED: _l("Being checked"),
            cls.PASSED: _l("Machine-checked"),
            cls.MISMATCH: _l("Differs from the roster"),
            cls.UNREADABLE: _l("Needs a better photo"),
            cls.REFUSED: _l("Refused and removed"),
            cls.CONFIRMED: _l("Confirmed by the enterprise"),
        }

    @classmethod
    def unresolved(cls) -> tuple["PhotoCheckState", ...]:
        """The states an order waits for: still being checked, or a finding nobody decided."""
        return (cls.QUEUED, *cls.for_the_clerk())

    @classmethod
    def for_the_clerk(cls) -> tuple["PhotoCheckState", ...]:
        """Findings the enterprise's clerk has to settle (the machine is done)."""
        return cls.MISMATCH, cls.UNREADABLE


class NoticeKind(LabelledEnum):
    """What a trainee notice (`TraineeNotice.kind`) is about."""

    TRAINING = "training"
    EXAM = "exam"

    @classmethod
    def labels(cls) -> dict:
        return {cls.TRAINING: _l("Training notice"), cls.EXAM: _l("Exam notice")}


class NoticeState(LabelledEnum):
    """A trainee notice's sending (`TraineeNotice.state`): queued, sending, then sent or failed."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.QUEUED: _l("Queued"),
            cls.SENDING: _l("Sending"),
            cls.SENT: _l("Sent"),
            cls.FAILED: _l("Sending failed"),
        }


class ContactSmsState(str, enum.Enum):
    """The SMS copy of an in-app message to an enterprise's contact (`Message.sms_state`; None:
    no SMS). Never shown, so no label."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # informational, and the enterprise opted out
