"""《报名人员信息表》: headers, option lists from the live dictionaries, dropdowns, text cells."""
import io
import json

from openpyxl import load_workbook

from app import scope
from app.extensions import db
from app.services.dictionaries import active_values
from models.reference import Education, Occupation, OccupationLevel, ProfessionalTitle
from tests.factories import dictionary_value, gen_enterprise, gen_user

HEADERS = ["序号", "姓名", "性别", "身份证号码", "手机号码", "文化程度", "职称", "职业(工种)名称",
           "职业等级"]


def _check(workbook):
    sheet, options = workbook["报名人员信息表"], workbook["选项"]
    assert workbook.sheetnames == ["报名人员信息表", "选项"]
    assert [c.value for c in sheet[1]] == HEADERS
    assert [c.value for c in options[1]] == ["职业(工种)名称", "职业等级", "职称", "文化程度"]
    for column, model in zip("ABCD", (Occupation, OccupationLevel, ProfessionalTitle, Education)):
        listed = [c.value for c in options[column][1:] if c.value is not None]
        assert listed == [item.name for item in active_values(model)]
    rules = {str(dv.sqref): dv for dv in sheet.data_validations.dataValidation}
    assert rules["C2:C5001"].formula1 == '"男,女"'
    expected = {"F": "D", "G": "C", "H": "A", "I": "B"}  # roster column -> options column
    for target, source in expected.items():
        rule = rules[f"{target}2:{target}5001"]
        assert rule.type == "list" and rule.formula1.startswith(f"'选项'!${source}$2:${source}$")
    for column in "DE":
        assert sheet[f"{column}2"].number_format == "@"
        assert sheet[f"{column}5001"].number_format == "@"


def test_template_from_cli_matches_the_dictionaries(app, runner, tmp_path):
    retired = dictionary_value(Occupation, "石工")
    retired.active = False
    db.session.commit()
    out = tmp_path / "roster.xlsx"
    result = runner.invoke(args=["roster", "template", str(out)])
    assert result.exit_code == 0 and json.loads(result.stdout)["ok"]
    workbook = load_workbook(out)
    _check(workbook)
    assert "石工" not in [c.value for c in workbook["选项"]["A"]]


def test_enterprise_downloads_the_same_template(app, login_as):
    client = app.test_client()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise_id=gen_enterprise().id))
    response = client.get("/openplanview/roster-template.xlsx")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    _check(load_workbook(io.BytesIO(response.data)))


def test_visitors_cannot_download_it(client):
    assert client.get("/openplanview/roster-template.xlsx").status_code == 302
