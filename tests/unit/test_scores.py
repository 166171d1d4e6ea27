"""成绩报审: the score sheet template, its all-or-nothing import, re-import after a return."""
import datetime as dt
import io
from decimal import Decimal
from types import SimpleNamespace

import pytest
from flask_babel import gettext
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, insert, select, update

from app import scope
from app.extensions import db
from app.services import NotFound, certificates, scores
from models.assessment import Score, ScoreReport
from models.audit import AuditLog
from models.states import AssessmentState, OrderState, ScoreState
from tests.assessment_factories import (
    gen_assessment,
    gen_finished_plan,
    gen_held_assessment,
    gen_paid_trainees,
)
from tests.factories import gen_enterprise, gen_institution, gen_regulator, gen_user
from tests.order_factories import gen_order, gen_trainees
from tests.rosters import id_number, with_macro, zip_bomb

NOW = dt.datetime(2026, 11, 28, 10, 0)
FIRST = scores.HEADER_ROW + 1  # the first trainee's row in the template
ID, NAME, THEORY, PRACTICAL = scores.HEADERS


@pytest.fixture
def exam(app):
    app.config["CLOCK_FROZEN_AT"] = NOW
    institution = gen_institution()
    plan = gen_finished_plan(institution)
    trainees = gen_paid_trainees(plan, 3)
    assessment = gen_held_assessment(plan)
    user = gen_user(scope.INSTITUTION, institution_id=institution.id)
    return SimpleNamespace(institution=institution, plan=plan, trainees=trainees,
                           assessment=assessment, user=user)


def filled(assessment, marks=None, edit=None) -> bytes:
    """The downloaded template with scores typed in: marks[i] for the i-th trainee, else 80/75."""
    workbook = load_workbook(io.BytesIO(scores.template(assessment)))
    sheet = workbook[scores.SHEET]
    for i, row in enumerate(range(FIRST, sheet.max_row + 1)):
        if sheet.cell(row, 1).value:
            theory, practical = (marks or {}).get(i, (80, 75))
            sheet.cell(row, 3).value = theory
            sheet.cell(row, 4).value = practical
    if edit:
        edit(sheet)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def sheet_bytes(rows, headers=scores.HEADERS, header_row=1, title=scores.SHEET) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for c, header in enumerate(headers, start=1):
        sheet.cell(header_row, c, header)
    for r, values in enumerate(rows, start=header_row + 1):
        for c, value in enumerate(values, start=1):
            sheet.cell(r, c, value)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def person(enrolment):
    return enrolment.person.id_number, enrolment.person.name


def errors_of(report):
    return [(e.row, e.column) for e in report.errors]


def stored():
    return (db.session.scalar(select(func.count(ScoreReport.id))),
            db.session.scalar(select(func.count(Score.id))))


def do_import(exam, data, user=None, filename="成绩导入表.xlsx"):
    return scores.import_scores(exam.assessment.id, user or exam.user, data, filename)


# ---- template ---------------------------------------------------------------------------

def test_template_lists_the_paid_trainees_only(exam):
    unpaid = gen_trainees(gen_enterprise(), exam.plan, 1)[0]
    pending = gen_order(gen_enterprise(), exam.plan, 1, state=OrderState.PENDING.value)
    other_plan = gen_paid_trainees(gen_finished_plan(exam.institution), 1)[0]

    workbook = load_workbook(io.BytesIO(scores.template(exam.assessment)))
    assert workbook.sheetnames == [scores.SHEET, scores.NOTES_SHEET]
    sheet = workbook[scores.SHEET]
    header = [c.value for c in sheet[scores.HEADER_ROW]]
    assert header[:4] == ["身份证号码", "姓名", "理论成绩", "实操成绩"]
    rows = [tuple(c.value for c in r[:4]) for r in sheet.iter_rows(min_row=FIRST)
            if r[0].value]
    assert rows == [(*person(e), None, None) for e in exam.trainees]
    listed = {r[0] for r in rows}
    for outsider in (unpaid, pending.items[0].enrolment, other_plan):
        assert outsider.person.id_number not in listed
    assert sheet[f"A{FIRST}"].number_format == "@"
    assert isinstance(sheet[f"A{FIRST}"].value, str)
    (rule,) = sheet.data_validations.dataValidation
    assert (rule.type, rule.operator, rule.formula1, rule.formula2) == ("decimal", "between",
                                                                        "0", "100")
    assert f"C{FIRST}:D" in str(rule.sqref)
    note = sheet["A2"].value
    assert gettext("Pass marks: theory %(theory)s, practical %(practical)s. Fill in both "
                   "scores of every trainee (0 to 100, at most one decimal); do not change "
                   "the ID numbers or names.", theory=60, practical=60) == note
    notes = {r[0].value: r[1].value for r in workbook[scores.NOTES_SHEET].iter_rows()}
    assert notes[gettext("Theory pass mark")] == 60
    assert notes[gettext("Practical pass mark")] == 60
    assert notes[gettext("Paid trainees")] == 3


def test_the_untouched_template_is_checked_clean_once_filled(exam):
    report = scores.check(filled(exam.assessment), exam.assessment)
    assert report.ok and report.rows == 3 and report.sheet == scores.SHEET
    assert report.header_row == scores.HEADER_ROW


# ---- a clean import ---------------------------------------------------------------------

def test_clean_import_reports_the_scores_with_pass_at_the_boundary(exam):
    data = filled(exam.assessment, {0: (60, 60), 1: (59.5, 100), 2: ("９０", "59.5")})
    report = do_import(exam, data, filename="第一批成绩.xlsx")
    assert report.ok, report.errors

    sheet = db.session.scalars(select(ScoreReport)).one()
    assert sheet.assessment_id == exam.assessment.id
    assert sheet.state == ScoreState.ACCEPTED.value
    assert (sheet.filename, sheet.imported_at, sheet.review_reason) == ("第一批成绩.xlsx", NOW, None)
    assert [(s.enrolment_id, s.theory, s.practical, s.passed) for s in sheet.scores] == [
        (exam.trainees[0].id, Decimal("60.0"), Decimal("60.0"), True),
        (exam.trainees[1].id, Decimal("59.5"), Decimal("100.0"), False),
        (exam.trainees[2].id, Decimal("90.0"), Decimal("59.5"), False),
    ]
    assert scores.state_of(exam.assessment) is ScoreState.ACCEPTED
    log = db.session.scalars(select(AuditLog).where(AuditLog.action == "scores.import")).one()
    assert log.object_id == str(sheet.id) and log.region_code == exam.plan.region_code
    assert '"passed": 1' in log.summary


def test_pass_marks_come_from_the_assessment_plan(app):
    institution = gen_institution()
    plan = gen_finished_plan(institution)
    trainee = gen_paid_trainees(plan, 1)[0]
    assessment = gen_held_assessment(plan, theory_pass=70, practical_pass=50)
    user = gen_user(scope.INSTITUTION, institution_id=institution.id)
    data = sheet_bytes([(*person(trainee), 70, 50)])
    assert scores.import_scores(assessment.id, user, data, "x.xlsx").ok
    assert db.session.scalars(select(Score.passed)).one() is True


def test_a_sheet_of_ones_own_with_headers_in_any_order(exam):
    rows = [(80, *person(e)[::-1], 70) for e in exam.trainees]
    data = sheet_bytes(rows, headers=("理论成绩", "姓名", "身份证号码", "实操成绩"), header_row=4,
                       title="Sheet1")
    report = do_import(exam, data)
    assert report.ok, report.errors
    assert stored() == (1, 3)


# ---- errors: all of them, and nothing written -------------------------------------------

def _set(row, column, value):
    def edit(sheet):
        sheet.cell(row, scores.HEADERS.index(column) + 1).value = value
    return edit


@pytest.mark.parametrize("column, value, message", [
    (THEORY, None, "This cell must not be empty."),
    (PRACTICAL, "  ", "This cell must not be empty."),
    (THEORY, "八十", "A score must be a number."),
    (THEORY, True, "A score must be a number."),
    (THEORY, dt.datetime(2026, 1, 1), "A score must be a number."),
    (PRACTICAL, "=50+10", "Formulas are not accepted; type the score itself."),
    (THEORY, 100.5, "A score is a number from 0 to 100."),
    (PRACTICAL, -1, "A score is a number from 0 to 100."),
    (THEORY, 85.25, "A score has at most one decimal place."),
    (PRACTICAL, "72.55", "A score has at most one decimal place."),
    (NAME, None, "This cell must not be empty."),
])
def test_each_cell_error_with_its_row_and_column(exam, column, value, message):
    data = filled(exam.assessment, edit=_set(FIRST + 1, column, value))
    report = do_import(exam, data)
    assert errors_of(report) == [(FIRST + 1, column)]
    assert report.errors[0].message == gettext(message)
    assert stored() == (0, 0)


def test_a_name_that_does_not_match_the_id_number(exam):
    data = filled(exam.assessment, edit=_set(FIRST, NAME, "张冠李"))
    report = do_import(exam, data)
    assert errors_of(report) == [(FIRST, NAME)]
    assert report.errors[0].value == "张冠李"
    assert report.errors[0].message == gettext(
        "The name does not match the ID number, which is %(name)s's.",
        name=exam.trainees[0].person.name)
    assert stored() == (0, 0)


def test_harmless_spaces_in_names_and_ids_are_forgiven(exam):
    number, name = person(exam.trainees[0])
    wide = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))

    def edit(sheet):
        sheet.cell(FIRST, 1, f" {wide} ")
        sheet.cell(FIRST, 2, f"{name[0]} {name[1:]}\u3000")
    assert do_import(exam, filled(exam.assessment, edit=edit)).ok


@pytest.mark.parametrize("value, message", [
    ("33010619900101123", "The ID number must have 18 characters (it has %(n)s)."),
    ("330106199001011230", None),  # wrong check digit: the roster's explanation
    (3.30106199001012e17, "The number lost digits in Excel; format the column as text and type "
                          "it again."),
])
def test_a_wrong_id_number_and_the_trainee_it_leaves_out(exam, value, message):
    data = filled(exam.assessment, edit=_set(FIRST, ID, value))
    report = do_import(exam, data)
    assert errors_of(report) == [(FIRST, ID), (None, ID)]
    if message:
        assert report.errors[0].message == gettext(message, n=17)
    missing = report.errors[1]
    number, name = person(exam.trainees[0])
    assert missing.value == number
    assert missing.message == gettext(
        "%(name)s (%(id)s) is a paid trainee of this plan but has no row in the sheet.",
        name=name, id=number)
    assert stored() == (0, 0)


def test_unpaid_trainees_and_trainees_of_other_plans_are_refused(exam):
    unpaid = gen_trainees(gen_enterprise(), exam.plan, 1)[0]
    other_plan = gen_paid_trainees(gen_finished_plan(exam.institution), 1)[0]
    stranger = id_number()

    last = FIRST + 2  # the third paid trainee's row

    def edit(sheet):
        for row, (number, name) in enumerate([person(unpaid), person(other_plan),
                                              (stranger, "陌生人")], start=last + 1):
            for column, value in enumerate((number, name, 90, 90), start=1):
                sheet.cell(row, column).value = value
    report = do_import(exam, filled(exam.assessment, edit=edit))
    assert errors_of(report) == [(last + 1, ID), (last + 2, ID), (last + 3, ID)]
    refused = gettext("This ID number is not a paid trainee of this assessment plan.")
    assert {e.message for e in report.errors} == {refused}
    assert stored() == (0, 0)


def test_a_duplicate_id_number(exam):
    number, name = person(exam.trainees[0])
    data = filled(exam.assessment, edit=_set(FIRST + 2, ID, number))
    report = do_import(exam, data)
    # the third row repeats the first; its name is not checked; the third trainee is missing
    assert errors_of(report) == [(FIRST + 2, ID), (None, ID)]
    assert report.errors[0].message == gettext("The same ID number is already on row %(row)s.",
                                               row=FIRST)
    assert report.errors[1].value == exam.trainees[2].person.id_number


def test_a_paid_trainee_missing_from_the_sheet(exam):
    def edit(sheet):
        sheet.delete_rows(FIRST + 1)
    report = do_import(exam, filled(exam.assessment, edit=edit))
    number, name = person(exam.trainees[1])
    assert [(e.row, e.column, e.value) for e in report.errors] == [(None, ID, number)]
    assert name in report.errors[0].message
    assert stored() == (0, 0)


def test_errors_in_many_rows_are_all_reported(exam):
    more = gen_paid_trainees(exam.plan, 3)
    marks = {0: (101, 80), 1: (80, "x"), 2: (None, None), 3: (60.05, 70), 4: (80, 80),
             5: (-0.5, 100.1)}
    report = do_import(exam, filled(exam.assessment, marks))
    assert report.rows == 6
    assert errors_of(report) == [
        (FIRST, THEORY), (FIRST + 1, PRACTICAL), (FIRST + 2, THEORY), (FIRST + 2, PRACTICAL),
        (FIRST + 3, THEORY), (FIRST + 5, THEORY), (FIRST + 5, PRACTICAL)]
    assert [s.enrolment_id for s in report.scores] == [more[1].id]
    assert stored() == (0, 0)
    as_dict = report.as_dict()
    assert as_dict["ok"] is False and len(as_dict["errors"]) == 7
    assert as_dict["errors"][0] == {"sheet": scores.SHEET, "row": FIRST, "column": THEORY,
                                    "value": "101",
                                    "message": gettext("A score is a number from 0 to 100.")}


def test_missing_headers_and_empty_sheets(exam):
    rows = [(*person(e), 80) for e in exam.trainees]
    report = do_import(exam, sheet_bytes(rows, headers=(ID, NAME, THEORY)))
    assert [(e.row, e.column) for e in report.errors] == [(1, PRACTICAL)]
    assert report.errors[0].message == gettext(
        "The column “%(column)s” is missing from the header row.", column=PRACTICAL)

    report = do_import(exam, sheet_bytes([("a", "b")], headers=("序号", "备注")))
    assert errors_of(report) == [(None, None)]
    assert report.errors[0].message == gettext(
        "No header row found in the first 5 rows; use the downloaded 《成绩导入表》.")

    report = do_import(exam, sheet_bytes([(None, None, None, None)] * 3))
    assert errors_of(report) == [(None, None)] and report.rows == 0
    assert report.errors[0].message == gettext(
        "The sheet has no scores: fill in the rows below the header.")
    assert stored() == (0, 0)


@pytest.mark.parametrize("make", [
    lambda good: b"%PDF-1.4 not a workbook",
    lambda good: b"PK\x03\x04broken",
    lambda good: b"PK\x03\x04" + b"\0" * (10 * 1024 * 1024),
    with_macro,
    zip_bomb,
])
def test_unusable_files_are_refused(exam, make):
    with pytest.raises(scores.ScoresRefused):
        do_import(exam, make(filled(exam.assessment)))
    assert stored() == (0, 0)


# ---- states -----------------------------------------------------------------------------

def test_reimport_is_refused_while_accepted_and_after_approval(exam):
    assert do_import(exam, filled(exam.assessment)).ok
    with pytest.raises(scores.ScoresRefused) as refused:
        do_import(exam, filled(exam.assessment, {0: (99, 99)}))
    assert str(refused.value) == gettext(
        "The scores have been reported and await the city authority's review.")

    db.session.execute(update(ScoreReport).values(state=ScoreState.APPROVED.value))
    db.session.commit()
    with pytest.raises(scores.ScoresRefused) as refused:
        do_import(exam, filled(exam.assessment, {0: (99, 99)}))
    assert str(refused.value) == gettext(
        "The scores have been reviewed and cannot be imported again.")
    assert db.session.scalars(select(Score.theory)).all() == [Decimal("80.0")] * 3


def test_after_a_return_a_new_import_replaces_the_scores(exam):
    assert do_import(exam, filled(exam.assessment, {0: (50, 50)}), filename="第一版.xlsx").ok
    first = db.session.scalars(select(ScoreReport)).one()
    regulator = gen_regulator(exam.plan.region_code)
    certificates.reject_scores(first.id, regulator, "第一名学员理论成绩有误")
    with pytest.raises(scores.ScoresRefused):  # a bad sheet changes nothing, even now
        do_import(exam, b"not a workbook")
    assert not do_import(exam, filled(exam.assessment, {0: (500, 50)})).ok
    assert db.session.get(ScoreReport, first.id).state == ScoreState.REJECTED.value

    assert do_import(exam, filled(exam.assessment, {0: (65, 70)}), filename="第二版.xlsx").ok
    db.session.expire_all()
    again = db.session.scalars(select(ScoreReport)).one()
    assert again.id == first.id
    assert (again.state, again.filename, again.review_reason, again.reviewed_at) == (
        ScoreState.ACCEPTED.value, "第二版.xlsx", None, None)
    assert [(s.enrolment_id, s.theory, s.passed) for s in again.scores] == [
        (exam.trainees[0].id, Decimal("65.0"), True),
        (exam.trainees[1].id, Decimal("80.0"), True),
        (exam.trainees[2].id, Decimal("80.0"), True)]
    assert db.session.scalar(select(func.count(Score.id))) == 3


def test_another_institution_gets_not_found(exam):
    stranger = gen_user(scope.INSTITUTION, institution_id=gen_institution().id)
    with pytest.raises(NotFound):
        do_import(exam, filled(exam.assessment), user=stranger)
    assert stored() == (0, 0)


@pytest.mark.parametrize("state", [AssessmentState.DRAFT.value, AssessmentState.REPORTED.value,
                                   AssessmentState.REJECTED.value])
def test_an_assessment_plan_not_approved_takes_no_scores(exam, state):
    exam.assessment.state = state
    db.session.commit()
    with pytest.raises(scores.ScoresRefused) as refused:
        do_import(exam, filled(exam.assessment))
    assert str(refused.value) == gettext("Scores are imported once the assessment plan is "
                                         "approved.")
    assert stored() == (0, 0)


def test_a_parallel_first_import_makes_no_second_report(exam, monkeypatch):
    check = scores.check

    def racing_check(data, assessment):  # another upload commits between check and write
        report = check(data, assessment)
        with db.engine.begin() as other:
            other.execute(insert(ScoreReport).values(
                assessment_id=assessment.id, state=ScoreState.ACCEPTED.value,
                filename="另一次上传.xlsx", imported_at=NOW))
        return report

    monkeypatch.setattr(scores, "check", racing_check)
    with pytest.raises(scores.ScoresRefused) as refused:
        do_import(exam, filled(exam.assessment))
    assert str(refused.value) == gettext(
        "The scores of this assessment were imported meanwhile; please look again.")
    assert db.session.scalars(select(ScoreReport.filename)).all() == ["另一次上传.xlsx"]
    assert stored() == (1, 0)


def test_a_parallel_reimport_after_a_return_makes_no_second_set(exam, monkeypatch):
    assert do_import(exam, filled(exam.assessment)).ok
    report_id = db.session.scalar(select(ScoreReport.id))
    certificates.reject_scores(report_id, gen_regulator(exam.plan.region_code), "重报")
    check = scores.check

    def racing_check(data, assessment):
        report = check(data, assessment)
        with db.engine.begin() as other:
            other.execute(update(ScoreReport).values(state=ScoreState.ACCEPTED.value,
                                                     filename="另一次上传.xlsx"))
        return report

    monkeypatch.setattr(scores, "check", racing_check)
    with pytest.raises(scores.ScoresRefused):
        do_import(exam, filled(exam.assessment, {0: (99, 99)}))
    db.session.expire_all()
    assert db.session.scalars(select(ScoreReport.filename)).all() == ["另一次上传.xlsx"]
    assert db.session.scalars(select(Score.theory)).all() == [Decimal("80.0")] * 3


# ---- the marked workbook and the figures ------------------------------------------------

def test_the_annotated_workbook_marks_the_bad_cells(exam):
    def edit(sheet):
        sheet.cell(FIRST, 2, "张冠李")
        sheet.parent.move_sheet(scores.NOTES_SHEET, offset=-1)  # the notes sheet first
    data = filled(exam.assessment, {1: (80, 120)}, edit=edit)
    report = do_import(exam, data)
    assert errors_of(report) == [(FIRST, NAME), (FIRST + 1, PRACTICAL)]

    marked = load_workbook(io.BytesIO(scores.annotated_workbook(data, report)))
    sheet = marked[scores.SHEET]
    for cell, error in ((sheet.cell(FIRST, 2), report.errors[0]),
                        (sheet.cell(FIRST + 1, 4), report.errors[1])):
        assert cell.fill.fgColor.rgb.endswith("FFC7CE")
        assert error.message in cell.comment.text
    for good in (sheet.cell(FIRST, 1), sheet.cell(FIRST, 3), sheet.cell(FIRST + 1, 3)):
        assert good.comment is None and good.fill.fill_type is None
    assert sheet.cell(FIRST + 1, 4).value == 120  # the user's data stays as typed
    assert all(c.comment is None for r in marked[scores.NOTES_SHEET].iter_rows() for c in r)


def test_summary_figures(exam):
    gen_paid_trainees(exam.plan, 3)
    marks = {0: (60, 60), 1: (59.5, 90), 2: (90, 90), 3: (10, 10), 4: (100, 100), 5: (75, 60)}
    assert do_import(exam, filled(exam.assessment, marks)).ok
    report = db.session.scalars(select(ScoreReport)).one()
    assert scores.summary(report) == {"count": 6, "passed": 4, "failed": 2,
                                      "pass_rate": Decimal("66.7")}

    empty = ScoreReport(assessment_id=gen_assessment(gen_finished_plan(exam.institution)).id,
                        imported_at=NOW)
    db.session.add(empty)
    db.session.commit()
    assert scores.summary(empty) == {"count": 0, "passed": 0, "failed": 0, "pass_rate": 0}


def test_paid_trainees_by_id(exam):
    gen_trainees(gen_enterprise(), exam.plan, 1)
    later = gen_paid_trainees(exam.plan, 2)
    assert scores.paid_trainees(exam.assessment) == exam.trainees + later
    assert scores.state_of(exam.assessment) is ScoreState.NOT_REPORTED
