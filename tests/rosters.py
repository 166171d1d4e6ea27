"""Build roster workbooks for tests, starting from the real template."""
import datetime as dt
import io
import itertools
import zipfile

from openpyxl import Workbook

from app.services.codes import id_check_digit
from app.services.roster_template import HEADERS, build

_seq = itertools.count(1)


def id_number(birth: dt.date | None = None, area: str = "330106", male: bool = True) -> str:
    """A valid, unique ID number (born 1990 onwards unless `birth` is given)."""
    n = next(_seq)
    birth = birth or dt.date(1990, 1, 1) + dt.timedelta(days=n // 100)
    body = f"{area}{birth:%Y%m%d}{n % 100:02d}{2 * (n % 5) + (1 if male else 0)}"
    return body + id_check_digit(body)


def row(**overrides) -> dict:
    values = {"序号": 1, "姓名": "张三", "性别": "男", "身份证号码": id_number(),
              "手机号码": "13800138000", "文化程度": "高中/中专/技校", "职称": "无",
              "职业(工种)名称": "钢筋工", "职业等级": "五级/初级工"}
    values.update(overrides)
    if "身份证号码" in overrides and "性别" not in overrides and isinstance(values["身份证号码"], str) \
            and len(values["身份证号码"]) == 18 and values["身份证号码"][16].isdigit():
        values["性别"] = "男" if int(values["身份证号码"][16]) % 2 else "女"
    return values


def roster_bytes(rows: list[dict], *, headers=HEADERS, header_row: int = 1,
                 from_template: bool = True) -> bytes:
    """A workbook with `rows` under `headers` (placed on `header_row`)."""
    if from_template and headers == HEADERS and header_row == 1:
        workbook = build()
        sheet = workbook.active
    else:
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = "报名人员信息表"
        for i, header in enumerate(headers, start=1):
            sheet.cell(row=header_row, column=i, value=header)
    for r, values in enumerate(rows, start=header_row + 1):
        for c, header in enumerate(headers, start=1):
            if header in values and values[header] is not None:
                sheet.cell(row=r, column=c, value=values[header])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def with_macro(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr("xl/vbaProject.bin", b"\0" * 64)
    return out.getvalue()


def zip_bomb(data: bytes) -> bytes:
    """A valid-looking xlsx carrying a member that expands to 120 MB."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr("xl/media/padding.bin", b"\0" * (120 * 1024 * 1024))
    return out.getvalue()
