"""What a clerk, an institution and a reviewer read on their pages (issue 15, items 4, 6, 7,
8, 9 and 12), through the real views: every roster and score-sheet error in one pass with
what its cell held, the manual's words, whole ID numbers for those who supplied them and an
audited look for authorities, whose trainee it is, and no dead ends."""
import datetime as dt
import html
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app import scope
from app.extensions import db
from app.services import scores
from app.services.codes import mask_id_number, mask_mobile
from models.assessment import ScoreReport
from models.audit import AuditLog
from models.enrolment import ImportBatch
from models.reference import Occupation, OccupationLevel
from models.training import TrainingPlan
from tests.assessment_factories import gen_assessment, gen_finished_plan, gen_paid_trainees
from tests.factories import (
    dictionary_value,
    gen_enterprise,
    gen_institution,
    gen_plan,
    gen_regulator,
    gen_user,
)
from tests.helpers import path, visible_text
from tests.order_factories import gen_order, gen_trainees
from tests.rosters import id_number, roster_bytes, row

NOW = dt.datetime(2026, 11, 28, 10, 0)
FORM = "multipart/form-data"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _client(app, login_as, user):
    client = app.test_client()
    login_as(client, user)
    return client


def _page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def _error_rows(page: str, panel_id: str) -> list[tuple[str, str, str, str]]:
    """(row, column, value, reason) of each line of an upload's error panel, as shown."""
    panel = re.search(rf'id="{panel_id}".*?</table>', page, re.S)
    assert panel, f"no #{panel_id} on the page"
    cells = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>",
                       panel.group(0), re.S)
    return [tuple(html.unescape(c) for c in line) for line in cells]


def _headers(page: str, table_id: str) -> list[str]:
    table = re.search(rf'<table[^>]*id="{table_id}".*?</thead>', page, re.S)
    assert table, f"no #{table_id} on the page"
    return [visible_text(th).strip() for th in re.findall(r"<th>(.*?)</th>", table.group(0), re.S)]


def _sheet_rows(data: bytes) -> list[list]:
    book = load_workbook(io.BytesIO(data))
    return [[cell.value for cell in line] for line in book.worksheets[0].iter_rows()]


@pytest.fixture
def world(app, login_as):
    """A 杭州 plan open for enrolment; an approved enterprise with two trainees in it (photos
    uploaded, not ordered); the plan's institution, the city authority, all signed in."""
    app.config["CLOCK_FROZEN_AT"] = NOW
    institution = gen_institution("330100")
    plan = gen_plan(institution)
    enterprise = gen_enterprise("330100")
    trainees = gen_trainees(enterprise, plan, 2)
    trainees[0].mobile = "13912345678"
    db.session.commit()
    enterprise_user = gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id)
    institution_user = gen_user(scope.INSTITUTION, institution_id=institution.id)
    return {
        "plan": plan, "enterprise": enterprise, "institution": institution,
        "trainees": trainees, "number": trainees[0].person.id_number,
        "clerk": _client(app, login_as, enterprise_user),
        "school": _client(app, login_as, institution_user),
        "city": _client(app, login_as, gen_regulator("330100")),
    }


# ---- 4. every roster and score-sheet error in one pass, with what the cell held ----------

def _upload_roster(client, plan, rows) -> str:
    response = client.post(f"/enrol/{plan.id}/roster", content_type=FORM,
                           data={"roster": (io.BytesIO(roster_bytes(rows)), "报名人员信息表.xlsx")})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_repeated_id_number_is_reported_although_both_rows_have_other_errors(world):
    number = id_number()
    page = _upload_roster(world["clerk"], world["plan"], [
        row(身份证号码=number, 手机号码="12345"), row(身份证号码=number, 文化程度="博士后")])

    errors = _error_rows(page, "roster-errors")
    assert ("3", "身份证号码", number, "该身份证号码与第 2 行重复。") in errors
    assert {(r, c) for r, c, _v, _m in errors} == {
        ("2", "手机号码"), ("3", "身份证号码"), ("3", "文化程度")}
    assert db.session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_a_wrong_occupation_shows_what_the_cell_held_also_beside_other_errors(world):
    page = _upload_roster(world["clerk"], world["plan"], [
        row(**{"职业(工种)名称": "木 工"}), row(**{"职业(工种)名称": "木工"}, 手机号码="1")])

    errors = _error_rows(page, "roster-errors")
    wrong_trade = "本培训计划的职业（工种）为“钢筋工”。"
    assert ("2", "职业(工种)名称", "木 工", wrong_trade) in errors
    assert ("3", "职业(工种)名称", "木工", wrong_trade) in errors  # found in the same pass
    assert [e[:3] for e in errors if e[1] == "手机号码"] == [("3", "手机号码", "1")]
    assert all(value for _r, column, value, _m in errors if column), errors


def test_a_score_sheet_error_shows_what_the_cell_held(app, login_as):
    app.config["CLOCK_FROZEN_AT"] = NOW
    institution = gen_institution()
    plan = gen_finished_plan(institution, train_start=NOW.date() - dt.timedelta(days=30),
                             train_end=NOW.date() - dt.timedelta(days=5))
    trainees = gen_paid_trainees(plan, 2)
    assessment = gen_assessment(plan, exam_start=NOW - dt.timedelta(days=2, hours=3),
                                exam_end=NOW - dt.timedelta(days=2))
    school = _client(app, login_as, gen_user(scope.INSTITUTION, institution_id=institution.id))
    book = load_workbook(io.BytesIO(scores.template(assessment)))
    sheet = book[scores.SHEET]
    first = scores.HEADER_ROW + 1
    for line in (first, first + 1):
        sheet.cell(line, 3).value, sheet.cell(line, 4).value = 80, 75
    number = trainees[0].person.id_number
    typed = f"{number[:6]} {number[6:14]} {number[14:]}"  # the same number, typed with spaces
    for column, value in enumerate((typed, trainees[0].person.name, 90, 90), start=1):
        sheet.cell(first + 2, column).value = value
    out = io.BytesIO()
    book.save(out)

    response = school.post(f"/assessments/scores/{assessment.id}", content_type=FORM,
                           data={"scores": (io.BytesIO(out.getvalue()), "成绩导入表.xlsx")})

    errors = _error_rows(response.get_data(as_text=True), "score-errors")
    assert errors == [(str(first + 2), "身份证号码", typed, f"该身份证号码与第 {first} 行重复。")]
    assert db.session.scalar(select(func.count()).select_from(ScoreReport)) == 0


# ---- 6. the manual's words ----------------------------------------------------------------

def test_the_search_row_button_says_详情(world):
    page = _page(world["clerk"], path("TraineeView.search"))
    buttons = re.findall(r'href="/trainees/\d+">([^<]*)</a>', page)
    assert buttons == ["详情", "详情"]
    assert "说明" not in visible_text(page)


def test_已报名_has_distinct_column_titles_and_a_button_that_names_what_it_opens(world):
    plan = world["plan"]
    gen_order(world["enterprise"], plan, 2)
    page = _page(world["clerk"], path("EnrolledView.plans"))
    titles = _headers(page, "enrolled-plans")
    assert len(titles) == len(set(titles)), titles
    assert "培训计划" in titles and "培训计划状态" in titles
    button = re.search(rf'href="/enrolled/{plan.id}/">([^<]*)</a>', page).group(1)
    assert button == "查看学员"


def test_the_enterprise_page_button_is_修改_as_in_the_manual(app, login_as):
    rejected = gen_enterprise(review_state="rejected", review_reason="营业执照不清晰")
    clerk = _client(app, login_as, gen_user(scope.ENTERPRISE, enterprise_id=rejected.id))
    page = _page(clerk, path("MyEnterpriseView.info"))
    assert re.search(r'id="modify"[^>]*>修改</a>', page)
    assert "请点击“修改”" in page and ">编辑<" not in page


def test_no_table_on_the_roles_pages_repeats_a_column_title(world):
    plan, enterprise = world["plan"], world["enterprise"]
    order = gen_order(enterprise, plan, 1)
    enrolment = order.items[0].enrolment
    pages = {
        "clerk": [path("MyEnterpriseView.info"), path("OpenPlanView.list"),
                  path("EnrolmentView.plan", plan_id=plan.id), path("OrderView.list"),
                  path("OrderView.show", pk=order.id), path("EnrolledView.plans"),
                  path("EnrolledView.plan", plan_id=plan.id), path("TraineeView.search"),
                  path("TraineeView.detail", enrolment_id=enrolment.id)],
        "school": [path("TrainingPlanView.list"), path("TrainingPlanView.show", pk=plan.id),
                   path("OrderView.list"), path("TraineeView.search"),
                   path("TraineeView.detail", enrolment_id=enrolment.id)],
        "city": [path("TrainingPlanView.list"), path("EnterpriseView.list"),
                 path("OrderView.show", pk=order.id), path("TraineeView.search"),
                 path("TraineeView.detail", enrolment_id=enrolment.id)],
    }
    for who, urls in pages.items():
        for url in urls:
            for table in re.findall(r"<table.*?</table>", _page(world[who], url), re.S):
                head = re.search(r"<thead>.*?</thead>", table, re.S)
                titles = [visible_text(th).strip() for th in
                          re.findall(r"<th[^>]*>(.*?)</th>", head.group(0) if head else "", re.S)]
                titles = [t for t in titles if t]
                assert len(titles) == len(set(titles)), (who, url, titles)


# ---- 7. nobody to order yet -----------------------------------------------------------------

def test_the_order_panel_says_nobody_to_order_before_any_trainee(world):
    empty = gen_plan(world["institution"])
    page = visible_text(_page(world["clerk"], path("EnrolmentView.plan", plan_id=empty.id)))
    assert "还没有可生成订单的学员" in page
    assert "本计划中的学员都已在订单中" not in page

    ordered = gen_plan(world["institution"])
    gen_order(world["enterprise"], ordered, 1, state="pending")
    page = visible_text(_page(world["clerk"], path("EnrolmentView.plan", plan_id=ordered.id)))
    assert "本计划中的学员都已在订单中" in page and "还没有可生成订单的学员" not in page


# ---- 8. whole ID numbers for who supplied them; masked, or an audited look, for others ----

def _export(client) -> list[list]:
    response = client.post(path("TraineeView.export"), data={"q": ""})
    assert response.status_code == 200 and response.mimetype == XLSX
    return _sheet_rows(response.data)


def test_the_enrolling_enterprise_sees_whole_id_numbers_on_its_pages(world):
    clerk, plan, number = world["clerk"], world["plan"], world["number"]
    enrolment = world["trainees"][0]
    paid = gen_order(world["enterprise"], plan, 1)
    paid_number = paid.items[0].enrolment.person.id_number
    for url in (path("EnrolmentView.plan", plan_id=plan.id),
                path("EnrolmentView.edit", enrolment_id=enrolment.id),
                path("TraineeView.search"),
                path("TraineeView.detail", enrolment_id=enrolment.id)):
        page = visible_text(_page(clerk, url))
        assert number in page and mask_id_number(number) not in page, url
    assert "13912345678" in visible_text(_page(clerk, path("TraineeView.search")))
    for url in (path("EnrolledView.plan", plan_id=plan.id), path("OrderView.show", pk=paid.id)):
        assert paid_number in visible_text(_page(clerk, url)), url
    assert number in {line[2] for line in _export(clerk)}


def test_the_plans_institution_sees_whole_id_numbers_on_its_pages(world, app, login_as):
    school, number = world["school"], world["number"]
    enrolment = world["trainees"][0]
    paid = gen_order(world["enterprise"], world["plan"], 1)
    paid_number = paid.items[0].enrolment.person.id_number
    for url in (path("TraineeView.search"), path("TraineeView.detail", enrolment_id=enrolment.id)):
        page = visible_text(_page(school, url))
        assert number in page and mask_id_number(number) not in page, url
    assert paid_number in visible_text(_page(school, path("OrderView.show", pk=paid.id)))
    assert number in {line[2] for line in _export(school)}
    assert not db.session.scalars(select(AuditLog).where(
        AuditLog.action == "trainee.view_id")).all()  # its own pages: nothing to audit

    other = _client(app, login_as, gen_user(scope.INSTITUTION,
                                            institution_id=gen_institution("330100").id))
    assert number not in _page(other, path("TraineeView.search"))  # not its plan: not its row


def test_the_institution_sees_whole_id_numbers_on_its_score_report(app, login_as):
    app.config["CLOCK_FROZEN_AT"] = NOW
    institution = gen_institution()
    plan = gen_finished_plan(institution, train_start=NOW.date() - dt.timedelta(days=30),
                             train_end=NOW.date() - dt.timedelta(days=5))
    trainees = gen_paid_trainees(plan, 2)
    assessment = gen_assessment(plan, exam_start=NOW - dt.timedelta(days=2, hours=3),
                                exam_end=NOW - dt.timedelta(days=2))
    school = _client(app, login_as, gen_user(scope.INSTITUTION, institution_id=institution.id))
    book = load_workbook(io.BytesIO(scores.template(assessment)))
    for line in range(scores.HEADER_ROW + 1, scores.HEADER_ROW + 3):
        book[scores.SHEET].cell(line, 3).value = book[scores.SHEET].cell(line, 4).value = 88
    out = io.BytesIO()
    book.save(out)
    assert school.post(f"/assessments/scores/{assessment.id}", content_type=FORM, data={
        "scores": (io.BytesIO(out.getvalue()), "成绩导入表.xlsx")}).status_code == 302
    report = db.session.scalars(select(ScoreReport)).one()
    number = trainees[0].person.id_number
    assert number in visible_text(_page(school, path("ScoreReportView.show", pk=report.id)))
    city = _client(app, login_as, gen_regulator(plan.region_code))
    page = visible_text(_page(city, path("ScoreReportView.show", pk=report.id)))
    assert number not in page and mask_id_number(number) in page


def test_authorities_see_masked_lists_and_an_audited_whole_number_in_details(world):
    city, number = world["city"], world["number"]
    enrolment = world["trainees"][0]
    paid = gen_order(world["enterprise"], world["plan"], 1)
    paid_number = paid.items[0].enrolment.person.id_number

    search = visible_text(_page(city, path("TraineeView.search")))
    assert number not in search and mask_id_number(number) in search
    assert "13912345678" not in search and mask_mobile("13912345678") in search
    order = visible_text(_page(city, path("OrderView.show", pk=paid.id)))
    assert paid_number not in order and mask_id_number(paid_number) in order
    exported = {line[2] for line in _export(city)}
    assert number not in exported and mask_id_number(number) in exported
    assert not db.session.scalars(select(AuditLog).where(
        AuditLog.action == "trainee.view_id")).all()

    detail = visible_text(_page(city, path("TraineeView.detail", enrolment_id=enrolment.id)))
    assert number in detail
    (looked,) = db.session.scalars(select(AuditLog).where(
        AuditLog.action == "trainee.view_id")).all()
    assert (looked.object_type, looked.object_id) == ("Enrolment", str(enrolment.id))
    assert looked.region_code == "330100"
    assert number not in (looked.summary or "") and number[-6:] not in (looked.summary or "")
    # The look is in the audit log, not in the trainee's history that the enterprise reads.
    clerk_detail = _page(world["clerk"], path("TraineeView.detail", enrolment_id=enrolment.id))
    assert "trainee.view_id" not in clerk_detail
    assert len(db.session.scalars(select(AuditLog).where(
        AuditLog.action == "trainee.view_id")).all()) == 1  # the owner's look is not audited


# ---- 9. whose trainee it is -----------------------------------------------------------------

# The screen says 手机号 where the export (like the roster) says 手机号码.
SAME_COLUMN = {"手机号": "手机号码"}


def test_authorities_and_the_institution_see_the_enterprise_column_in_the_screens_order(world):
    name = world["enterprise"].name
    for who in ("city", "school"):
        page = _page(world[who], path("TraineeView.search"))
        titles = [t for t in _headers(page, "trainees") if t]
        assert "企业" in titles and name in visible_text(page)
        exported = _export(world[who])
        header = exported[0]
        assert [SAME_COLUMN.get(t, t) for t in titles] == [h for h in header if h in {
            SAME_COLUMN.get(t, t) for t in titles}], (titles, header)
        assert {line[header.index("企业")] for line in exported[1:]} == {name}

    page = _page(world["clerk"], path("TraineeView.search"))
    titles = [t for t in _headers(page, "trainees") if t]
    assert "企业" not in titles  # every trainee on an enterprise's page is its own
    header = _export(world["clerk"])[0]
    assert "企业" not in header
    assert [SAME_COLUMN.get(t, t) for t in titles] == [h for h in header if h in {
        SAME_COLUMN.get(t, t) for t in titles}]


# ---- 12. no dead ends -----------------------------------------------------------------------

@pytest.mark.parametrize("state, label, says", [
    ("pending", "待审核", "审核通过后即可报名"),
    ("rejected", "审核不通过", "营业执照不清晰"),
])
def test_an_enterprise_not_yet_approved_is_told_why_no_plan_is_listed(app, login_as, world,
                                                                       state, label, says):
    waiting = gen_enterprise(review_state=state, review_reason="营业执照不清晰"
                             if state == "rejected" else None)
    clerk = _client(app, login_as, gen_user(scope.ENTERPRISE, enterprise_id=waiting.id))
    page = _page(clerk, path("OpenPlanView.list"))
    notice = visible_text(re.search(r'id="enrolment-closed".*?</div>', page, re.S).group(0))
    assert label in notice and says in notice and "审核通过后即可报名" in notice
    assert f'/enrol/{world["plan"].id}/' not in page  # still nothing to enrol in
    assert 'id="enrolment-closed"' not in _page(world["clerk"], path("OpenPlanView.list"))


def test_saving_a_plan_opens_it(world):
    form = {"occupation": dictionary_value(Occupation, "架子工").id,
            "level": dictionary_value(OccupationLevel, "四级/中级工").id,
            "quota": "30", "fee": "880.50",
            "enrol_start": "2026-12-05 09:00:00", "enrol_end": "2026-12-20 17:00:00",
            "train_start": "2026-12-25", "train_end": "2027-01-10",
            "venue": "保存后打开的实训中心", "region": "330100", "contact": "王老师", "notes": ""}
    response = world["school"].post("/trainingplanview/add", data=form)
    plan = db.session.scalars(select(TrainingPlan).where(
        TrainingPlan.venue == "保存后打开的实训中心")).one()
    assert response.status_code == 302
    assert response.location.endswith(path("TrainingPlanView.show", pk=plan.id))
    page = visible_text(_page(world["school"], response.location))
    assert "保存后打开的实训中心" in page and "草稿" in page

    response = world["school"].post(f"/trainingplanview/edit/{plan.id}",
                                    data={**form, "venue": "改过的实训中心"})
    assert response.location.endswith(path("TrainingPlanView.show", pk=plan.id))


def test_the_pay_within_60_minutes_note_is_for_the_enterprise_only(world):
    gen_order(world["enterprise"], world["plan"], 1, state="pending")
    assert 'id="pay-within"' in _page(world["clerk"], path("OrderView.list"))
    for who in ("school", "city"):
        page = _page(world[who], path("OrderView.list"))
        assert 'id="pay-within"' not in page and "60分钟内支付" not in page
