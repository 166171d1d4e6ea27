"""How a model's rows belong to an enterprise, an institution or a region.

Models declare it; app/scope.py turns it into the one row-scope filter every
scoped view, API and download uses.
"""
from dataclasses import dataclass
from typing import Callable, Union

# A column name on the model holding the user's enterprise id, institution id or region
# code; or a function (model_class, user) -> SQL clause (e.g. approved plans for every
# enterprise, or enrolments in an institution's plans).
ScopePath = Union[str, Callable, None]


@dataclass(frozen=True)
class RowScope:
    enterprise: ScopePath = None
    institution: ScopePath = None
    region: ScopePath = None
