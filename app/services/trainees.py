"""报名人员查询: find trainees by name, ID number or mobile (exact or prefix, on indexes),
filter by plan, occupation, year and the four progress states, within the user's row scope.

A search's cost does not grow with its matches: pages follow a keyset (the sort column, by name
also the person's id, then the enrolment id) carried by an opaque, signed cursor, the total is
counted up to COUNT_CAP (more is shown as "1000+"), and the default order is one an index
serves (Search.order). Exports still iterate every match (iterate()).

A row's four progress columns: the training plan's phase (from its dates), its assessment
plan's state, the score report's state, the trainee's certificate state.
"""
import datetime as dt
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Iterator, Optional

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import (
    Integer,
    Select,
    and_,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    union,
)
from sqlalchemy.orm import joinedload, selectinload

from app import clock, scope
from app.extensions import db
from app.services import NotFound, audit, photo_checks
from app.services.codes import mask_id_number, mask_mobile
from app.services.notices import notices_of
from app.services.transaction import transaction
from models.assessment import AssessmentPlan, Certificate, Score, ScoreReport
from models.enrolment import Enrolment, Person
from models.orders import Order
from models.states import (
    AssessmentState,
    CertificateState,
    EnrolmentState,
    PlanPhase,
    ScoreState,
)
from models.training import TrainingPlan

PER_PAGE = 20
# Matches are counted up to here; a search matching more says "1000+" (Page.total_text).
COUNT_CAP = 1000
# An authority's (or admin's) look at one trainee's whole ID number, in the audit log; not a
# state change, so not in the trainee's history.
VIEW_ID_ACTION = "trainee.view_id"
AUDITED_VIEWERS = (scope.CITY_REGULATOR, scope.PROVINCE_REGULATOR, scope.ADMIN)
DIGITS = re.compile(r"^[0-9]{1,17}[0-9Xx]?$")
SORTS = {
    "name": Person.name,
    "id_number": Person.id_number,
    "plan": TrainingPlan.train_start,
    "enrolled": Enrolment.created_at,
}
# Ties of a sort column broken before the enrolment id (the last tie-breaker of every order).
# By name, the person's id: (name, person id) is ix_person_name_id's order, so a page of a name
# reads that index in order and stops after a page; ordered by enrolment id within a name,
# every match of the name had to be read and sorted first (thousands for 张伟, bench/search.py).
TIES = {"name": (Person.id,)}


@dataclass
class Search:
    """What the user asked for; every field optional. Also what an export remembers."""

    q: str = ""
    plan_id: Optional[int] = None
    occupation_id: Optional[int] = None
    year: Optional[int] = None
    phase: str = ""
    assessment: str = ""
    score: str = ""
    certificate: str = ""
    sort: str = ""  # a key of SORTS, or "" for the default order (Search.order)
    desc: bool = True

    @classmethod
    def from_args(cls, args) -> "Search":
        """From request arguments; anything malformed is ignored rather than refused."""
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = args.get(item.name)
            if raw in (None, ""):
                continue
            if item.name in ("plan_id", "occupation_id", "year"):
                try:
                    values[item.name] = max(int(raw), 1)
                except ValueError:
                    continue
            elif item.name == "desc":
                values["desc"] = raw not in ("0", "false")
            else:
                values[item.name] = str(raw).strip()[:32]
        search = cls(**values)
        if search.sort not in SORTS:
            search.sort = ""
        return search

    @property
    def order(self) -> tuple[str, bool]:
        """(sort, descending): the chosen one, else by default the newest enrolments first, or
        for a name typed, by name (and person, TIES): those pages read off the name index in
        order, while the newest of a common name's thousands of matches must be sorted out of
        all of them."""
        if self.sort in SORTS:
            return self.sort, self.desc
        if self.q.strip() and not DIGITS.match(self.q.strip()):
            return "name", False
        return "enrolled", True

    @classmethod
    def stored(cls, values: dict) -> "Search":
        """From as_dict() output, also one stored before a field was dropped (exports)."""
        known = {item.name for item in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Row:
    enrolment: Enrolment
    person: Person
    plan: TrainingPlan
    phase: Optional[PlanPhase]
    assessment: AssessmentState
    score: ScoreState
    certificate: CertificateState


def _prefix(column, text: str):
    """column starts with text, as a range the column's index can serve (LIKE often cannot)."""
    return and_(column >= text, column < text + "\U0010ffff")  # past every character


def _text_clause(q: str):
    q = q.strip()
    if not q:
        return None
    if DIGITS.match(q):
        number = q.upper()
        if len(number) == 18:
            return Person.id_number == number
        by_id = _prefix(Person.id_number, number)
        if len(number) > 11:
            return by_id
        by_mobile = (Enrolment.mobile == number if len(number) == 11
                     else _prefix(Enrolment.mobile, number))
        # The ID number is the person's and the mobile the enrolment's: an OR across the two
        # tables can use neither index, a union of two index ranges can.
        return Enrolment.id.in_(union(
            select(Enrolment.id).join(Person, Person.id == Enrolment.person_id).where(by_id),
            select(Enrolment.id).where(by_mobile)))
    return _prefix(Person.name, q)  # the exact name is in the range too


# Progress, as SQL (for filters) and as states (for rows) --------------------------------------

def _joined(user: Any, progress: bool = True) -> Select:
    """Trainees in the user's scope with their plan, assessment, score report and certificate;
    with `progress` False only the enrolment ids, joined to person and plan but not to the three
    progress tables. Each of those outer joins finds at most one row (their keys are unique),
    so leaving them out changes no match; PostgreSQL drops such a join itself, but still reads
    the enrolment id it joined on, and so could not count off uq_enrolment_live_person_plan
    alone (an index-only scan)."""
    query = (select(Enrolment, Person, TrainingPlan, AssessmentPlan.state, ScoreReport.state,
                    Certificate.state) if progress else select(Enrolment.id))
    query = (query.join(Person, Person.id == Enrolment.person_id)
             .join(TrainingPlan, TrainingPlan.id == Enrolment.plan_id))
    if progress:
        query = (query.outerjoin(AssessmentPlan, AssessmentPlan.plan_id == Enrolment.plan_id)
                 .outerjoin(ScoreReport, ScoreReport.assessment_id == AssessmentPlan.id)
                 .outerjoin(Certificate, Certificate.enrolment_id == Enrolment.id))
    return query.where(Enrolment.status == EnrolmentState.LIVE.value,
                       scope.scope_clause(Enrolment, user))


# The progress filters on the three outer-joined tables: the Search field, its states, the
# state column, and the state a missing row reads as.
PROGRESS_FILTERS = (
    ("assessment", AssessmentState, AssessmentPlan.state, AssessmentState.DRAFT),
    ("score", ScoreState, ScoreReport.state, ScoreState.NOT_REPORTED),
    ("certificate", CertificateState, Certificate.state, CertificateState.NOT_GENERATED),
)


def _progress_conditions(search: Search) -> list:
    """A condition per progress filter the search sets to a known state (others are ignored)."""
    found = []
    for field_name, states, column, missing in PROGRESS_FILTERS:
        value = getattr(search, field_name)
        if value in {state.value for state in states}:
            found.append(func.coalesce(column, missing.value) == value)
    return found


def _filtered(search: Search, user: Any, rows: bool = True) -> Select:
    """The matches of `search` in the user's scope: whole rows, or (`rows` False) only what the
    count and the page's ids need, the progress tables joined only when a filter asks."""
    progress = _progress_conditions(search)
    query = _joined(user, rows or bool(progress)).where(*progress)
    text = _text_clause(search.q)
    if text is not None:
        query = query.where(text)
    if search.plan_id:
        query = query.where(Enrolment.plan_id == search.plan_id)
    if search.occupation_id:
        query = query.where(Enrolment.occupation_id == search.occupation_id)
    if search.year:
        query = query.where(TrainingPlan.train_start >= dt.date(search.year, 1, 1),
                            TrainingPlan.train_start < dt.date(search.year + 1, 1, 1))
    if search.phase in {p.value for p in PlanPhase}:
        query = query.where(TrainingPlan.in_phase(PlanPhase(search.phase), clock.now()))
    return query


def _row(found) -> Row:
    from app.services.plans import phase

    enrolment, person, plan, assessment, score, certificate = found
    return Row(enrolment, person, plan, phase(plan),
               AssessmentState(assessment or AssessmentState.DRAFT.value),
               ScoreState(score or ScoreState.NOT_REPORTED.value),
               CertificateState(certificate or CertificateState.NOT_GENERATED.value))


# What a page of results shows beside its rows (企业, 培训机构, 职业(工种) · 等级): joined to the
# page's own statement (each a row by primary key), not a query per row nor one each.
SHOWN = (joinedload(Enrolment.enterprise), joinedload(Enrolment.occupation),
         joinedload(Enrolment.level), joinedload(TrainingPlan.institution))


class BadCursor(ValueError):
    """A page cursor this server did not write (the view answers 400)."""


class StaleCursor(BadCursor):
    """A cursor this server wrote, but not for this search's order or in today's form: a link
    bookmarked before a change, or the order changed by hand (the view starts at page 1)."""


@dataclass
class Page:
    """One page of matches: its rows, the matches counted up to COUNT_CAP, and the cursors of
    the pages before and after it (None at either end)."""

    rows: list[Row]
    total: int
    capped: bool  # more than COUNT_CAP matches; total is then COUNT_CAP
    number: int
    previous: Optional[str]
    next: Optional[str]

    @property
    def total_text(self) -> str:
        return f"{self.total}+" if self.capped else str(self.total)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="trainees.search.cursor")


def _key_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def _an_id(value: Any) -> bool:
    return type(value) is int and 0 < value < 2**31


def _key_value(sort: str, text: Any) -> tuple:
    """The sort key a cursor carries: the sort column's value as text, or with TIES (by name)
    a list of it and the tie-breakers' ids."""
    ties = ()
    if sort in TIES:
        if not (type(text) is list and len(text) == 1 + len(TIES[sort])
                and all(_an_id(value) for value in text[1:])):
            raise ValueError("not a key of this order")
        text, ties = text[0], tuple(text[1:])
    if not isinstance(text, str) or len(text) > 32:
        raise ValueError(text)
    if sort == "enrolled":
        return dt.datetime.fromisoformat(text), *ties
    if sort == "plan":
        return dt.date.fromisoformat(text), *ties
    return text, *ties


def _key_columns(sort: str) -> tuple:
    """The columns a page is ordered by before the enrolment id."""
    return (SORTS[sort], *TIES.get(sort, ()))


def _cursor(query: Search, row: Row, forward: bool, number: int) -> str:
    """The cursor of the page before (forward False) or after `row`, the page `number`."""
    sort, desc = query.order
    sources = {Person: row.person, TrainingPlan: row.plan, Enrolment: row.enrolment}
    value, *ties = [getattr(sources[column.class_], column.key)
                    for column in _key_columns(sort)]
    key = [_key_text(value), *ties] if ties else _key_text(value)
    return _serializer().dumps([sort, int(desc), key, row.enrolment.id, int(forward), number])


def read_cursor(text: str, query: Search) -> tuple[tuple, int, bool, int]:
    """(sort key, enrolment id, forward, page number) of a cursor written for `query`'s
    order: BadCursor when this server did not sign it, StaleCursor when it did but it does
    not fit. The sort key has the sort column's value, then its TIES."""
    try:
        content = _serializer().loads(text)
    except BadData as error:
        raise BadCursor(str(error)) from None
    try:
        sort, desc, value, last_id, forward, number = content
        if (sort, bool(desc)) != query.order or desc not in (0, 1):
            raise ValueError("another order")
        if not (_an_id(last_id) and forward in (0, 1) and _an_id(number)):
            raise ValueError("out of range")
        return _key_value(sort, value), last_id, bool(forward), number
    except (TypeError, ValueError) as error:
        raise StaleCursor(str(error)) from None


def _matching(filtered: Select, query: Search) -> tuple[Select, Any, tuple]:
    """SELECT of the matches' enrolment id, with that id and the sort columns (_key_columns) to
    order and page by. With a key typed, the matches are planned as a whole first (OFFSET 0
    keeps PostgreSQL from flattening them into the LIMIT above): otherwise a LIMIT makes it bet
    that matches are spread evenly and walk ix_enrolment_created_at_id until it finds enough,
    1.4 s for 王伟 among 1,000,000 (bench/search.py). A key's matches are as many as its people,
    a few thousand at most; without a key the walk is the right plan, and so is a page of a
    name in name order (ix_person_name_id's range, walked in order)."""
    sort, _desc = query.order
    columns = _key_columns(sort)
    q = query.q.strip()
    if not q or (sort == "name" and not DIGITS.match(q)):
        return filtered.with_only_columns(Enrolment.id), Enrolment.id, columns
    inner = (filtered.with_only_columns(Enrolment.id.label("id"), *(
        column.label(f"sort_key_{n}") for n, column in enumerate(columns)))
        .order_by(None).offset(0).subquery())
    return (select(inner.c.id), inner.c.id,
            tuple(inner.c[f"sort_key_{n}"] for n in range(len(columns))))


def _counted(filtered: Select, query: Search) -> Select:
    """SELECT of a constant per match, to count them. With a key typed, planned as a whole
    first, as in _matching (else a LIMIT makes PostgreSQL walk every enrolment until it finds
    enough). No column of its own, so that PostgreSQL can count off indexes alone: for a name
    ix_person_name_id, then uq_enrolment_live_person_plan (a person's live enrolments and their
    plans, which the region's scope asks for)."""
    found = filtered.with_only_columns(literal_column("1").label("found")).order_by(None)
    if query.q.strip():
        return select(found.offset(0).subquery().c.found)
    return found


def _page_rows(filtered: Select, query: Search, user: Any, after: Optional[tuple],
               forward: bool, limit: int) -> list[Row]:
    """Up to `limit` rows in the search's order (forward) or against it, after the key.

    First the ids alone (the sort needs every match's key, not its joined columns), then the
    page's rows with all they show, by id. One statement with SHOWN's four joins too has ten
    tables, past PostgreSQL's join_collapse_limit (8), and measured p95 0.2-0.7 s for ID and
    name prefixes at 200,000 enrolments (bench/search.py)."""
    matches, id_column, key_columns = _matching(filtered, query)
    sort, desc = query.order
    descending = desc == forward
    if after is not None:
        values, last_id = after
        bounds = [literal(value, column.type)
                  for value, column in zip(values, _key_columns(sort))]
        key = tuple_(*key_columns, id_column)
        bound = tuple_(*bounds, literal(last_id, Integer()))
        matches = matches.where(key < bound if descending else key > bound)
        if len(key_columns) > 1:
            # The same bound without the enrolment id, columns of one index (by name:
            # ix_person_name_id), so that a later page starts its scan at the last person
            # rather than at the first of its name.
            prefix = tuple_(*key_columns)
            matches = matches.where(prefix <= tuple_(*bounds) if descending
                                    else prefix >= tuple_(*bounds))
    ordering = [column.desc() if descending else column.asc()
                for column in (*key_columns, id_column)]
    ids = db.session.scalars(matches.order_by(*ordering).limit(limit)).all()
    if not ids:
        return []
    found = {r[0].id: _row(r) for r in db.session.execute(
        _joined(user).where(Enrolment.id.in_(ids)).options(*SHOWN))}
    return [found[i] for i in (ids if forward else reversed(ids)) if i in found]


def _count(filtered: Select, query: Search, at_most: Optional[int]) -> int:
    found = _counted(filtered, query)
    if at_most is not None:
        found = found.limit(at_most + 1)  # SELECT count(*) FROM (SELECT ... LIMIT at_most + 1)
    return db.session.scalar(select(func.count()).select_from(found.subquery()))


def count(query: Search, user: Any, at_most: Optional[int] = None) -> int:
    """The number of matches; with `at_most`, counting stops past it (at most + 1)."""
    return _count(_filtered(query, user, rows=False), query, at_most)


def search(query: Search, user: Any, cursor: str = "", per_page: int = PER_PAGE) -> Page:
    """The page of matches `cursor` points to (the first without one), the matches counted up
    to COUNT_CAP; BadCursor or StaleCursor (read_cursor). Three statements:
    the capped count, the page's ids (per_page + 1, to know whether more follow), its rows."""
    after, forward, number = None, True, 1
    if cursor:
        key, last_id, forward, number = read_cursor(cursor, query)
        after = (key, last_id)
    filtered = _filtered(query, user, rows=False)
    total = _count(filtered, query, COUNT_CAP)
    rows = _page_rows(filtered, query, user, after, forward, per_page + 1)
    if forward:
        more_after, more_before = len(rows) > per_page, after is not None
        rows = rows[:per_page]
    else:
        more_before, more_after = len(rows) > per_page, True
        rows = rows[-per_page:]
        if not more_before:  # back at the start (rows may have come or gone meanwhile)
            number = 1
            if len(rows) < per_page:
                rows = _page_rows(filtered, query, user, None, True, per_page + 1)
                more_after = len(rows) > per_page
                rows = rows[:per_page]
    return Page(rows=rows, total=min(total, COUNT_CAP), capped=total > COUNT_CAP, number=number,
                previous=_cursor(query, rows[0], False, max(number - 1, 1))
                if rows and more_before else None,
                next=_cursor(query, rows[-1], True, number + 1) if rows and more_after else None)


def iterate(query: Search, user: Any, batch: int = 1000) -> Iterator[Row]:
    """Every match in sort order, fetched in batches by keyset on the enrolment id."""
    last = 0
    while True:
        chunk = db.session.execute(
            _filtered(query, user).where(Enrolment.id > last).order_by(Enrolment.id)
            .limit(batch).options(selectinload(Enrolment.enterprise))).all()
        if not chunk:
            return
        for found in chunk:
            yield _row(found)
        last = chunk[-1][0].id
        db.session.expunge_all()  # bounded memory over 50,000 rows


# Detail ---------------------------------------------------------------------------------------

@dataclass
class Detail:
    row: Row
    order: Optional[Order]
    assessment: Optional[AssessmentPlan]
    report: Optional[ScoreReport]
    score: Optional[Score]
    certificate: Optional[Certificate]
    full_id: bool
    history: dict[str, list]
    notices: list
    checks: dict = field(default_factory=dict)  # {kind: PhotoCheck}: what the machine found


def detail(enrolment_id: int, user: Any) -> Detail:
    """Everything about one trainee in the user's scope, else NotFound. An authority (or an
    admin) opening it sees the whole ID number, and that look is audited (without the number)."""
    found = db.session.execute(_joined(user).where(Enrolment.id == enrolment_id)).first()
    if found is None:
        raise NotFound()
    row = _row(found)
    enrolment = row.enrolment
    order = db.session.get(Order, enrolment.order_id) if enrolment.order_id else None
    assessment = db.session.scalars(select(AssessmentPlan).where(
        AssessmentPlan.plan_id == enrolment.plan_id)).one_or_none()
    report = assessment.score_report if assessment else None
    score = db.session.scalars(select(Score).where(
        Score.enrolment_id == enrolment.id)).one_or_none()
    certificate = db.session.scalars(select(Certificate).where(
        Certificate.enrolment_id == enrolment.id)).one_or_none()
    full_id = may_see_full_id(enrolment, user)
    if not full_id and scope.primary_role(user) in AUDITED_VIEWERS:
        # VIEW_ID_ACTION written out: tests/web/test_navigation_and_language.py finds codes so.
        with transaction():  # the look is on record before the number is shown
            audit.record("trainee.view_id", enrolment, region_code=row.plan.region_code)
        full_id = True
    return Detail(row, order, assessment, report, score, certificate, full_id=full_id,
                  history=_history(enrolment, order, assessment, report, certificate),
                  notices=notices_of(enrolment.id),
                  checks=photo_checks.of_enrolments([enrolment.id]).get(enrolment.id, {}))


def may_see_full_id(enrolment: Enrolment, user: Any) -> bool:
    """Whether `user` sees this trainee's whole ID number (and mobile) on lists, exports and
    pages: the enterprise that enrolled the trainee and the plan's institution (they supplied
    the numbers and match photo files by them). Everyone else sees them masked; an authority
    opening one trainee's 详情 sees them whole, audited (detail())."""
    role = scope.primary_role(user)
    if role == scope.ENTERPRISE:
        return enrolment.enterprise_id == user.enterprise_id
    if role == scope.INSTITUTION:
        return enrolment.plan.institution_id == user.institution_id
    return False


def shown_id_number(enrolment: Enrolment, user: Any) -> str:
    """The trainee's ID number as `user` may see it in a list."""
    number = enrolment.person.id_number
    return number if may_see_full_id(enrolment, user) else mask_id_number(number)


def shown_mobile(enrolment: Enrolment, user: Any) -> str:
    """The enrolment's mobile as `user` may see it in a list."""
    mobile = enrolment.mobile
    return mobile if may_see_full_id(enrolment, user) else mask_mobile(mobile)


def shows_enterprise(user: Any) -> bool:
    """Whether 报名人员查询 (and its export) has an 企业 column: for all but an enterprise,
    whose trainees are all its own."""
    return scope.primary_role(user) != scope.ENTERPRISE


def _history(enrolment, order, assessment, report, certificate) -> dict[str, list]:
    """State changes, from the audit log, for the training and assessment sections."""
    from models.audit import AuditLog

    def entries(*objects):
        pairs = [(type(o).__name__, str(o.id)) for o in objects if o is not None]
        if not pairs:
            return []
        return list(db.session.scalars(select(AuditLog).where(or_(*[
            and_(AuditLog.object_type == kind, AuditLog.object_id == key) for kind, key in pairs
        ]), AuditLog.action != VIEW_ID_ACTION).order_by(AuditLog.at, AuditLog.id)))

    return {"identity": entries(enrolment.person),
            "training": entries(enrolment, order),
            "assessment": entries(assessment, report),
            "certificate": entries(certificate)}

