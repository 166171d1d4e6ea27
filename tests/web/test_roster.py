"""Roster check and import: forgiving of harmless mess, strict and complete about real errors."""
import datetime as dt
import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app import scope
from app.extensions import db
from app.services import roster
from models.enrolment import Enrolment, ImportBatch, Person
from models.reference import Occupation
from tests.factories import dictionary_value, gen_enterprise, gen_institution, gen_plan, gen_user
from tests.rosters import id_number, roster_bytes, row, with_macro, zip_bomb

TODAY = dt.date(2026, 11, 28)


@pytest.fixture
def frozen(app):
    app.config["CLOCK_FROZEN_AT"] = dt.datetime(2026, 11, 28, 10, 0)


def _errors(data, plan=None):
    report = roster.check(data, plan, today=TODAY)
    return [(e.row, e.column, e.message) for e in report.errors], report


def test_harmless_mess_is_normalized(app):
    number = id_number(male=False)
    x_number = next(n for n in (id_number() for _ in range(60)) if n.endswith("X"))
    full_width = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    rows = [
        row(姓名="\u3000李四 ", 身份证号码=full_width, 手机号码="138 0013 8001"),
        row(姓名="王五", 身份证号码=x_number.lower(), 职业名称=None),
        row(姓名="赵六", 手机号码=13800138002,
            **{"职业(工种)名称": "钢筋 工", "文化程度": " 本科 "}),
        row(姓名="阿依古丽·买买提"),
    ]
    errors, report = _errors(roster_bytes(rows))
    assert errors == []
    assert report.rows == 4
    assert [t.name for t in report.trainees] == ["李四", "王五", "赵六", "阿依古丽·买买提"]
    assert report.trainees[0].id_number == number and report.trainees[0].mobile == "13800138001"
    assert report.trainees[1].id_number == x_number
    assert report.trainees[2].mobile == "13800138002"


@pytest.mark.parametrize("overrides, column, text", [
    ({"姓名": ""}, "姓名", "不能为空"),
    ({"姓名": '=HYPERLINK("http://x","点我")'}, "姓名", "汉字"),
    ({"姓名": "Zhang San"}, "姓名", "汉字"),
    ({"身份证号码": "33010619900101123"}, "身份证号码", "应为 18 位"),
    ({"身份证号码": "330106199001011230"}, "身份证号码", "校验码错误"),
    ({"身份证号码": "330106199002301234"}, "身份证号码", "出生日期不存在"),
    ({"身份证号码": id_number(dt.date(2012, 5, 5))}, "身份证号码", "未满 16 周岁"),
    ({"身份证号码": 3.30106199001012e17}, "身份证号码", "丢失位数"),
    ({"性别": "女", "身份证号码": id_number(male=True)}, "性别", "身份证号码显示为“男”"),
    ({"手机号码": "12800138000"}, "手机号码", "11 位"),
    ({"手机号码": "1380013800"}, "手机号码", "11 位"),
    ({"文化程度": "本课"}, "文化程度", "是否为“本科”"),
    ({"职业等级": "五级"}, "职业等级", "下拉列表"),
])
def test_each_error_with_its_row_and_column(app, overrides, column, text):
    data = roster_bytes([row(姓名="第一人"), row(**overrides)])
    errors, _ = _errors(data)
    assert [(r, c) for r, c, _m in errors] == [(3, column)], errors
    assert text in errors[0][2]


def test_all_errors_in_one_pass(app):
    rows = [row(姓名="", 手机号码="1"), row(), row(文化程度="博士后")]
    errors, report = _errors(roster_bytes(rows))
    assert {(r, c) for r, c, _m in errors} == {(2, "姓名"), (2, "手机号码"), (4, "文化程度")}
    assert report.rows == 3


def test_retired_value_is_refused(app):
    dictionary_value(Occupation, "钢筋工").active = False
    db.session.commit()
    errors, _ = _errors(roster_bytes([row()]))
    assert errors[0][:2] == (2, "职业(工种)名称")


def test_duplicate_id_in_the_file(app):
    number = id_number()
    errors, _ = _errors(roster_bytes([row(身份证号码=number), row(), row(身份证号码=number)]))
    assert errors == [(4, "身份证号码", "该身份证号码与第 2 行重复。")]


def test_header_anywhere_in_the_first_five_rows_in_any_order(app):
    headers = ["备注", "职业等级", "姓名", "身份证号码", "性别", "手机号码", "职业(工种)名称",
               "职称", "文化程度"]
    data = roster_bytes([row(备注="随便写")], headers=headers, header_row=4)
    errors, report = _errors(data)
    assert errors == [] and report.rows == 1


def test_missing_column_is_one_clear_error(app):
    headers = ["序号", "姓名", "性别", "身份证号码", "文化程度", "职称", "职业(工种)名称", "职业等级"]
    errors, _ = _errors(roster_bytes([row()], headers=headers))
    assert [(c, m) for _r, c, m in errors] == [("手机号码", "表头缺少“手机号码”列。")]


def test_empty_rows_are_skipped_and_no_rows_is_an_error(app):
    errors, report = _errors(roster_bytes([row(), {}, {}, row()]))
    assert errors == [] and report.rows == 2
    errors, _ = _errors(roster_bytes([]))
    assert errors == [(None, None, "表格中没有学员，请在表头下方填写。")]


@pytest.mark.parametrize("payload, text", [
    (b"%PDF-1.4 not a workbook", "不是 Excel .xlsx"),
    ("序号,姓名\n1,张三\n".encode(), "不是 Excel .xlsx"),
    (b"PK\x03\x04broken", "已损坏"),
])
def test_not_a_workbook(app, payload, text):
    with pytest.raises(roster.RosterRefused) as refused:
        roster.check(payload)
    assert text in str(refused.value)


def test_macros_size_bombs_and_too_many_rows_are_refused_before_parsing(app):
    good = roster_bytes([row()])
    for data, text in ((with_macro(good), "含宏"), (zip_bomb(good), "超过 100 MB"),
                       (good + b"\0" * (10 * 1024 * 1024), "超过 10 MB")):
        with pytest.raises(roster.RosterRefused) as refused:
            roster.check(data)
        assert text in str(refused.value)
    many = roster_bytes([row(身份证号码=id_number())] * 20_001, from_template=False)
    with pytest.raises(roster.RosterRefused, match="20000"):
        roster.check(many)


def test_cli_reports_json_and_exit_codes(app, runner, tmp_path):
    good, bad = tmp_path / "good.xlsx", tmp_path / "bad.xlsx"
    good.write_bytes(roster_bytes([row(), row()]))
    bad.write_bytes(roster_bytes([row(), row(身份证号码="330106199001011230")]))
    result = runner.invoke(args=["roster", "check", str(good)])
    assert result.exit_code == 0 and json.loads(result.stdout) == {"ok": True, "rows": 2}
    result = runner.invoke(args=["roster", "check", str(bad)])
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and report["ok"] is False and report["rows"] == 2
    assert report["errors"][0]["row"] == 3 and report["errors"][0]["column"] == "身份证号码"
    assert report["errors"][0]["value"] == "330106199001011230"


# ---- against a plan, through the web page --------------------------------------------------

@pytest.fixture
def setup(app, login_as, frozen):
    plan = gen_plan(gen_institution(), quota=5,
                    enrol_start=dt.datetime(2026, 11, 20), enrol_end=dt.datetime(2026, 12, 10))
    enterprise = gen_enterprise()
    client = app.test_client()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    return {"plan": plan, "enterprise": enterprise, "client": client}


def _upload(client, plan, data):
    return client.post(f"/enrol/{plan.id}/roster",
                       data={"roster": (io.BytesIO(data), "报名人员信息表.xlsx")},
                       content_type="multipart/form-data")


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_valid_roster_enrols_everyone_in_one_batch(app, setup):
    second = row(姓名="李四")
    response = _upload(setup["client"], setup["plan"], roster_bytes([row(), second]))
    assert response.status_code == 302
    assert (_count(Person), _count(Enrolment), _count(ImportBatch)) == (2, 2, 1)
    page = setup["client"].get(f"/enrol/{setup['plan'].id}/").get_data(as_text=True)
    assert "李四" in page and "未上传" in page
    assert second["身份证号码"] in page  # the enterprise's own list: whole ID numbers


def test_any_error_imports_nothing_and_marks_the_workbook(app, setup):
    data = roster_bytes([row(), row(手机号码="12345"), row()])
    page = _upload(setup["client"], setup["plan"], data).get_data(as_text=True)
    assert "未导入任何人" in page and "手机号码应为 11 位数字" in page
    assert (_count(Person), _count(Enrolment), _count(ImportBatch)) == (0, 0, 0)
    marked = setup["client"].get(f"/enrol/{setup['plan'].id}/roster-errors.xlsx")
    assert marked.status_code == 200
    sheet = load_workbook(io.BytesIO(marked.data))["报名人员信息表"]
    assert sheet["E3"].fill.fgColor.rgb.endswith("FFC7CE")
    assert "11 位" in sheet["E3"].comment.text
    assert sheet["E2"].comment is None


def test_plan_rules_seats_enrolled_and_occupation(app, setup):
    plan = setup["plan"]
    first = row()
    assert _upload(setup["client"], plan, roster_bytes([first])).status_code == 302
    errors, _ = _errors(roster_bytes([first, row(**{"职业(工种)名称": "砌筑工"})]), plan)
    assert (2, "身份证号码", "该人员已报名此培训计划。") in errors
    assert (3, "职业(工种)名称", "本培训计划的职业（工种）为“钢筋工”。") in errors
    errors, _ = _errors(roster_bytes([row() for _ in range(6)]), plan)
    assert errors == [(None, None, "表格中有 6 名学员，但该培训计划只剩 5 个名额。")]


def test_each_enrolment_keeps_its_own_mobile_under_one_identity(app, setup):
    number = id_number()
    _upload(setup["client"], setup["plan"], roster_bytes([row(身份证号码=number,
                                                              手机号码="13800000001")]))
    second = gen_plan(gen_institution(), enrol_start=dt.datetime(2026, 11, 20),
                      enrol_end=dt.datetime(2026, 12, 10))
    _upload(setup["client"], second, roster_bytes([row(身份证号码=number, 手机号码="13900000002")]))
    db.session.expire_all()
    assert db.session.scalars(select(Person.id_number)).all() == [number]
    mobiles = db.session.scalars(select(Enrolment.mobile).order_by(Enrolment.id)).all()
    assert mobiles == ["13800000001", "13900000002"]


def test_add_one_trainee_and_remove(app, setup):
    plan, client = setup["plan"], setup["client"]
    form = {"姓名": "孙七", "性别": "男", "身份证号码": id_number(), "手机号码": "13700001234",
            "文化程度": "初中", "职称": "无", "职业(工种)名称": "钢筋工", "职业等级": "五级/初级工"}
    bad = client.post(f"/enrol/{plan.id}/add", data={**form, "手机号码": "1"}).get_data(as_text=True)
    assert "手机号码" in bad and _count(Enrolment) == 0
    assert client.post(f"/enrol/{plan.id}/add", data=form).status_code == 302
    enrolment = db.session.scalars(select(Enrolment)).one()
    client.post(f"/enrol/remove/{enrolment.id}", data={"plan_id": plan.id})
    db.session.expire_all()
    assert db.session.get(Enrolment, enrolment.id).status == "removed"
    assert client.post(f"/enrol/{plan.id}/add", data=form).status_code == 302  # may enrol again


def test_others_cannot_touch_these_trainees(app, setup, login_as):
    _upload(setup["client"], setup["plan"], roster_bytes([row()]))
    enrolment = db.session.scalars(select(Enrolment)).one()
    other = app.test_client()
    login_as(other, gen_user(scope.ENTERPRISE, enterprise_id=gen_enterprise().id))
    assert "未上传" not in other.get(f"/enrol/{setup['plan'].id}/").get_data(as_text=True)
    other.post(f"/enrol/remove/{enrolment.id}", data={"plan_id": setup["plan"].id})
    db.session.expire_all()
    assert db.session.get(Enrolment, enrolment.id).status == "live"


def test_pending_enterprise_and_closed_plan_cannot_enrol(app, setup, login_as):
    pending = app.test_client()
    login_as(pending, gen_user(scope.ENTERPRISE,
                               enterprise_id=gen_enterprise(review_state="pending").id))
    _upload(pending, setup["plan"], roster_bytes([row()]))
    page = pending.get(f"/enrol/{setup['plan'].id}/", follow_redirects=True).get_data(as_text=True)
    assert "企业审核通过后才能报名" in page
    closed = gen_plan(gen_institution(), enrol_start=dt.datetime(2026, 10, 1),
                      enrol_end=dt.datetime(2026, 10, 20))
    page = _upload(setup["client"], closed, roster_bytes([row()])).get_data(as_text=True)
    page = setup["client"].get(f"/enrol/{closed.id}/", follow_redirects=True).get_data(as_text=True)
    assert "不在报名时间内" in page
    assert _count(Enrolment) == 0


def test_edit_a_trainee_under_the_same_rules(app, setup, login_as):
    _upload(setup["client"], setup["plan"], roster_bytes([row(姓名="周八")]))
    enrolment = db.session.scalars(select(Enrolment)).one()
    client = setup["client"]
    form = {"姓名": "周八", "性别": enrolment.person.gender, "手机号码": "13911112222",
            "文化程度": "大专", "职称": "中级"}
    bad = client.post(f"/enrol/edit/{enrolment.id}", data={**form, "文化程度": "大学"})
    assert "不是“文化程度”的可选项" in bad.get_data(as_text=True)
    assert client.post(f"/enrol/edit/{enrolment.id}", data=form).status_code == 302
    db.session.expire_all()
    enrolment = db.session.get(Enrolment, enrolment.id)
    assert (enrolment.mobile, enrolment.education.name, enrolment.title.name) == (
        "13911112222", "大专", "中级")
    other = app.test_client()
    login_as(other, gen_user(scope.ENTERPRISE, enterprise_id=gen_enterprise().id))
    assert other.post(f"/enrol/edit/{enrolment.id}", data=form).status_code == 404


def test_a_cell_openpyxl_cannot_read_is_a_damaged_file(app):
    import zipfile as zf

    source = io.BytesIO(roster_bytes([row()]))
    out = io.BytesIO()
    with zf.ZipFile(source) as src, zf.ZipFile(out, "w") as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(b"<v>1</v>", b"<v>abc</v>", 1)
            dst.writestr(item, content)
    with pytest.raises(roster.RosterRefused, match="已损坏"):
        roster.check(out.getvalue())
