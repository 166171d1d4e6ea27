"""A roster whose sheet XML is damaged is refused as damaged, whatever else it holds: its
sheet is counted without parsing it first (workbooks._counted, parsed_later), so the check
must still answer as when the whole sheet was parsed before any row was read."""
import io
import zipfile

import pytest
from openpyxl import Workbook

from app.services import roster, workbooks
from tests.rosters import roster_bytes, row

PART = "xl/worksheets/sheet1.xml"


def patched(data: bytes, old: bytes, new: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == PART:
                assert old in content
                content = content.replace(old, new)
            dst.writestr(item, content)
    return out.getvalue()


def counted(data: bytes):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return workbooks._counted(archive, PART, parsed_later=True)


def test_a_sheet_damaged_after_its_rows_is_refused(app):
    data = patched(roster_bytes([row(), row(序号=2)]), b"</sheetData>", b"</sheetDatax>")
    assert counted(data) is not None  # counted, not parsed: openpyxl finds the fault
    with pytest.raises(roster.RosterRefused, match="已损坏"):
        roster.check(data)


def test_a_damaged_sheet_without_a_header_is_refused_not_reported(app):
    workbook = Workbook()
    workbook.active.title = roster.SHEET
    for n in range(3000):  # the fault far past the first rows openpyxl parses
        workbook.active.append(["甲", "乙", f"丙{n}"])
    out = io.BytesIO()
    workbook.save(out)
    data = out.getvalue()
    assert not roster.check(data).ok  # no header: the report says so
    damaged = patched(data, b"</sheetData>", b"</sheetDatax>")
    assert counted(damaged) is not None
    with pytest.raises(roster.RosterRefused, match="已损坏"):
        roster.check(damaged)


def test_too_many_rows_in_a_damaged_sheet_is_a_damaged_file(app, monkeypatch):
    monkeypatch.setattr(roster, "MAX_ROWS", 2)  # the row limit is passed on the third row
    data = roster_bytes([row(序号=n) for n in (1, 2, 3)], from_template=False)
    with pytest.raises(roster.RosterRefused, match="^表格超过 2 行"):
        roster.check(data)
    with pytest.raises(roster.RosterRefused, match="已损坏"):
        roster.check(patched(data, b"</sheetData>", b"</sheetDatax>"))
