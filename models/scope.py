"""How a model's rows belong to an enterprise, an institution or a region.

Models declare it; app/security.py turns it into the one row-scope filter every
scoped view, API and download uses.
"""
from dataclasses import dataclass
from typing import Callable, Union

# A column name on the model, or a function (model_class) -> SQL clause for rows that
# every user of that kind may read (e.g. approved training plans for enterprises).
ScopePath = Union[str, Callable, None]


@dataclass(frozen=True)
class RowScope:
    enterprise: ScopePath = None
    institution: ScopePath = None
    region: ScopePath = None
