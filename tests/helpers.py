"""Small helpers shared by tests."""
import re

from app.extensions import db
from app.integrations.storage import storage


def visible_text(html: str) -> str:
    html = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", html)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def give_documents(enterprise) -> None:
    """Store three small JPEGs as the enterprise's documents."""
    from app.services.demo import _placeholder_jpeg

    files = storage()
    enterprise.licence_file = files.save(_placeholder_jpeg("yyzz", enterprise.uscc), ".jpg")
    enterprise.commitment_file = files.save(_placeholder_jpeg("cns", enterprise.uscc), ".jpg")
    enterprise.qualification_file = files.save(_placeholder_jpeg("zzzs", enterprise.uscc), ".jpg")
    db.session.commit()


def path(endpoint: str, **values) -> str:
    """url_for as a path (tests run in an app context, where url_for is absolute)."""
    from flask import url_for

    return url_for(endpoint, _external=False, **values)


def scoped_models() -> set[type]:
    """Every model that declares how its rows belong (`__row_scope__`, models/scope.py)."""
    from models import Model

    return {mapper.class_ for mapper in Model.registry.mappers
            if "__row_scope__" in vars(mapper.class_)}
