"""成绩报审: the 《成绩导入表》 of an assessment plan, its all-or-nothing import, and figures.

Importing is reporting: a clean sheet becomes the score report in state 已受理 (accepted); the
city authority then approves it (app/services/certificates.py) or returns it (未通过), after
which the institution imports a corrected sheet. The file and cell checks are the shared ones
(app.services.workbooks); an ID number is checked as on the roster.
"""
import io
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Optional

from flask_babel import gettext
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app import clock
from app.extensions import db
from app.services import N_, DomainError, audit, inbox, people, workbooks
from app.services.assessments import own_assessment, paid_enrolments
from app.services.roster import check_id_number
from app.services.transaction import transactional
from app.services.workbooks import SPACES, CellError, SheetReport, clean_text, exact_digits
from models.assessment import AssessmentPlan, Score, ScoreReport
from models.enrolment import Enrolment
from models.states import AssessmentState, ScoreState

SHEET = "成绩导入表"
NOTES_SHEET = "说明"
ID, NAME, THEORY, PRACTICAL = "身份证号码", "姓名", "理论成绩", "实操成绩"
HEADERS = (ID, NAME, THEORY, PRACTICAL)
HEADER_ROW = 3  # under a title row and a note row with the pass marks
HEADER_SEARCH = 5
SPARE_ROWS = 50
ONE_DECIMAL = Decimal("0.1")
MAX_ROWS = 20_000  # data rows, as many as a roster may have


class ScoresRefused(DomainError):
    message = N_("The score sheet was refused.")


@dataclass
class ScoreRow:
    row: int
    enrolment_id: int
    theory: Decimal
    practical: Decimal
    passed: bool


@dataclass
class Report(SheetReport):
    """The sheet's report (rows, errors, header_row, columns), with the sheet and the scores."""

    sheet: Optional[str] = None
    scores: list[ScoreRow] = field(default_factory=list)

    def as_dict(self) -> dict:
        report = super().as_dict()
        report["sheet"] = self.sheet
        for error in report.get("errors", []):
            error["sheet"] = self.sheet
        return report


def paid_trainees(assessment: AssessmentPlan) -> list[Enrolment]:
    """The live trainees of the assessment's plan whose order is paid, by id."""
    return list(db.session.scalars(paid_enrolments(assessment.plan_id)
                                   .options(selectinload(Enrolment.person))))


def state_of(assessment: AssessmentPlan) -> ScoreState:
    """The score report's state as users read it: 未上报 before the first import."""
    report = assessment.score_report
    return ScoreState(report.state) if report else ScoreState.NOT_REPORTED


# ---- the template -----------------------------------------------------------------------

def template(assessment: AssessmentPlan) -> bytes:
    """《成绩导入表》 prefilled with every paid trainee's ID number and name."""
    wb = Workbook()
    sheet = wb.active
    sheet.title = SHEET
    marks = dict(theory=assessment.theory_pass, practical=assessment.practical_pass)
    sheet["A1"] = gettext("Score sheet: %(plan)s, exam %(time)s", plan=str(assessment.plan),
                          time=assessment.exam_time)
    sheet["A1"].font = Font(bold=True, size=13)
    sheet["A2"] = gettext("Pass marks: theory %(theory)s, practical %(practical)s. Fill in both "
                          "scores of every trainee (0 to 100, at most one decimal); do not change "
                          "the ID numbers or names.", **marks)
    sheet["A2"].alignment = Alignment(wrap_text=True, vertical="top")
    sheet.merge_cells("A1:D1")
    sheet.merge_cells("A2:D2")
    sheet.row_dimensions[2].height = 48
    for column, header in enumerate(HEADERS, start=1):
        cell = sheet.cell(row=HEADER_ROW, column=column, value=header)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center")
    for letter, width in zip("ABCD", (22, 14, 12, 12)):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = f"A{HEADER_ROW + 1}"

    trainees = paid_trainees(assessment)
    first = HEADER_ROW + 1
    last = HEADER_ROW + len(trainees) + SPARE_ROWS
    for row in range(first, last + 1):  # an 18-digit ID must stay text, never a number
        sheet[f"A{row}"].number_format = "@"
    for row, enrolment in enumerate(trainees, start=first):
        sheet.cell(row=row, column=1, value=enrolment.person.id_number)
        sheet.cell(row=row, column=2, value=enrolment.person.name)
    rule = DataValidation(type="decimal", operator="between", formula1="0", formula2="100",
                          allow_blank=True, showErrorMessage=True,
                          errorTitle=f"{THEORY}/{PRACTICAL}",
                          error=gettext("A score is a number from 0 to 100."))
    rule.add(f"C{first}:D{last}")
    sheet.add_data_validation(rule)
    _notes(wb.create_sheet(NOTES_SHEET), assessment, len(trainees))

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _notes(sheet, assessment: AssessmentPlan, trainees: int) -> None:
    """The 说明 sheet: the exam, its pass marks and the import rules."""
    lines = [
        (gettext("Assessment plan"), str(assessment.plan)),
        (gettext("Exam time"), assessment.exam_time),
        (gettext("Exam venue"), assessment.venue),
        (gettext("Theory part"), assessment.theory_part),
        (gettext("Theory pass mark"), assessment.theory_pass),
        (gettext("Practical part"), assessment.practical_part),
        (gettext("Practical pass mark"), assessment.practical_pass),
        (gettext("Paid trainees"), trainees),
        (None, None),
        (gettext("How to fill in"), gettext(
            "Every paid trainee is listed on the sheet “%(sheet)s”; each needs a theory and a "
            "practical score.", sheet=SHEET)),
        (None, gettext("A score is a number from 0 to 100 with at most one decimal, e.g. 85 or "
                       "72.5.")),
        (None, gettext("A trainee passes when both scores reach their pass marks.")),
        (None, gettext("One error imports nothing: every error is listed, with a copy of the "
                       "sheet marking them; fix them all and upload the sheet again.")),
        (None, gettext("Importing reports the scores to the city authority for review.")),
    ]
    for label, value in lines:
        sheet.append([label, value])
    for row in sheet.iter_rows(max_col=1):
        row[0].font = Font(bold=True)
    sheet.column_dimensions["A"].width = 18
    sheet.column_dimensions["B"].width = 80


# ---- the check --------------------------------------------------------------------------

def check(data: bytes, assessment: AssessmentPlan) -> Report:
    """Every error of a filled-in score sheet against the assessment's paid trainees."""
    try:  # size, zip bomb, macros, not an xlsx, a sheet wider or longer than the template's
        workbook = workbooks.open_bounded(data, SHEET, columns=len(HEADERS),
                                          rows=MAX_ROWS, header_rows=HEADER_SEARCH)
    except workbooks.WorkbookRefused as refused:
        raise ScoresRefused(refused.args[0], **refused.params) from None
    report = Report()
    try:
        sheet = workbooks.sheet_of(workbook, SHEET)
        report.sheet = sheet.title
        _read(sheet, assessment, report)
    except ScoresRefused:
        raise
    except Exception:  # a cell or sheet openpyxl cannot read
        raise ScoresRefused(N_("The file is damaged or not an .xlsx workbook.")) from None
    finally:
        workbook.close()
    return report


def _read(sheet, assessment: AssessmentPlan, report: Report) -> None:
    rows = _rows(sheet)
    if not _find_header(rows, report):
        return
    trainees = {e.person.id_number: e for e in paid_trainees(assessment)}
    seen: dict[str, int] = {}
    for index, values in rows:
        cells = {header: values[i] if i < len(values) else None
                 for header, i in report.columns.items()}
        if all(clean_text(v) == "" for v in cells.values()):
            continue
        report.rows += 1
        score = _check_row(index, cells, assessment, trainees, seen, report.errors)
        if score is not None:
            report.scores.append(score)
    if report.rows == 0:
        report.errors.append(CellError(None, None, None, gettext(
            "The sheet has no scores: fill in the rows below the header.")))
        return
    for number, enrolment in trainees.items():
        if number not in seen:
            report.errors.append(CellError(None, ID, number, gettext(
                "%(name)s (%(id)s) is a paid trainee of this plan but has no row in the sheet.",
                name=enrolment.person.name, id=number)))


def _rows(sheet):
    for index, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if index > MAX_ROWS + HEADER_SEARCH:
            raise ScoresRefused(N_("The sheet has more than %(n)s rows."), n=MAX_ROWS)
        yield index, values


def _find_header(rows, report: Report) -> bool:
    """The first row (of the first five) with every header, in any order; else the errors."""
    best: tuple[int, Optional[int], dict[str, int]] = (0, None, {})
    for index, values in rows:
        found: dict[str, int] = {}
        for i, value in enumerate(values):
            text = SPACES.sub("", clean_text(value))
            if text in HEADERS and text not in found:
                found[text] = i
        if len(found) == len(HEADERS):
            report.header_row, report.columns = index, found
            return True
        if len(found) > best[0]:
            best = (len(found), index, found)
        if index >= HEADER_SEARCH:
            break
    if best[0] >= 2:
        for header in HEADERS:
            if header not in best[2]:
                report.errors.append(CellError(best[1], header, None, gettext(
                    "The column “%(column)s” is missing from the header row.", column=header)))
    else:
        report.errors.append(CellError(None, None, None, gettext(
            "No header row found in the first 5 rows; use the downloaded 《成绩导入表》.")))
    return False


def _check_row(row: int, cells: dict[str, Any], assessment: AssessmentPlan,
               trainees: dict[str, Enrolment], seen: dict[str, int],
               errors: list) -> Optional[ScoreRow]:
    before = len(errors)
    enrolment = _trainee(row, cells[ID], trainees, seen, errors)
    name = _name(cells[NAME])
    if not name:
        errors.append(CellError(row, NAME, cells[NAME], gettext("This cell must not be empty.")))
    elif enrolment is not None and name != _name(enrolment.person.name):
        errors.append(CellError(row, NAME, cells[NAME], gettext(
            "The name does not match the ID number, which is %(name)s's.",
            name=enrolment.person.name)))
    theory = _score(row, THEORY, cells[THEORY], errors)
    practical = _score(row, PRACTICAL, cells[PRACTICAL], errors)
    if len(errors) > before or enrolment is None:
        return None
    passed = theory >= assessment.theory_pass and practical >= assessment.practical_pass
    return ScoreRow(row, enrolment.id, theory, practical, passed)


def _trainee(row: int, value: Any, trainees: dict[str, Enrolment], seen: dict[str, int],
             errors: list) -> Optional[Enrolment]:
    """The paid trainee of this ID cell, the first time it appears."""
    if clean_text(value) == "":
        errors.append(CellError(row, ID, value, gettext("This cell must not be empty.")))
        return None
    number = exact_digits(value, ID, row, errors)
    if not number:
        return None
    number = number.upper()
    enrolment = trainees.get(number)
    if enrolment is None:
        problem = check_id_number(number, clock.today())
        errors.append(CellError(row, ID, value, problem or gettext(
            "This ID number is not a paid trainee of this assessment plan.")))
        return None
    if number in seen:
        errors.append(CellError(row, ID, value, gettext(
            "The same ID number is already on row %(row)s.", row=seen[number])))
        return None
    seen[number] = row
    return enrolment


def _name(value: Any) -> str:
    return people.normalize_name(clean_text(value))


def _score(row: int, column: str, value: Any, errors: list) -> Optional[Decimal]:
    """A score cell as a Decimal of at most one decimal place within 0–100, else an error."""
    text = clean_text(value)
    if text == "":
        errors.append(CellError(row, column, value, gettext("This cell must not be empty.")))
        return None
    if isinstance(value, str) and text.startswith("="):
        errors.append(CellError(row, column, value, gettext(
            "Formulas are not accepted; type the score itself.")))
        return None
    score = None
    if isinstance(value, (int, float, Decimal, str)) and not isinstance(value, bool):
        try:
            score = Decimal(repr(value) if isinstance(value, float) else text)
        except InvalidOperation:
            pass
    if score is None or not score.is_finite():
        errors.append(CellError(row, column, value, gettext("A score must be a number.")))
        return None
    if not 0 <= score <= 100:
        errors.append(CellError(row, column, value, gettext("A score is a number from 0 to 100.")))
        return None
    if score != score.quantize(ONE_DECIMAL):
        errors.append(CellError(row, column, value, gettext(
            "A score has at most one decimal place.")))
        return None
    return score.quantize(ONE_DECIMAL)


# ---- the import -------------------------------------------------------------------------

def require_exam_ended(assessment: AssessmentPlan, refusal: str) -> None:
    """Scores exist once the exam is over: nobody imports or approves them before its end."""
    if clock.now() < assessment.exam_end:
        raise ScoresRefused(refusal, end=f"{assessment.exam_end:%Y-%m-%d %H:%M}", status=409)


def importable(assessment_id: int, user: Any) -> AssessmentPlan:
    """The institution's approved assessment whose scores are not reported, or were returned."""
    assessment = own_assessment(assessment_id, user)
    if assessment.state != AssessmentState.APPROVED.value:
        raise ScoresRefused(N_("Scores are imported once the assessment plan is approved."),
                            status=409)
    require_exam_ended(assessment, N_("Scores can be imported only after the exam has ended "
                                      "(%(end)s)."))
    state = state_of(assessment)
    if state is ScoreState.ACCEPTED:
        raise ScoresRefused(N_("The scores have been reported and await the city authority's "
                               "review."), status=409)
    if state is ScoreState.APPROVED:
        raise ScoresRefused(N_("The scores have been reviewed and cannot be imported again."),
                            status=409)
    return assessment


@transactional
def import_scores(assessment_id: int, user: Any, data: bytes, filename: str) -> Report:
    """Check the sheet; if it is clean, report its scores (已受理) in one transaction."""
    assessment = importable(assessment_id, user)
    report = check(data, assessment)
    if not report.ok:
        return report
    now = clock.now()
    values = dict(state=ScoreState.ACCEPTED.value, filename=filename[:255], imported_at=now,
                  review_reason=None, reviewed_at=None)
    score_report = assessment.score_report
    before = None
    try:
        if score_report is None:
            score_report = ScoreReport(assessment_id=assessment.id, **values)
            db.session.add(score_report)
            db.session.flush()  # assessment_id is unique: one report per assessment
        else:
            before = {"state": score_report.state, "review_reason": score_report.review_reason}
            reopened = db.session.execute(
                update(ScoreReport)
                .where(ScoreReport.id == score_report.id,
                       ScoreReport.state == ScoreState.REJECTED.value)
                .values(**values).execution_options(synchronize_session=False)).rowcount
            if not reopened:  # a parallel import came first
                raise _meanwhile()
            db.session.execute(delete(Score).where(Score.report_id == score_report.id)
                               .execution_options(synchronize_session=False))
        db.session.execute(insert(Score), [
            dict(report_id=score_report.id, enrolment_id=s.enrolment_id, theory=s.theory,
                 practical=s.practical, passed=s.passed) for s in report.scores])
        audit.record("scores.import", score_report, before=before, after={
            "assessment": assessment.id, "state": ScoreState.ACCEPTED.value,
            "rows": len(report.scores), "passed": sum(s.passed for s in report.scores),
            "file": filename[:255]}, region_code=assessment.plan.region_code)
        db.session.flush()
        db.session.refresh(score_report)
        inbox.scores_accepted(score_report)
        db.session.flush()  # a clash is refused here, not at the commit
    except IntegrityError:  # a parallel first import made the report, or its scores
        raise _meanwhile() from None
    return report


def _meanwhile() -> ScoresRefused:
    return ScoresRefused(N_("The scores of this assessment were imported meanwhile; please look "
                            "again."))


# ---- results ----------------------------------------------------------------------------

def annotated_workbook(data: bytes, report: Report) -> Optional[bytes]:
    """The uploaded sheet with its bad cells marked, on the sheet the check read; None when it
    is too large to mark (the page lists the errors)."""
    return workbooks.marked_copy(data, report.errors, report.columns, report.sheet)


def summary(score_report: ScoreReport) -> dict:
    """Trainees, passed, failed and the pass rate (a percentage, one decimal) of a report."""
    count, passed = db.session.execute(
        select(func.count(Score.id), func.count(Score.id).filter(Score.passed))
        .where(Score.report_id == score_report.id)).one()
    rate = (Decimal(passed * 100) / count).quantize(ONE_DECIMAL, ROUND_HALF_UP) if count \
        else Decimal("0")
    return {"count": count, "passed": passed, "failed": count - passed, "pass_rate": rate}
