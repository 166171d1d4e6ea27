"""People (one row per ID number), their enrolments in plans, and roster import batches."""
import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import (Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
                        and_, func, select, text)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.organisation import Enterprise
from models.reference import Education, Occupation, OccupationLevel, ProfessionalTitle
from models.scope import RowScope
from models.states import EnrolmentState, PhotoCheckState
from models.training import TrainingPlan

# The photos an enrolment needs before it can be ordered, by kind (app.services.photos.KINDS
# names them): the 1-inch photo and the ID-card photo, each in the column "<kind>_key".
REQUIRED_PHOTOS = ("photo", "id_photo")


class Person(Model):
    """An identity only: a GB 11643-1999 ID number and the name registered with it.

    Shared by every enterprise that enrols the same worker, so no enterprise writes it after
    creating it: contact and qualification data live on each enrolment, and a wrong name is
    corrected under `app.services.people` (by the sole enterprise, else by a regulator).
    """

    __tablename__ = "person"
    __table_args__ = (
        # 报名人员查询 by name: its pages follow (name, id), so a page reads this index in order
        # and stops, however many share the name; and the count reads ids off it alone.
        Index("ix_person_name_id", "name", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(32), nullable=False)
    gender: Mapped[str] = mapped_column(String(8), nullable=False)  # from the ID number
    birth_date: Mapped[dt.date] = mapped_column(Date, nullable=False)  # from the ID number
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)  # created or renamed


class ImportBatch(Model):
    __tablename__ = "import_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("training_plan.id"), nullable=False)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), nullable=False)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    rows: Mapped[int] = mapped_column(Integer, nullable=False)
    created_by: Mapped[Optional[int]] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)


def _institution_plans(model, user):
    return model.plan_id.in_(
        select(TrainingPlan.id).where(TrainingPlan.institution_id == user.institution_id))


def _region_plans(model, user):
    from app.rules import supervised_region

    region = supervised_region(user)
    return model.plan_id.in_(select(TrainingPlan.id).where(TrainingPlan.region_code == region))


class Enrolment(Model):
    """A person in a plan for an enterprise; at most one live enrolment per person and plan."""

    __tablename__ = "enrolment"
    __table_args__ = (
        Index("uq_enrolment_live_person_plan", "person_id", "plan_id", unique=True,
              sqlite_where=text(f"status = '{EnrolmentState.LIVE.value}'"),
              postgresql_where=text(f"status = '{EnrolmentState.LIVE.value}'")),
        Index("ix_enrolment_enterprise_plan", "enterprise_id", "plan_id"),
        # 报名人员查询's default order (newest first) and its keyset: a page without a key reads
        # its rows off these indexes (an enterprise's own) instead of sorting every match.
        Index("ix_enrolment_created_at_id", "created_at", "id"),
        Index("ix_enrolment_enterprise_created_at_id", "enterprise_id", "created_at", "id"),
    )
    __row_scope__ = RowScope(enterprise="enterprise_id", institution=_institution_plans,
                             region=_region_plans)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True, nullable=False)
    plan_id: Mapped[int] = mapped_column(ForeignKey("training_plan.id"), index=True, nullable=False)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), nullable=False)
    batch_id: Mapped[Optional[int]] = mapped_column(ForeignKey("import_batch.id"))
    occupation_id: Mapped[int] = mapped_column(ForeignKey("dict_occupation.id"), nullable=False)
    level_id: Mapped[int] = mapped_column(ForeignKey("dict_occupation_level.id"), nullable=False)
    # The enterprise's own snapshot of its worker: how to reach them, what they have.
    mobile: Mapped[str] = mapped_column(String(11), index=True, nullable=False)
    education_id: Mapped[int] = mapped_column(
        ForeignKey("dict_education.id", name="fk_enrolment_education_id"), nullable=False)
    title_id: Mapped[int] = mapped_column(
        ForeignKey("dict_professional_title.id", name="fk_enrolment_title_id"), nullable=False)
    status: Mapped[str] = mapped_column(String(16), default=EnrolmentState.LIVE.value,
                                        nullable=False)
    photo_key: Mapped[Optional[str]] = mapped_column(String(64))
    photo_thumb_key: Mapped[Optional[str]] = mapped_column(String(64))
    id_photo_key: Mapped[Optional[str]] = mapped_column(String(64))
    # The pending or paid order holding this trainee's seat; cleared when that order lapses.
    order_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("orders.id", name="fk_enrolment_order_id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)

    person: Mapped[Person] = relationship()
    plan: Mapped[TrainingPlan] = relationship()
    enterprise: Mapped[Enterprise] = relationship()
    occupation: Mapped[Occupation] = relationship()
    level: Mapped[OccupationLevel] = relationship()
    education: Mapped[Education] = relationship()
    title: Mapped[ProfessionalTitle] = relationship()

    def stored_photo(self, kind: str, thumbnail: bool = False) -> Optional[str]:
        """The storage key of this enrolment's photo of `kind` ("photo" or "id_photo")."""
        if kind == "photo":
            return self.photo_thumb_key if thumbnail else self.photo_key
        return self.id_photo_key

    @property
    def missing_photos(self) -> list[str]:
        """The kinds of required photo not uploaded yet."""
        return [kind for kind in REQUIRED_PHOTOS if not getattr(self, f"{kind}_key")]

    @hybrid_property
    def photos_complete(self) -> bool:
        """Every required photo uploaded: the one definition, in Python and in SQL."""
        return not self.missing_photos

    @photos_complete.expression
    def photos_complete(cls):
        return and_(*(func.coalesce(getattr(cls, f"{kind}_key"), "") != ""
                      for kind in REQUIRED_PHOTOS))

    @classmethod
    def live_in(cls, plan_id: int, enterprise_id: int):
        """SQL: the enterprise's live trainees in the plan, the ones its 报名 page lists."""
        return and_(cls.plan_id == plan_id, cls.enterprise_id == enterprise_id,
                    cls.status == EnrolmentState.LIVE.value)


class PhotoCheck(Model):
    """What the machine found in one of an enrolment's photos (app/services/photo_checks.py).

    One row per enrolment and kind of photo, for the file in `photo_key`: a result read from a
    file since replaced is dropped. `reading` holds what was read off an ID card (name, number,
    gender, birth date as JSON): personal data, kept only while the enrolment is live (removing
    the trainee deletes the row) and never logged. `differences` names the fields that differ
    from the roster row; `problem` is the message of a refusal or an unreadable photo
    ({"msgid", "params"}, translated when shown). A difference the enterprise confirmed keeps
    its reason, who and when.
    """

    __tablename__ = "photo_check"
    __table_args__ = (UniqueConstraint("enrolment_id", "kind", name="uq_photo_check_enrolment_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("enrolment.id", name="fk_photo_check_enrolment_id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # photos.PHOTO / ID_PHOTO
    photo_key: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str] = mapped_column(String(16), default=PhotoCheckState.QUEUED.value,
                                       nullable=False)
    reading: Mapped[Optional[str]] = mapped_column(Text)
    differences: Mapped[Optional[str]] = mapped_column(String(64))  # "number,name"
    problem: Mapped[Optional[str]] = mapped_column(Text)
    reason: Mapped[Optional[str]] = mapped_column(String(200))
    decided_by: Mapped[Optional[int]] = mapped_column(Integer)
    decided_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    queued_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    checked_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)

    enrolment: Mapped[Enrolment] = relationship()

    @property
    def state_enum(self) -> PhotoCheckState:
        return PhotoCheckState(self.state)

    @property
    def difference_list(self) -> list[str]:
        return [field for field in (self.differences or "").split(",") if field]
