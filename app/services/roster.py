"""批量报名: check a filled-in 《报名人员信息表》 and import it, all or nothing.

One `check()` serves the web upload and `flask --app run roster check`. It forgives harmless
mess (spaces, full-width characters, a lowercase x, numbers that are still exact) and reports
every real error with its Excel row, header text, value and a Chinese reason.
"""
import datetime as dt
import difflib
import unicodedata
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Optional

from flask_babel import gettext
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.services import N_, DomainError, people, workbooks
from app.services.codes import (
    ID_NUMBER_CHARS,
    MOBILE,
    id_birth_date,
    id_check_digit,
    id_gender,
    normalize_mobile,
)
from app.services.dictionaries import active_values
from app.services.roster_template import HEADERS, SHEET, RosterHeader
from app.services.workbooks import SPACES, CellError, SheetReport, clean_text, exact_digits
from models.enrolment import Enrolment, Person
from models.reference import Education, Occupation, OccupationLevel, ProfessionalTitle
from models.states import EnrolmentState
from models.training import TrainingPlan

MAX_ROWS = 20_000
HEADER_ROWS = 6  # the header may sit on any of the first five rows
BATCH_ROWS = 500  # rows read before they are checked (see _read)
MIN_AGE = 16
REQUIRED = HEADERS[1:]  # 序号 may be missing or empty
DICTIONARY_COLUMNS = {RosterHeader.EDUCATION: Education, RosterHeader.TITLE: ProfessionalTitle,
                      RosterHeader.OCCUPATION: Occupation, RosterHeader.LEVEL: OccupationLevel}
# What check_against_plan reads.
PLAN_CELLS = (RosterHeader.NAME, RosterHeader.ID_NUMBER, RosterHeader.OCCUPATION, RosterHeader.LEVEL)
# A row's cells in _check_row: a tuple in REQUIRED order, and where each header is in it.
_WIDTH = len(REQUIRED)
_AT = {header: REQUIRED.index(header) for header in RosterHeader if header in REQUIRED}
_NAME, _GENDER, _ID, _MOBILE, _OCCUPATION, _LEVEL = (_AT[h] for h in (
    RosterHeader.NAME, RosterHeader.GENDER, RosterHeader.ID_NUMBER, RosterHeader.MOBILE,
    RosterHeader.OCCUPATION, RosterHeader.LEVEL))
# In Trainee's field order (education_id, title_id, occupation_id, level_id).
_DICTIONARY_AT = tuple((header, _AT[header]) for header in (
    RosterHeader.EDUCATION, RosterHeader.TITLE, RosterHeader.OCCUPATION, RosterHeader.LEVEL))
_PLAN_KEYS = tuple(header.value for header in PLAN_CELLS)


class RosterRefused(DomainError):
    """The file itself is unusable (not an xlsx, too big, a macro workbook ...)."""

    message = N_("The roster file was refused.")


@dataclass
class Trainee:
    """A checked row. In a row with errors (Report.partial) a field whose cell is wrong is
    empty ("" or None): the plan's checks still look at the cells that are right."""

    row: Optional[int]
    name: str
    gender: str
    id_number: str
    mobile: str
    education_id: Optional[int]
    title_id: Optional[int]
    occupation_id: Optional[int]
    level_id: Optional[int]
    cells: dict[str, Any] = field(default_factory=dict, repr=False)  # PLAN_CELLS as typed


@dataclass
class Report(SheetReport):
    """The sheet's report (rows, errors, header_row, columns), with the rows it checked."""

    trainees: list[Trainee] = field(default_factory=list)
    partial: list[Trainee] = field(default_factory=list)  # rows with errors, for plan checks


# ---- the file ---------------------------------------------------------------------------

def open_workbook(data: bytes):
    """The workbook (read-only), if its roster sheet is no wider or longer than the template
    needs: size, macros and extent are checked before any row is parsed (see workbooks)."""
    try:
        return workbooks.open_bounded(data, SHEET, columns=len(HEADERS), rows=MAX_ROWS,
                                      header_rows=HEADER_ROWS, parsed_later=True)
    except workbooks.WorkbookRefused as refused:
        raise RosterRefused(refused.args[0], **refused.params) from None


def _refuse_if_damaged(workbook) -> None:
    """Refuse a sheet whose XML is damaged, as open_workbook would have before reading a row:
    for an answer given before openpyxl has read them all (see workbooks.open_bounded)."""
    try:
        workbooks.damaged_sheet(workbook, workbooks.sheet_of(workbook, SHEET))
    except workbooks.WorkbookRefused as refused:
        raise RosterRefused(refused.args[0], **refused.params) from None


def _rows(workbook):
    sheet = workbooks.sheet_of(workbook, SHEET)
    for index, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if index > MAX_ROWS + HEADER_ROWS:
            raise RosterRefused(N_("The roster has more than %(n)s rows; please split it."),
                                n=MAX_ROWS)
        yield index, values


# ---- cells ------------------------------------------------------------------------------

def check_id_number(raw: str, today: Optional[dt.date] = None) -> Optional[str]:
    """The reason an ID number is wrong, or None: the one check of an ID number (GB 11643-1999:
    18 ASCII characters, a real birth date, the check digit). With `today` (a trainee's number),
    also born since 1900, not in the future, and at least MIN_AGE."""
    if len(raw) != 18:
        return gettext("The ID number must have 18 characters (it has %(n)s).", n=len(raw))
    if not ID_NUMBER_CHARS.match(raw):  # ASCII digits only: isdigit() takes any script's
        return gettext("The ID number has characters that are not allowed.")
    birth = id_birth_date(raw)
    if birth is None or today is not None and (birth > today or birth.year < 1900):
        return gettext("The birth date in the ID number is impossible.")
    if id_check_digit(raw[:17]) != raw[17]:
        return gettext("Wrong check digit: the last character should be %(c)s; please check "
                       "the number.", c=id_check_digit(raw[:17]))
    if today is None:
        return None
    age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    if age < MIN_AGE:
        return gettext("The person is younger than %(n)s today.", n=MIN_AGE)
    return None


class _Dictionaries:
    def __init__(self):
        self.values = {header: {SPACES.sub("", item.name): item.id
                                for item in active_values(model)}
                       for header, model in DICTIONARY_COLUMNS.items()}
        self.known: dict[str, dict[str, int]] = {header: {} for header in DICTIONARY_COLUMNS}

    def lookup(self, header: str, raw: str, row: int, errors: list) -> Optional[int]:
        known = self.known[header]  # raw text -> id, of the texts already found
        if raw in known:
            return known[raw]
        key = SPACES.sub("", raw)
        options = self.values[header]
        if key in options:
            known[raw] = options[key]
            return options[key]
        close = difflib.get_close_matches(key, list(options), n=1, cutoff=0.3)
        hint = gettext("Did you mean “%(option)s”?", option=close[0]) if close else ""
        errors.append(CellError(row, header, raw, gettext(
            "Not an option of “%(column)s”; choose from the dropdown. %(hint)s",
            column=header, hint=hint).strip()))
        return None


# ---- the check --------------------------------------------------------------------------

def check(data: bytes, plan: Optional[TrainingPlan] = None,
          today: Optional[dt.date] = None) -> Report:
    """Validate a roster; with a plan, also against its seats and current enrolments."""
    today = today or clock.today()
    with workbooks.collector_paused():
        workbook = open_workbook(data)
        report = Report()
        try:
            _read(workbook, report, today)
        except RosterRefused:
            raise
        except Exception:  # a cell or sheet openpyxl cannot read
            raise RosterRefused(N_("The file is damaged or not an .xlsx workbook.")) from None
        finally:
            workbook.close()
    if report.header_row is None:
        return report  # the header errors say it all
    if report.rows == 0:
        report.errors.append(CellError(None, None, None, gettext(
            "The roster has no trainees: fill in rows below the header.")))
    if plan is not None:
        check_against_plan(plan, report)
        # A row's own errors and the plan's next to each other; the roster's own ones last.
        report.errors.sort(key=lambda e: (e.row is None, e.row or 0))
    return report


def _read(workbook, report: Report, today: dt.date) -> None:
    """Header, then every data row, into the report."""
    rows = _rows(workbook)
    header_row, columns = _find_header(rows, report)
    if header_row is None:
        _refuse_if_damaged(workbook)
        return
    dictionaries = _Dictionaries()
    seen: dict[str, int] = {}
    # Each row's cells as a tuple in REQUIRED order (序号, if there, last: only to tell an
    # empty row), taken in one C call when the row is wide enough.
    indexes = [columns[header] for header in REQUIRED]
    if RosterHeader.NUMBER in columns:
        indexes.append(columns[RosterHeader.NUMBER])
    take, need = itemgetter(*indexes), max(indexes) + 1
    errors, trainees, partial = report.errors, report.trainees, report.partial
    # Rows are read BATCH_ROWS at a time, then checked: openpyxl's parsing and the checks,
    # each in a run of its own, keep their code and data in the CPU's caches (some 10% of
    # the whole). What openpyxl raises waits until the rows read before it are checked, as
    # when each row was checked as soon as read: a refusal of those rows comes first.
    batch: list[tuple[int, tuple]] = []
    while True:
        failure = None
        try:
            for item in rows:
                batch.append(item)
                if len(batch) == BATCH_ROWS:
                    break
        except Exception as error:
            failure = error
        for index, values in batch:
            if len(values) >= need:
                cells = take(values)
            else:
                width = len(values)
                cells = tuple(values[i] if i < width else None for i in indexes)
            # clean_text, inlined: text cells are nearly all of them (and 序号 an int)
            text = ["" if value is None else (value.strip() if value.isascii() else
                                              unicodedata.normalize("NFKC", value).strip())
                    if value.__class__ is str else str(value) if value.__class__ is int
                    else clean_text(value) for value in cells]
            if not any(text):
                continue
            report.rows += 1
            if report.rows > MAX_ROWS:
                _refuse_if_damaged(workbook)
                raise RosterRefused(N_("The roster has more than %(n)s rows; please split it."),
                                    n=MAX_ROWS)
            before = len(errors)
            trainee = _check_row(index, cells, text, today, dictionaries, errors, seen)
            (trainees if len(errors) == before else partial).append(trainee)
        if failure is not None:
            raise failure
        if len(batch) < BATCH_ROWS:
            return
        batch.clear()


def _find_header(rows, report: Report) -> tuple[Optional[int], dict[str, int]]:
    best: tuple[int, Optional[int], dict[str, int]] = (0, None, {})
    for index, values in rows:
        found = {}
        for i, value in enumerate(values):
            text = SPACES.sub("", clean_text(value))
            if text in HEADERS and text not in found:
                found[text] = i
        if len(found) > best[0]:
            best = (len(found), index, found)
        if all(h in found for h in REQUIRED):
            report.header_row, report.columns = index, found
            return index, found
        if index >= 5:
            break
    missing = [h for h in REQUIRED if h not in best[2]]
    if best[0] >= 3:
        for header in missing:
            report.errors.append(CellError(best[1], header, None, gettext(
                "The column “%(column)s” is missing from the header row.", column=header)))
    else:
        report.errors.append(CellError(None, None, None, gettext(
            "No header row found in the first 5 rows; use the downloaded 《报名人员信息表》.")))
    return None, {}


def check_cells(values: dict[str, Any], errors: list) -> Optional[Trainee]:
    """One trainee typed into the form (header -> value), under the roster's rules."""
    cells = tuple(values.get(header) for header in REQUIRED)
    before = len(errors)
    trainee = _check_row(None, cells, [clean_text(v) for v in cells], clock.today(),
                         _Dictionaries(), errors)
    return trainee if len(errors) == before else None


def _check_row(row: Optional[int], cells: tuple, text: list[str], today: dt.date,
               dictionaries: _Dictionaries, errors: list,
               seen: Optional[dict[str, int]] = None) -> Trainee:
    """Every error of one row, each with what its cell held; the row's values, a wrong
    cell's left empty. `cells`: the row's values in REQUIRED order (more may follow), `text`
    their clean_text. `seen` (ID number -> first row) finds repeats of a valid ID number,
    whatever else is wrong in either row."""
    before = len(errors)
    if "" in text[:_WIDTH]:
        for i, header in enumerate(REQUIRED):
            if not text[i]:
                errors.append(CellError(row, header, cells[i],
                                        gettext("This cell must not be empty.")))
    H = RosterHeader

    def refuse(header: RosterHeader, message: str) -> None:
        errors.append(CellError(row, header, cells[_AT[header]], message))

    name = people.normalize_name(text[_NAME])
    if name and not people.NAME.match(name):
        refuse(H.NAME, gettext("A name is 2 to 30 Chinese characters (and ·), nothing else."))
    id_number = _digits(cells[_ID], text[_ID], H.ID_NUMBER, row, errors)
    if id_number:
        id_number = id_number.upper()
        problem = check_id_number(id_number, today)
        if problem:
            refuse(H.ID_NUMBER, problem)
            id_number = ""
    if id_number and seen is not None:
        if id_number in seen:
            refuse(H.ID_NUMBER, gettext("The same ID number is already on row %(row)s.",
                                        row=seen[id_number]))
        else:
            seen[id_number] = row
    gender = SPACES.sub("", text[_GENDER])
    if gender and gender not in ("男", "女"):
        refuse(H.GENDER, gettext("性别 must be 男 or 女."))
    elif gender and id_number:
        expected = "男" if id_gender(id_number) == "male" else "女"
        if gender != expected:
            refuse(H.GENDER, gettext("The ID number says %(expected)s.", expected=expected))
    mobile = _digits(cells[_MOBILE], text[_MOBILE], H.MOBILE, row, errors)
    mobile = normalize_mobile(mobile)
    if mobile and not MOBILE.match(mobile):
        refuse(H.MOBILE, gettext("A mobile number has 11 digits and starts with 13 to 19."))
    ids = [dictionaries.lookup(header, text[i], row, errors) if text[i] else None
           for header, i in _DICTIONARY_AT]
    # Keys as plain text (equal to the headers): a dict of text and values only is left
    # out of the garbage collector's passes, 10,000 of them on a long roster.
    plan_cells = {_PLAN_KEYS[0]: cells[_NAME], _PLAN_KEYS[1]: cells[_ID],
                  _PLAN_KEYS[2]: cells[_OCCUPATION], _PLAN_KEYS[3]: cells[_LEVEL]}
    if len(errors) > before:
        wrong = {error.column for error in errors[before:]}
        name, gender, id_number, mobile = ("" if header in wrong else value for header, value in (
            (H.NAME, name), (H.GENDER, gender), (H.ID_NUMBER, id_number), (H.MOBILE, mobile)))
    return Trainee(row, name, gender, id_number, mobile, *ids, plan_cells)


def _digits(value: Any, text: str, header: str, row: Optional[int], errors: list) -> Optional[str]:
    """exact_digits of an ID or phone cell whose clean_text is `text` ("" if empty): a text
    cell's is `text` without spaces, no need to clean it again."""
    if not text:
        return ""
    if value.__class__ is str:
        return SPACES.sub("", text)
    return exact_digits(value, header, row, errors)


def check_against_plan(plan: TrainingPlan, report: Report) -> None:
    """The plan's rules on every row, a row with other errors too (its right cells)."""
    rows = sorted(report.trainees + report.partial, key=lambda t: t.row or 0)
    for trainee in rows:
        if trainee.occupation_id is not None and trainee.occupation_id != plan.occupation_id:
            report.errors.append(CellError(trainee.row, RosterHeader.OCCUPATION,
                                           trainee.cells.get(RosterHeader.OCCUPATION), gettext(
                "This plan trains “%(name)s”.", name=plan.occupation.name)))
        if trainee.level_id is not None and trainee.level_id != plan.level_id:
            report.errors.append(CellError(trainee.row, RosterHeader.LEVEL,
                                           trainee.cells.get(RosterHeader.LEVEL),
                                           gettext("This plan is for “%(name)s”.",
                                                   name=plan.level.name)))
    numbers = [t.id_number for t in rows if t.id_number]
    registered = people.registered_names(numbers)
    for trainee in rows:
        if trainee.name and trainee.id_number in registered \
                and registered[trainee.id_number] != trainee.name:
            # Never say which name is registered: that would reveal it to whoever has the number.
            report.errors.append(CellError(trainee.row, RosterHeader.NAME,
                                           trainee.cells.get(RosterHeader.NAME), gettext(
                "The name differs from the one registered for this ID number; check both. If "
                "the registered name is wrong, ask the city authority of the plan's region to "
                "correct it.")))
    enrolled = set()
    for start in range(0, len(numbers), 500):
        enrolled |= set(db.session.scalars(
            select(Person.id_number).join(Enrolment, Enrolment.person_id == Person.id)
            .where(Enrolment.plan_id == plan.id, Enrolment.status == EnrolmentState.LIVE.value,
                   Person.id_number.in_(numbers[start:start + 500]))))
    for trainee in rows:
        if trainee.id_number in enrolled:
            report.errors.append(CellError(trainee.row, RosterHeader.ID_NUMBER,
                                           trainee.cells.get(RosterHeader.ID_NUMBER), gettext(
                "This person is already enrolled in this plan.")))
    seats_left = plan.seats_left
    if report.rows > seats_left:
        report.errors.append(CellError(None, None, report.rows, gettext(
            "The roster has %(rows)s trainees but the plan has %(left)s seats left.",
            rows=report.rows, left=max(seats_left, 0))))


def annotated_workbook(data: bytes, report: Report, sheet_name: str) -> Optional[bytes]:
    """The uploaded workbook with the bad cells of `sheet_name` (else the first sheet) filled
    red and a comment saying why, the first workbooks.MAX_LISTED_ERRORS of them; None when the
    workbook is too large to mark in bounded time and memory (the page lists the errors)."""
    return workbooks.marked_copy(data, report.errors, report.columns, sheet_name)
