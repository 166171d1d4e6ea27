"""Orders (订单), their trainees, payment notifications and e-invoices (电子发票)."""
import datetime as dt
from decimal import Decimal
from typing import NamedTuple, Optional

from flask_appbuilder import Model
from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    and_,
    select,
)
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from app import clock
from models.enrolment import Enrolment, _institution_plans, _region_plans
from models.organisation import Enterprise
from models.scope import RowScope
from models.states import OrderState, RefundState
from models.training import TrainingPlan, plan_search_text


class OrderStatus(NamedTuple):
    """What an order's state column says: the state users see, the seconds left to pay (0
    unless pending) and the refund's state label ("" without a refund)."""

    state: OrderState
    seconds_left: int
    refund_label: str


class Order(Model):
    """An enterprise's trainees in one plan, paid in one Alipay trade; holds their seats."""

    __tablename__ = "orders"  # ORDER is an SQL keyword
    __table_args__ = (
        CheckConstraint("trainees >= 1", name="ck_order_trainees_positive"),
        CheckConstraint("amount >= 0", name="ck_order_amount_not_negative"),
        Index("ix_orders_enterprise_created", "enterprise_id", "created_at"),
        Index("ix_orders_state_expires", "state", "expires_at"),
    )
    __row_scope__ = RowScope(enterprise="enterprise_id", institution=_institution_plans,
                             region=_region_plans)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    out_trade_no: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), nullable=False)
    plan_id: Mapped[int] = mapped_column(ForeignKey("training_plan.id"), index=True, nullable=False)
    trainees: Mapped[int] = mapped_column(Integer, nullable=False)
    fee: Mapped[Decimal] = mapped_column(Numeric(10, 2), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    state: Mapped[str] = mapped_column(String(16), default=OrderState.PENDING.value, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    created_by: Mapped[Optional[int]] = mapped_column(Integer)
    paid_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, index=True)
    closed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    trade_no: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    refund_state: Mapped[Optional[str]] = mapped_column(String(16), index=True)
    refund_reason: Mapped[Optional[str]] = mapped_column(String(256))
    refunded_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)

    enterprise: Mapped[Enterprise] = relationship()
    plan: Mapped[TrainingPlan] = relationship()
    items: Mapped[list["OrderItem"]] = relationship(back_populates="order",
                                                     order_by="OrderItem.enrolment_id")
    invoice: Mapped[Optional["Invoice"]] = relationship(back_populates="order", uselist=False)

    # Text to search orders by (views/orders.py: a list's filter, not a dropdown of thousands
    # of enterprises or plans); read only in a WHERE clause, never loaded with an order.
    enterprise_name: Mapped[str] = column_property(
        select(Enterprise.name).where(Enterprise.id == enterprise_id)
        .correlate_except(Enterprise).scalar_subquery(), deferred=True)
    enterprise_uscc: Mapped[str] = column_property(
        select(Enterprise.uscc).where(Enterprise.id == enterprise_id)
        .correlate_except(Enterprise).scalar_subquery(), deferred=True)
    plan_institution, plan_occupation = plan_search_text(plan_id)

    def __str__(self) -> str:
        return self.out_trade_no

    @property
    def state_label(self) -> str:
        return OrderState(self.state).label

    @property
    def refund_label(self) -> str:
        return RefundState(self.refund_state).label if self.refund_state else ""

    @hybrid_method
    def payable_at(self, at: dt.datetime) -> bool:
        """Can still be paid at `at`: unpaid and within its time (the one definition, in
        Python and in SQL; a pending order past expires_at reads as expired)."""
        return self.state == OrderState.PENDING.value and at < self.expires_at

    @payable_at.expression
    def payable_at(cls, at: dt.datetime):
        return and_(cls.state == OrderState.PENDING.value, cls.expires_at > at)

    def shown_state(self, at: dt.datetime) -> OrderState:
        """The state users see at `at`: an unpaid order past its hour is expired, task or not."""
        if self.state == OrderState.PENDING.value and not self.payable_at(at):
            return OrderState.EXPIRED
        return OrderState(self.state)

    def seconds_left(self, at: dt.datetime) -> int:
        """Seconds left to pay at `at`; 0 unless it can still be paid."""
        if self.shown_state(at) != OrderState.PENDING:
            return 0
        return int((self.expires_at - at).total_seconds())

    # For list and detail pages (Flask-AppBuilder shows model properties as columns; the view
    # draws it: views/orders.py).
    @property
    def status(self) -> OrderStatus:
        now = clock.now()
        return OrderStatus(self.shown_state(now), self.seconds_left(now), self.refund_label)


class OrderItem(Model):
    """One trainee of an order; kept when the order expires, so its history stays readable."""

    __tablename__ = "order_item"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id"), primary_key=True,
                                              index=True)

    order: Mapped[Order] = relationship(back_populates="items")
    enrolment: Mapped[Enrolment] = relationship()


class PaymentNotice(Model):
    """Every payment notification received, verified or not, exactly as it came."""

    __tablename__ = "payment_notice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True, nullable=False)
    out_trade_no: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    order_id: Mapped[Optional[int]] = mapped_column(ForeignKey("orders.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16), index=True, nullable=False)
    reason: Mapped[Optional[str]] = mapped_column(String(256))
    remote_addr: Mapped[Optional[str]] = mapped_column(String(64))
    raw: Mapped[str] = mapped_column(Text, nullable=False)


class Invoice(Model):
    """The e-invoice of a paid order: exactly one per order, its parties copied at issue.

    Read through its order (row scope of Order).
    """

    __tablename__ = "invoice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True, nullable=False)
    number: Mapped[str] = mapped_column(String(20), unique=True, nullable=False)
    issued_on: Mapped[dt.date] = mapped_column(Date, index=True, nullable=False)
    seller_name: Mapped[str] = mapped_column(String(128), nullable=False)
    seller_uscc: Mapped[str] = mapped_column(String(18), nullable=False)
    buyer_name: Mapped[str] = mapped_column(String(128), nullable=False)
    buyer_uscc: Mapped[str] = mapped_column(String(18), nullable=False)
    item: Mapped[str] = mapped_column(String(128), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(10, 2), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    pdf_key: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)

    order: Mapped[Order] = relationship(back_populates="invoice")
