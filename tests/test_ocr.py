"""Licence OCR: the adapter, the parser, the task and `flask ocr license`."""
import json

from app.services.licence import parse
from tests.factories import gen_uscc
from tests.images import licence_jpeg, plain_jpeg


def test_cli_reads_a_generated_licence(runner, tmp_path):
    uscc = gen_uscc()
    image = tmp_path / "yyzz.jpg"
    image.write_bytes(licence_jpeg(uscc, "宁波测试建筑劳务有限公司", legal="王小二",
                                   established="2019年11月23日"))
    result = runner.invoke(args=["ocr", "license", str(image)])
    assert result.exit_code == 0, result.output
    reading = json.loads(result.stdout)
    assert reading == {
        "uscc": uscc, "name": "宁波测试建筑劳务有限公司", "type": "有限责任公司(自然人投资或控股)",
        "legal_representative": "王小二", "registered_capital": "壹仟万元整",
        "established": "2019-11-23", "address": "浙江省杭州市西湖区文三路100号",
    }


def test_cli_exits_1_without_a_valid_code(runner, tmp_path):
    image = tmp_path / "blank.jpg"
    image.write_bytes(plain_jpeg())
    result = runner.invoke(args=["ocr", "license", str(image)])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == dict.fromkeys(
        ["uscc", "name", "type", "legal_representative", "registered_capital", "established",
         "address"])


def test_parser_rejects_a_code_with_a_bad_check_character():
    good = gen_uscc()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    assert parse([f"统一社会信用代码 {bad}", "名称 某公司"])["uscc"] is None
    assert parse([f"统一社会信用代码：{good}"])["uscc"] == good


def test_ocr_task_is_idempotent(app):
    from sqlalchemy import select

    from app.extensions import db
    from app.services import uploads
    from models.accounts import StagedUpload

    uscc = gen_uscc()
    upload = uploads.stage("yyzz", "yyzz.jpg", licence_jpeg(uscc))
    assert upload.ocr_state == "done"
    first = upload.ocr_result
    uploads.read_licence_of(upload.id)  # a retry changes nothing
    db.session.expire_all()
    again = db.session.scalars(select(StagedUpload)).one()
    assert again.ocr_result == first and json.loads(first)["uscc"] == uscc


def test_an_impossible_date_reads_as_none():
    reading = parse(["成立日期 2015年13月01日", "名称 某某公司"])
    assert reading["established"] is None and reading["name"] == "某某公司"
