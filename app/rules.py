"""Who supervises a region: the one definition, for registration, notifications, reviews and
row scope.

A city's construction authority (市级行政主管部门) supervises the enterprises, plans, assessment
plans and score reports of its city; the provincial authority reviews province-owned units
(省属单位) instead of their city.
"""
from typing import Any, Optional

from sqlalchemy.sql.elements import ColumnElement

from models.reference import PROVINCE_CODE, Authority


def supervising_authority(region_code: str, province_owned: bool = False) -> ColumnElement[bool]:
    """SQL selecting the authority that supervises `region_code`: the city's own, or the
    province's for a province-owned unit."""
    return Authority.region_code == (PROVINCE_CODE if province_owned else region_code)


def supervised_region(user: Any) -> Optional[str]:
    """The region code the user's authority supervises; None for a user without one."""
    authority = getattr(user, "authority", None)
    return authority.region_code if authority else None


def is_city_regulator_of(user: Any, region_code: str) -> bool:
    """Whether the user is the city regulator of `region_code`: the one who reviews that
    region's plans, assessment plans and score reports."""
    from app.scope import CITY_REGULATOR, primary_role

    return primary_role(user) == CITY_REGULATOR and supervised_region(user) == region_code
