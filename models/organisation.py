"""Enterprises and training institutions."""
import datetime as dt
import enum
from typing import Optional

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.reference import Authority, Region
from models.scope import RowScope
from models.states import ReviewState


class DocumentSlot(enum.StrEnum):
    """An enterprise's three registration documents.

    The value names the file (yyzz.jpg, …), the form field it is posted in and the slot it is
    staged under (stored); a StrEnum, so it reads as that value in names, URLs and templates.
    """

    LICENCE = "yyzz"  # 营业执照
    COMMITMENT = "cns"  # 承诺书
    QUALIFICATION = "zzzs"  # 资质证书

    @property
    def label(self) -> str:
        return str({
            DocumentSlot.LICENCE: _l("Business licence"),
            DocumentSlot.COMMITMENT: _l("Commitment letter"),
            DocumentSlot.QUALIFICATION: _l("Qualification certificate"),
        }[self])

    @property
    def filename(self) -> str:
        return f"{self.value}.jpg"


class Enterprise(Model):
    """An employer of construction workers (企业)."""

    __tablename__ = "enterprise"
    __row_scope__ = RowScope(enterprise="id", region="region_code")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    enterprise_type: Mapped[Optional[str]] = mapped_column(String(64))
    legal_representative: Mapped[Optional[str]] = mapped_column(String(32))
    registered_capital: Mapped[Optional[str]] = mapped_column(String(64))
    established: Mapped[Optional[dt.date]] = mapped_column(Date)
    address: Mapped[Optional[str]] = mapped_column(String(256))
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True, nullable=False)
    province_owned: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    contact_person: Mapped[Optional[str]] = mapped_column(String(32))
    contact_mobile: Mapped[Optional[str]] = mapped_column(String(11))
    # The contact may decline informational SMS (invoices, certificates); in-app messages and
    # what needs action (review results, an order about to expire) still come.
    sms_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0",
                                              nullable=False)
    licence_file: Mapped[Optional[str]] = mapped_column(String(64))
    commitment_file: Mapped[Optional[str]] = mapped_column(String(64))
    qualification_file: Mapped[Optional[str]] = mapped_column(String(64))
    ocr_result: Mapped[Optional[str]] = mapped_column(Text)
    review_state: Mapped[str] = mapped_column(
        String(16), default=ReviewState.PENDING.value, index=True, nullable=False
    )
    review_reason: Mapped[Optional[str]] = mapped_column(String(256))
    reviewed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    reviewing_authority_id: Mapped[Optional[int]] = mapped_column(ForeignKey("authority.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)

    region: Mapped[Region] = relationship()
    reviewing_authority: Mapped[Optional[Authority]] = relationship()

    def __str__(self) -> str:
        return self.name

    @property
    def review_state_label(self) -> str:
        return ReviewState(self.review_state).label


class Institution(Model):
    """A training institution (培训机构); created by admins."""

    __tablename__ = "institution"
    __row_scope__ = RowScope(institution="id", region="region_code")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    uscc: Mapped[Optional[str]] = mapped_column(String(18), unique=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True, nullable=False)
    contact_person: Mapped[Optional[str]] = mapped_column(String(32))
    contact_phone: Mapped[Optional[str]] = mapped_column(String(20))

    region: Mapped[Region] = relationship()

    def __str__(self) -> str:
        return self.name
