"""Dictionary rules: a value in use is retired, never deleted."""
from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.services import N_, DomainError
from models import Model
from models.reference import DICTIONARIES


class DictionaryValueInUse(DomainError):
    message = N_("“%(name)s” is in use and cannot be deleted; untick Active to retire it instead.")


def usage_count(item: Any) -> int:
    """Rows in any table that point at this dictionary value."""
    table = type(item).__table__
    total = 0
    for other in Model.metadata.tables.values():
        for fk in other.foreign_keys:
            if fk.column.table is table:
                total += db.session.scalar(
                    select(func.count()).select_from(other).where(fk.parent == item.id)
                ) or 0
    return total


def ensure_deletable(item: Any) -> None:
    if usage_count(item):
        raise DictionaryValueInUse(name=item.name)


def active_values(model: type) -> list[Any]:
    """Values offered for new choices, in display order."""
    assert model in DICTIONARIES
    return list(
        db.session.scalars(
            select(model).where(model.active.is_(True)).order_by(model.sort_order, model.id)
        )
    )
