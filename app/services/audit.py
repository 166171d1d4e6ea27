"""The one way to write the audit log; it joins the caller's transaction."""
import json
import re
from typing import Any, Mapping, Optional

from flask import has_request_context, request
from flask_login import current_user
from werkzeug.local import LocalProxy

from app import clock
from app.extensions import db
from app.services.codes import mask_id_number
from models.audit import AuditLog


def record(
    action: str,
    obj: Any = None,
    *,
    before: Optional[Mapping[str, Any]] = None,
    after: Optional[Mapping[str, Any]] = None,
    region_code: Optional[str] = None,
) -> AuditLog:
    """Add an audit row for `action` on `obj` (None: the system) by the current user.

    Not committed here: the row lands with the caller's transaction or not at all.
    """
    if isinstance(obj, LocalProxy):  # e.g. current_user: the row it stands for, not the proxy
        obj = obj._get_current_object()
    user = current_user if has_request_context() and current_user.is_authenticated else None
    entry = AuditLog(
        at=clock.now(),
        user_id=user.id if user else None,
        username=user.username if user else "system",
        role=",".join(r.name for r in user.roles) if user else None,
        action=action,
        object_type=type(obj).__name__ if obj is not None else "System",
        object_id=str(getattr(obj, "id", "") or ""),
        summary=_summary(before, after),
        ip=request.remote_addr if has_request_context() else None,
        region_code=region_code or getattr(obj, "region_code", None),
    )
    db.session.add(entry)
    return entry


# An 18-character ID number standing alone (not inside a longer trade or invoice number).
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def _summary(before, after) -> Optional[str]:
    if before is None and after is None:
        return None
    text = json.dumps({"before": before, "after": after}, ensure_ascii=False, default=str)
    return _ID_LIKE.sub(_mask_if_id, text)  # full ID numbers never reach the audit log


def _mask_if_id(match: re.Match) -> str:
    from app.services.roster import check_id_number

    number = match.group().upper()
    return mask_id_number(number) if check_id_number(number) is None else match.group()


def changes(obj: Any, fields: list[str]) -> dict[str, Any]:
    """Snapshot of `fields` of `obj`, for before/after summaries."""
    return {name: getattr(obj, name) for name in fields}
