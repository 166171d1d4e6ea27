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
