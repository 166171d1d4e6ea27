"""批量报名: check a filled-in 《报名人员信息表》 and import it, all or nothing.

One `check()` serves the web upload and `flask --app run roster check`. It forgives harmless
mess (spaces, full-width characters, a lowercase x, numbers that are still exact) and reports
every real error with its Excel row, header text, value and a Chinese reason.
"""
import datetime as dt
import difflib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from typing import Any, Optional

from flask_babel import gettext
from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill
from sqlalchemy import select

from app.extensions import db
from app.services import N_, DomainError, clock
from app.services.codes import id_birth_date, id_check_digit, id_gender
from app.services.dictionaries import active_values
from app.services.roster_template import HEADERS, SHEET
from models.enrolment import Enrolment, Person
from models.reference import Education, Occupation, OccupationLevel, ProfessionalTitle
from models.training import TrainingPlan

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024
MAX_ROWS = 20_000
MIN_AGE = 16
REQUIRED = HEADERS[1:]  # 序号 may be missing or empty
DICTIONARY_COLUMNS = {"文化程度": Education, "职称": ProfessionalTitle,
                      "职业(工种)名称": Occupation, "职业等级": OccupationLevel}
NAME = re.compile(r"^[\u3400-\u9fff·]{2,30}$")
MOBILE = re.compile(r"^1[3-9]\d{9}$")
SPACES = re.compile(r"[\s\u3000\u00a0]+")


class RosterRefused(DomainError):
    """The file itself is unusable (not an xlsx, too big, a macro workbook ...)."""

    message = N_("The roster file was refused.")


@dataclass
class CellError:
    row: Optional[int]
    column: Optional[str]
    value: Any
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column,
                "value": None if self.value is None else str(self.value), "message": self.message}


@dataclass
class Trainee:
    row: int
    name: str
    gender: str
    id_number: str
    mobile: str
    education_id: int
    title_id: int
    occupation_id: int
    level_id: int


@dataclass
class Report:
    rows: int = 0
    errors: list[CellError] = field(default_factory=list)
    trainees: list[Trainee] = field(default_factory=list)
    header_row: Optional[int] = None
    columns: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        report = {"ok": self.ok, "rows": self.rows}
        if self.errors:
            report["errors"] = [e.as_dict() for e in self.errors]
        return report


# ---- the file ---------------------------------------------------------------------------

def open_workbook(data: bytes):
    """The workbook, after the checks that must come before parsing."""
    if len(data) > MAX_FILE_BYTES:
        raise RosterRefused(N_("The file is larger than 10 MB."))
    if not data.startswith(b"PK\x03\x04"):
        raise RosterRefused(N_("The file is not an Excel .xlsx workbook; please save it as .xlsx "
                               "from the downloaded template."))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        raise RosterRefused(N_("The file is damaged or not an .xlsx workbook.")) from None
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise RosterRefused(N_("The file is not an Excel .xlsx workbook; please save it as .xlsx "
                               "from the downloaded template."))
    if any(name.lower().endswith("vbaproject.bin") for name in names) or \
            b"macroEnabled" in archive.read("[Content_Types].xml"):
        raise RosterRefused(N_("Workbooks with macros are not accepted; please save as .xlsx."))
    if len(infos) > 1000 or sum(info.file_size for info in infos) > MAX_UNZIPPED_BYTES:
        raise RosterRefused(N_("The workbook expands to more than 100 MB; it cannot be a roster."))
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:
        raise RosterRefused(N_("The file is damaged or not an .xlsx workbook.")) from None


def _rows(workbook):
    sheet = workbook[SHEET] if SHEET in workbook.sheetnames else workbook.worksheets[0]
    for index, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if index > MAX_ROWS + 6:
            raise RosterRefused(N_("The roster has more than %(n)s rows; please split it."),
                                n=MAX_ROWS)
        yield index, values


# ---- cells ------------------------------------------------------------------------------

def clean_text(value: Any) -> str:
    """Full-width to half-width, no surrounding spaces of either width."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def _digits(value: Any, column: str, row: int, errors: list) -> Optional[str]:
    """An ID or phone cell: text, or an integer that is still exact."""
    if isinstance(value, float):
        # Excel keeps 15 significant digits: an 18-digit ID typed as a number is already wrong.
        if not value.is_integer() or abs(value) >= 2 ** 53:
            errors.append(CellError(row, column, value, gettext(
                "The number lost digits in Excel; format the column as text and type it again.")))
            return None
        value = int(value)
    return SPACES.sub("", clean_text(value))


def check_id_number(raw: str, today: dt.date) -> Optional[str]:
    """The reason an ID number is wrong, or None."""
    if len(raw) != 18:
        return gettext("The ID number must have 18 characters (it has %(n)s).", n=len(raw))
    if not raw[:17].isdigit() or raw[17] not in "0123456789X":
        return gettext("The ID number has characters that are not allowed.")
    birth = id_birth_date(raw)
    if birth is None or birth > today or birth.year < 1900:
        return gettext("The birth date in the ID number is impossible.")
    if id_check_digit(raw[:17]) != raw[17]:
        return gettext("Wrong check digit: the last character should be %(c)s; please check "
                       "the number.", c=id_check_digit(raw[:17]))
    age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    if age < MIN_AGE:
        return gettext("The person is younger than %(n)s today.", n=MIN_AGE)
    return None


class _Dictionaries:
    def __init__(self):
        self.values = {header: {SPACES.sub("", item.name): item.id
                                for item in active_values(model)}
                       for header, model in DICTIONARY_COLUMNS.items()}

    def lookup(self, header: str, raw: str, row: int, errors: list) -> Optional[int]:
        key = SPACES.sub("", raw)
        options = self.values[header]
        if key in options:
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
    return report


def _read(workbook, report: Report, today: dt.date) -> None:
    """Header, then every data row, into the report."""
    rows = _rows(workbook)
    header_row, columns = _find_header(rows, report)
    if header_row is None:
        return
    dictionaries = _Dictionaries()
    seen: dict[str, int] = {}
    for index, values in rows:
        cells = {header: values[i] if i < len(values) else None
                 for header, i in columns.items()}
        if all(clean_text(v) == "" for v in cells.values()):
            continue
        report.rows += 1
        if report.rows > MAX_ROWS:
            raise RosterRefused(N_("The roster has more than %(n)s rows; please split it."),
                                n=MAX_ROWS)
        trainee = _check_row(index, cells, today, dictionaries, report.errors)
        if trainee is None:
            continue
        if trainee.id_number in seen:
            report.errors.append(CellError(index, "身份证号码", trainee.id_number, gettext(
                "The same ID number is already on row %(row)s.", row=seen[trainee.id_number])))
            continue
        seen[trainee.id_number] = index
        report.trainees.append(trainee)


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
    cells = {header: values.get(header) for header in REQUIRED}
    return _check_row(None, cells, clock.today(), _Dictionaries(), errors)


def _check_row(row: Optional[int], cells: dict, today: dt.date, dictionaries: _Dictionaries,
               errors: list) -> Optional[Trainee]:
    before = len(errors)
    text = {h: clean_text(v) for h, v in cells.items()}
    for header in REQUIRED:
        if text.get(header, "") == "":
            errors.append(CellError(row, header, None, gettext("This cell must not be empty.")))
    name = SPACES.sub("", text["姓名"]).replace("•", "·").replace("・", "·")
    if name and not NAME.match(name):
        errors.append(CellError(row, "姓名", cells["姓名"], gettext(
            "A name is 2 to 30 Chinese characters (and ·), nothing else.")))
    id_number = _digits(cells["身份证号码"], "身份证号码", row, errors) if text["身份证号码"] else ""
    if id_number:
        id_number = id_number.upper()
        problem = check_id_number(id_number, today)
        if problem:
            errors.append(CellError(row, "身份证号码", cells["身份证号码"], problem))
            id_number = ""
    gender = SPACES.sub("", text["性别"])
    if gender and gender not in ("男", "女"):
        errors.append(CellError(row, "性别", cells["性别"], gettext("性别 must be 男 or 女.")))
    elif gender and id_number:
        expected = "男" if id_gender(id_number) == "male" else "女"
        if gender != expected:
            errors.append(CellError(row, "性别", cells["性别"], gettext(
                "The ID number says %(expected)s.", expected=expected)))
    mobile = _digits(cells["手机号码"], "手机号码", row, errors) if text["手机号码"] else ""
    if mobile and not MOBILE.match(mobile):
        errors.append(CellError(row, "手机号码", cells["手机号码"], gettext(
            "A mobile number has 11 digits and starts with 13 to 19.")))
    ids = {header: dictionaries.lookup(header, text[header], row, errors)
           for header in DICTIONARY_COLUMNS if text.get(header)}
    if len(errors) > before:
        return None
    return Trainee(row=row, name=name, gender=gender, id_number=id_number, mobile=mobile,
                   education_id=ids["文化程度"], title_id=ids["职称"],
                   occupation_id=ids["职业(工种)名称"], level_id=ids["职业等级"])


def check_against_plan(plan: TrainingPlan, report: Report) -> None:
    for trainee in report.trainees:
        if trainee.occupation_id != plan.occupation_id:
            report.errors.append(CellError(trainee.row, "职业(工种)名称", None, gettext(
                "This plan trains “%(name)s”.", name=plan.occupation.name)))
        if trainee.level_id != plan.level_id:
            report.errors.append(CellError(trainee.row, "职业等级", None, gettext(
                "This plan is for “%(name)s”.", name=plan.level.name)))
    numbers = [t.id_number for t in report.trainees]
    enrolled = set()
    for start in range(0, len(numbers), 500):
        enrolled |= set(db.session.scalars(
            select(Person.id_number).join(Enrolment, Enrolment.person_id == Person.id)
            .where(Enrolment.plan_id == plan.id, Enrolment.status == "live",
                   Person.id_number.in_(numbers[start:start + 500]))))
    for trainee in report.trainees:
        if trainee.id_number in enrolled:
            report.errors.append(CellError(trainee.row, "身份证号码", trainee.id_number, gettext(
                "This person is already enrolled in this plan.")))
    seats_left = plan.quota - plan.seats_reserved - plan.seats_paid
    if report.rows > seats_left:
        report.errors.append(CellError(None, None, report.rows, gettext(
            "The roster has %(rows)s trainees but the plan has %(left)s seats left.",
            rows=report.rows, left=max(seats_left, 0))))



BAD_CELL = PatternFill("solid", fgColor="FFC7CE")


def annotated_workbook(data: bytes, report: Report, sheet_name: str) -> bytes:
    """The uploaded workbook with every bad cell of `sheet_name` (else the first sheet) filled
    red and a comment saying why; an error of a missing column marks its row's first cell."""
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook[sheet_name] if sheet_name in workbook.sheetnames else workbook.worksheets[0]
    notes: dict[tuple[int, int], list[str]] = {}
    for error in report.errors:
        if error.row is None:
            continue
        column = report.columns.get(error.column, 0) + 1
        notes.setdefault((error.row, column), []).append(error.message)
    for (row, column), messages in notes.items():
        cell = sheet.cell(row=row, column=column)
        cell.fill = BAD_CELL
        cell.comment = Comment("\n".join(messages), gettext("Jianpei check"))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
