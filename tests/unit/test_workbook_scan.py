"""workbooks.scan: the sheet's extent counted without a Python call per element (_counted)
is the stream's, or the stream is asked; either way the same counts and the same refusal."""
import io
import re
import zipfile

import pytest
from openpyxl import Workbook

from app.services import workbooks
from app.services.workbooks import DAMAGED, Extent, WorkbookRefused, _Beyond

PART = "xl/worksheets/sheet1.xml"
LIMITS = Extent(rows=30, columns=9)


def sheet_xml(rows: int = 20, columns: int = 5) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for r in range(rows):
        sheet.append([f"文本{r}-{c}" if c % 2 else r * 10 + c for c in range(columns)])
    out = io.BytesIO()
    workbook.save(out)
    with zipfile.ZipFile(out) as archive:
        return archive.read(PART)


def archive_of(xml: bytes) -> zipfile.ZipFile:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(PART, xml)
    return zipfile.ZipFile(io.BytesIO(out.getvalue()))


def outcome(xml: bytes, limits: Extent = LIMITS, counted: bool = True, seen=None,
            parsed_later: bool = False):
    """What scan returns or raises, with _counted or with the stream alone."""
    archive = archive_of(xml)
    original = workbooks._counted
    if not counted:
        workbooks._counted = lambda *_args: None
    try:
        result = workbooks.scan(archive, PART, limits, seen, parsed_later=parsed_later)
        return ("extent", result.rows, result.columns, result.cells)
    except _Beyond as beyond:
        return ("beyond", beyond.what, beyond.value)
    except WorkbookRefused as refused:
        return ("refused", refused.args[0])
    finally:
        workbooks._counted = original


def counted(xml: bytes):
    return workbooks._counted(archive_of(xml), PART)


PLAIN = sheet_xml()
VARIANTS = {
    "plain": PLAIN,
    "a cell without r": PLAIN.replace(b'<c r="B3"', b"<c", 1),
    "r after another attribute": re.sub(rb'<c r="(C4)" t="(\w+)"', rb'<c t="\2" r="\1"', PLAIN, 1),
    "r in single quotes": PLAIN.replace(b'<c r="D5"', b"<c r='D5'", 1),
    "a declaration": b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n' + PLAIN,
    "a prefixed cell": re.sub(rb'<c (r="A2"[^>]*)>(.*?)</c>', rb"<x:c \1>\2</x:c>",
                              PLAIN.replace(b"<worksheet ", b'<worksheet xmlns:x="urn:x" ', 1), 1),
    "a row without r": PLAIN.replace(b'<row r="7">', b"<row>", 1),
    "a row 0": PLAIN.replace(b'<row r="1">', b'<row r="0">', 1),
    "a comment": PLAIN.replace(b"<sheetData>", b"<!-- <c r=\"Z1\"/> --><sheetData>", 1),
    "a CDATA section": PLAIN.replace(b"<sheetData>", b"<sheetPr><![CDATA[<row r='99'>]]></sheetPr>"
                                     b"<sheetData>", 1),
    "a processing instruction": PLAIN.replace(b"<sheetData>", b"<?x <c r='Z1'?><sheetData>", 1),
    "a DTD": b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaa">]>'
             + re.sub(rb"^<\?xml[^>]*\?>", b"", PLAIN),
    "UTF-16": PLAIN.decode().replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16"),
    "a column too wide": PLAIN.replace(b'<c r="B3"', b'<c r="K3"', 1),
    "a row too far": PLAIN.replace(b'<row r="19">', b'<row r="40">', 1).replace(b'r="A19"', b'r="A40"'),
    "too wide, then too long": PLAIN.replace(b'<c r="B3"', b'<c r="K3"', 1)
    .replace(b'<row r="19">', b'<row r="40">', 1),
    "too long, then too wide": PLAIN.replace(b'<row r="3">', b'<row r="40">', 1)
    .replace(b'<c r="B19"', b'<c r="K19"', 1),
    "a bad reference": PLAIN.replace(b'<c r="B3"', b'<c r="b3"', 1),
    "malformed, within the limits": PLAIN.replace(b"</row>", b"</rowx>", 1),
    "malformed, then too wide": PLAIN.replace(b"</row>", b"</rowx>", 1)
    .replace(b'<c r="B19"', b'<c r="K19"', 1),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_the_counts_and_refusals_are_the_streams(name):
    xml = VARIANTS[name]
    assert outcome(xml) == outcome(xml, counted=False)
    if not name.startswith("malformed, within"):
        assert outcome(xml, parsed_later=True) == outcome(xml, counted=False)


def test_a_plain_sheet_is_counted_and_an_unusual_one_is_left_to_the_stream():
    assert counted(PLAIN) == Extent(rows=20, columns=5, cells=100)
    assert counted(VARIANTS["a declaration"]) == Extent(rows=20, columns=5, cells=100)
    assert outcome(PLAIN) == ("extent", 20, 5, 100)
    for name in ("a cell without r", "r after another attribute", "r in single quotes",
                 "a prefixed cell", "a row without r", "a row 0", "a comment", "a CDATA section",
                 "a processing instruction", "a DTD", "UTF-16", "a bad reference"):
        assert counted(VARIANTS[name]) is None, name


def test_the_counts_carry_over_several_sheets():
    for use in (True, False):
        seen = Extent()
        outcome(PLAIN, Extent(cells=1000), counted=use, seen=seen)
        assert outcome(sheet_xml(rows=3, columns=7), Extent(cells=1000), counted=use,
                       seen=seen) == ("extent", 20, 7, 121)
    assert outcome(sheet_xml(rows=3, columns=7), Extent(cells=120), seen=Extent(cells=100)) \
        == ("beyond", "cells", 121)


def test_a_malformed_sheet_parsed_later_is_counted_and_left_to_openpyxl_which_refuses_it():
    xml = VARIANTS["malformed, within the limits"]
    assert outcome(xml, counted=False) == outcome(xml) == ("refused", DAMAGED)
    # what openpyxl's parser reads before the fault is no more
    assert outcome(xml, parsed_later=True) == ("extent", 20, 5, 100)
    from xml.etree.ElementTree import ParseError, iterparse

    with pytest.raises(ParseError):
        for _event in iterparse(io.BytesIO(xml)):
            pass
