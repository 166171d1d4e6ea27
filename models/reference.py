"""Reference data: regions, authorities and the four dictionaries."""
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

PROVINCE_CODE = "330000"


class Region(Model):
    """GB/T 2260 administrative division: the province and its cities."""

    __tablename__ = "region"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    parent_code: Mapped[Optional[str]] = mapped_column(ForeignKey("region.code"))

    def __str__(self) -> str:
        return self.name


class Authority(Model):
    """A construction authority (行政主管部门): the province or one city."""

    __tablename__ = "authority"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    region_code: Mapped[str] = mapped_column(
        ForeignKey("region.code"), unique=True, nullable=False
    )
    region: Mapped[Region] = relationship()

    def __str__(self) -> str:
        return self.name


class DictionaryItem(Model):
    """Shared shape of a dictionary value; retired values stay for old rows."""

    __abstract__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    def __str__(self) -> str:
        return self.name


class Occupation(DictionaryItem):
    """职业(工种)名称."""

    __tablename__ = "dict_occupation"


class OccupationLevel(DictionaryItem):
    """职业等级."""

    __tablename__ = "dict_occupation_level"


class ProfessionalTitle(DictionaryItem):
    """职称."""

    __tablename__ = "dict_professional_title"


class Education(DictionaryItem):
    """文化程度."""

    __tablename__ = "dict_education"


DICTIONARIES = (Occupation, OccupationLevel, ProfessionalTitle, Education)
