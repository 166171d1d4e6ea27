"""A person's identity: the ID number and the name registered with it.

One row per ID number, shared by every enterprise that enrols the worker. The first enterprise
to enrol a number registers the name; after that a roster row or form with another name for
that number is a cell error that does not reveal the registered name. Who may correct a wrong
registered name:

- the enterprise, while it is the only one that ever enrolled the person and no certificate
  names them (it typed the name; nobody else relies on it yet);
- otherwise a regulator whose scope holds one of the person's enrolments, with a reason.

Both are audited. Issued certificates keep the name they were issued with.
"""
import re
from typing import Any, Iterable

from sqlalchemy import exists, select, update

from app import clock, scope
from app.extensions import db
from app.services import N_, DomainError, InvalidState, NotFound, audit, photo_checks
from app.services.transaction import transactional
from models.assessment import Certificate
from models.enrolment import Enrolment, Person

NAME = re.compile(r"^[\u3400-\u9fff\U00020000-\U0003134f·]{2,30}$")
_SPACES = re.compile(r"[\s\u3000\u00a0\u200b-\u200d\ufeff]+")
REASON_MAX = 200


class NameRefused(DomainError):
    message = N_("A name is 2 to 30 Chinese characters (and ·), nothing else.")


def normalize_name(value: str) -> str:
    """No spaces of any width; the middle dot of minority names in one form."""
    return _SPACES.sub("", value or "").replace("•", "·").replace("・", "·").replace("．", "·")


def registered_names(numbers: Iterable[str]) -> dict[str, str]:
    """ID number -> registered name, for the numbers that are already known."""
    numbers = list(numbers)
    names: dict[str, str] = {}
    for start in range(0, len(numbers), 500):
        names.update(db.session.execute(
            select(Person.id_number, Person.name)
            .where(Person.id_number.in_(numbers[start:start + 500]))).tuples().all())
    return names


def enterprise_may_rename(person_id: int, enterprise_id: int) -> bool:
    """Only the enterprise that alone ever enrolled the person, before any certificate."""
    others = exists().where(Enrolment.person_id == person_id,
                            Enrolment.enterprise_id != enterprise_id)
    certified = exists().where(Certificate.enrolment_id == Enrolment.id,
                               Enrolment.person_id == person_id)
    return not db.session.scalar(select(others | certified))


def rename(person: Person, name: str, *, reason: str = "", region_code: str | None = None) -> None:
    """Set the registered name (checked by the caller's rule), audited, in the caller's
    transaction. Conditional on the name read, so two corrections at once cannot both win."""
    old = person.name
    changed = db.session.execute(
        update(Person).where(Person.id == person.id, Person.name == old)
        .values(name=name, updated_at=clock.now())
        .execution_options(synchronize_session="fetch")).rowcount
    if not changed:
        raise InvalidState(N_("This record was changed meanwhile; please reload the page."))
    photo_checks.compare_again(person)  # a fixed name clears an ID card's mismatch
    after = {"name": name, **({"reason": reason} if reason else {})}
    audit.record("person.rename", person, before={"name": old}, after=after,
                 region_code=region_code)


@transactional
def correct_name(enrolment_id: int, user: Any, name: str, reason: str) -> None:
    """A regulator corrects the registered name of a trainee in its scope, with a reason."""
    if scope.primary_role(user) not in (scope.ADMIN, scope.CITY_REGULATOR,
                                             scope.PROVINCE_REGULATOR):
        raise NotFound()
    enrolment = db.session.scalars(scope.scoped_select(Enrolment, user).where(
        Enrolment.id == enrolment_id)).one_or_none()
    if enrolment is None:
        raise NotFound()
    name = normalize_name(name)
    if not NAME.match(name):
        raise NameRefused()
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(N_("Please give the reason for the correction."))
    if len(reason) > REASON_MAX:
        raise DomainError(N_("The reason is longer than %(n)s characters."), n=REASON_MAX)
    if name == enrolment.person.name:
        raise DomainError(N_("That is already the registered name."))
    rename(enrolment.person, name, reason=reason, region_code=enrolment.plan.region_code)
