"""Our user: Flask-AppBuilder's ab_user plus the organisation a user acts for."""
from typing import Optional

from flask_appbuilder.security.sqla.models import User
from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.organisation import Enterprise, Institution
from models.reference import Authority


class JianpeiUser(User):
    __tablename__ = "ab_user"

    enterprise_id: Mapped[Optional[int]] = mapped_column(ForeignKey("enterprise.id"))
    institution_id: Mapped[Optional[int]] = mapped_column(ForeignKey("institution.id"))
    authority_id: Mapped[Optional[int]] = mapped_column(ForeignKey("authority.id"))
    # Bumped when the password changes: sessions signed in before then end.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0",
                                                 nullable=False)

    enterprise: Mapped[Optional[Enterprise]] = relationship()
    institution: Mapped[Optional[Institution]] = relationship()
    authority: Mapped[Optional[Authority]] = relationship()

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version or 0}"
