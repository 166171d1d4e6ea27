"""Uploaded .xlsx workbooks (the roster, the score sheet): bounded before openpyxl reads them,
their cells read forgivingly into a report of errors per cell, and a marked copy of those errors
only when making it is bounded too. No business rules: the roster and the score sheet bring
theirs (app/services/roster.py, scores.py).

A workbook is a zip of XML parts. Its size, its parts and the sheet to be read are checked
from the zip's headers and one streaming pass over that sheet's XML (its <dimension> first),
so a sheet wider or longer than a template needs is refused before any row is parsed.
"""
import gc
import io
import logging
import math
import re
import unicodedata
import xml.parsers.expat
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from flask_babel import gettext
from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill
from openpyxl.utils import column_index_from_string

from app.services import N_, DomainError

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024
MAX_PARTS = 1000
# One XML part (a sheet, the shared strings, the styles): 20,000 rows of 20 cells fit in 24 MB.
MAX_PART_BYTES = 24 * 1024 * 1024
# Columns a sheet may have beyond its template's, for a note or two the user added.
SPARE_COLUMNS = 11
# The marked copy is made with openpyxl, which holds every cell (about 0.5 KB and 30 µs each,
# load and save): only for workbooks of up to this many cells (a 10,000-trainee roster) ...
MAX_MARKED_CELLS = 100_000
MAX_MARKED_BYTES = 20 * 1024 * 1024
# ... and for the errors listed on the page: the first ones, with a count of the rest.
MAX_LISTED_ERRORS = 500
READ_CHUNK = 256 * 1024

BAD_CELL = PatternFill("solid", fgColor="FFC7CE")
CELL_REF = re.compile(r"^([A-Z]{1,3})([0-9]{1,7})$")
SPACES = re.compile(r"[\s\u3000\u00a0]+")


NOT_XLSX = N_("The file is not an Excel .xlsx workbook; please save it as .xlsx from the "
              "downloaded template.")
DAMAGED = N_("The file is damaged or not an .xlsx workbook.")


class WorkbookRefused(DomainError):
    """The file itself is unusable (not an xlsx, too big, a macro workbook, too wide ...)."""

    message = DAMAGED


def sheet_of(workbook, name: str):
    """The sheet called `name`, else the first one (a renamed sheet is still read)."""
    return workbook[name] if name in workbook.sheetnames else workbook.worksheets[0]


def open_bounded(data: bytes, sheet_name: str, *, columns: int, rows: int, header_rows: int,
                 parsed_later: bool = False):
    """The workbook (read-only) whose sheet `sheet_name` (else the first) is at most `columns`
    + SPARE_COLUMNS wide and `rows` + `header_rows` long, checked before parsing any row.
    `parsed_later`: the caller reads every row of the sheet, or calls damaged_sheet before it
    returns or refuses without, so its XML need not be parsed first (see _counted)."""
    archive = _archive(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        sheet = sheet_of(workbook, sheet_name)
    except Exception:
        raise WorkbookRefused(DAMAGED) from None
    limits = Extent(rows=rows + header_rows, columns=columns + SPARE_COLUMNS)
    try:
        # The dimension the file declares first (openpyxl read it), then what its rows hold
        # (a read-only sheet names its part in _worksheet_path, as since openpyxl 2.4).
        limits.check(Extent(rows=sheet.max_row or 0, columns=sheet.max_column or 0))
        limits.check(scan(archive, sheet._worksheet_path, limits, parsed_later=parsed_later))
    except _Beyond as beyond:
        workbook.close()
        if beyond.what == "columns":
            raise WorkbookRefused(N_(
                "The sheet “%(sheet)s” is %(n)s columns wide; at most %(max)s are accepted. "
                "Delete the columns after the template's, or copy the rows into the downloaded "
                "template."), sheet=sheet.title, n=beyond.value, max=limits.columns) from None
        raise WorkbookRefused(N_("The sheet “%(sheet)s” has more than %(n)s rows; please split "
                                 "it."), sheet=sheet.title, n=rows) from None
    except WorkbookRefused:
        workbook.close()
        raise
    sheet.reset_dimensions()  # read every row the scan counted, whatever the file declares
    return workbook


def _archive(data: bytes) -> zipfile.ZipFile:
    """The zip, if its size, parts and content types can be an .xlsx without macros."""
    if len(data) > MAX_FILE_BYTES:
        raise WorkbookRefused(N_("The file is larger than 10 MB."))
    if not data.startswith(b"PK\x03\x04"):
        raise WorkbookRefused(NOT_XLSX)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        raise WorkbookRefused(DAMAGED) from None
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise WorkbookRefused(NOT_XLSX)
    if len(infos) > MAX_PARTS or sum(info.file_size for info in infos) > MAX_UNZIPPED_BYTES:
        raise WorkbookRefused(N_("The workbook expands to more than 100 MB; it cannot be a "
                                 "roster."))
    for info in infos:
        if info.file_size > MAX_PART_BYTES:
            raise WorkbookRefused(N_(
                "The workbook holds a part (%(name)s) larger than %(n)s MB; copy the rows into "
                "the downloaded template and upload that."),
                name=info.filename[:80], n=MAX_PART_BYTES // (1024 * 1024))
    try:
        macros = any(name.lower().endswith("vbaproject.bin") for name in names) or \
            b"macroEnabled" in archive.read("[Content_Types].xml")
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, RuntimeError):
        raise WorkbookRefused(DAMAGED) from None
    if macros:
        raise WorkbookRefused(N_("Workbooks with macros are not accepted; please save as .xlsx."))
    return archive


# ---- the extent of a sheet --------------------------------------------------------------

@dataclass
class Extent:
    rows: int = 0
    columns: int = 0
    cells: int = 0

    def check(self, seen: "Extent") -> None:
        """Raise _Beyond if `seen` passes one of these limits (0 is no limit)."""
        if self.columns and seen.columns > self.columns:
            raise _Beyond("columns", seen.columns)
        if self.rows and seen.rows > self.rows:
            raise _Beyond("rows", seen.rows)
        if self.cells and seen.cells > self.cells:
            raise _Beyond("cells", seen.cells)


class _Beyond(Exception):
    def __init__(self, what: str, value: int):
        super().__init__(what, value)
        self.what, self.value = what, value


def scan(archive: zipfile.ZipFile, part: str, limits: Extent,
         seen: Optional[Extent] = None, *, parsed_later: bool = False) -> Extent:
    """Rows, columns and cells of a worksheet part, stopping at the first limit passed;
    `seen` carries counts over several sheets. Counted (_counted) if the part is plain, else
    read as a stream (expat, no tree): the same counts, the same limit passed first. Of a
    plain part that is not well-formed XML only the stream says so (see damaged_sheet)."""
    seen = Extent() if seen is None else seen
    counted = _counted(archive, part, parsed_later)
    if counted is not None:
        whole = Extent(rows=max(seen.rows, counted.rows),
                       columns=max(seen.columns, counted.columns),
                       cells=seen.cells + counted.cells)
        try:
            limits.check(whole)
        except _Beyond:
            pass  # the stream says which limit the sheet passed first
        else:  # the counts only grow: within the limits at the end, within them all along
            seen.rows, seen.columns, seen.cells = whole.rows, whole.columns, whole.cells
            return seen
    return _stream(archive, part, limits, seen)


def damaged_sheet(workbook, sheet) -> None:
    """Raise WorkbookRefused as scan's stream would have, of a sheet of a workbook open_bounded
    opened: for a refusal found in its rows, which must not come before a damaged file's."""
    _stream(workbook._archive, sheet._worksheet_path, Extent(), Extent())


def _stream(archive: zipfile.ZipFile, part: str, limits: Extent, seen: Extent) -> Extent:
    # Called for every element (a cell is 2 or 3): the counts and limits in locals, the
    # names and column letters seen before looked up (Extent.check, inlined, in its order).
    rows, columns, cells, column = seen.rows, seen.columns, seen.cells, 0
    max_rows, max_columns, max_cells = (limit or math.inf for limit in
                                        (limits.rows, limits.columns, limits.cells))
    tags: dict[str, str] = {}  # element name -> its local name, whatever the namespace prefix
    letters: dict[str, int] = {}  # column letters -> column number

    def start(name: str, attrs: dict) -> None:
        nonlocal column, rows, columns, cells
        tag = tags.get(name)
        if tag is None:
            tag = tags[name] = name.rpartition(" ")[2]
        if tag == "c":
            reference = attrs.get("r")
            if reference:
                match = CELL_REF.match(reference)
                if not match:
                    raise WorkbookRefused(DAMAGED)
                found = letters.get(match.group(1))
                if found is None:
                    found = letters[match.group(1)] = column_index_from_string(match.group(1))
                column = found or column + 1
            else:
                column += 1
            cells += 1
            if column > columns:
                columns = column
        elif tag == "row":
            number = attrs.get("r", "")
            row = int(number) if number.isascii() and number.isdigit() else 0
            rows = max(rows + (0 if row else 1), row)
            column = 0
        else:
            return
        if columns > max_columns:
            raise _Beyond("columns", columns)
        if rows > max_rows:
            raise _Beyond("rows", rows)
        if cells > max_cells:
            raise _Beyond("cells", cells)

    def no_dtd(*_args) -> None:  # a sheet never declares one; entities could only inflate it
        raise WorkbookRefused(DAMAGED)

    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = no_dtd
    try:
        with archive.open(part) as source:
            while chunk := source.read(READ_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except (_Beyond, WorkbookRefused):
        raise
    except Exception:  # bad XML, a damaged zip member, a reference beyond XFD
        raise WorkbookRefused(DAMAGED) from None
    finally:
        seen.rows, seen.columns, seen.cells = rows, columns, cells
    return seen


# A sheet as Excel, WPS and openpyxl write it: in UTF-8, every <c> and <row> tag unprefixed
# with its r attribute first, plain. Only such a sheet does _counted count (else the stream).
_XML_DECL = re.compile(rb"<\?xml[^>]*?\?>")
_DECL_ENCODING = re.compile(rb"""encoding\s*=\s*["']([^"']*)["']""")
_MARKUP = re.compile(rb"<[!?]")  # a DTD, comment, CDATA section or processing instruction
_PLAIN_CELL = re.compile(rb'<c r="([A-Z]{1,3})[0-9]{1,7}"[ \t\r\n/>]')
_PLAIN_ROW = re.compile(rb'<row r="([0-9]{1,9})"[ \t\r\n/>]')
# A cell or row tag not so (what may end a tag's name in XML: space, tab, CR, LF, / or >).
_OTHER_CELL = re.compile(rb'<c(?:[\t\r\n/>]| (?!r="[A-Z]{1,3}[0-9]{1,7}"[ \t\r\n/>]))')
_OTHER_ROW = re.compile(rb'<row(?:[\t\r\n/>]| (?!r="[0-9]{1,9}"[ \t\r\n/>]))')
_PREFIXED = re.compile(rb":(?:c|row)[ \t\r\n/>]")  # <x:c ... (or text that looks like it)
MAX_COUNTED_TAGS = 1_200_000  # what _counted lists stays small (a 20,000-row roster fits)


def _counted(archive: zipfile.ZipFile, part: str, parsed_later: bool = False) -> Optional[Extent]:
    """The rows, columns and cells scan's stream would count in the worksheet part, found
    without a Python call per element; None when the part is not plain enough to be sure.

    In XML without a DTD, comment, CDATA section or processing instruction (no "<!", no "<?"
    but the declaration) every "<" opens a tag, in any well-formed stretch of it. Every cell
    and row tag must then be unprefixed with its r first, plainly, as the stream reads it (a
    cell's column from its letters, a row's number from its digits, not 0). Of a well-formed
    part the counts are the stream's: expat parses it first (in namespace mode, as the
    stream), unless `parsed_later`. Then a malformed part's counts are no fewer than in the
    well-formed stretch before the fault, all that openpyxl's parser (expat too) reads before
    it fails: the caller refuses the sheet as damaged then (or damaged_sheet does), as the
    stream would have, unless it passes a limit first, and then the stream says which."""
    try:
        with archive.open(part) as source:
            data = source.read(MAX_PART_BYTES + 1)
        if len(data) > MAX_PART_BYTES or data.count(b"<") > MAX_COUNTED_TAGS:
            return None
        body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
        if body[:1] != b"<" or body[1:2] in (b"", b"\x00"):
            return None
        start = len(data) - len(body)
        declaration = _XML_DECL.match(body)
        if declaration:
            encoding = _DECL_ENCODING.search(declaration.group())
            if encoding and encoding.group(1).lower() not in (b"utf-8", b"utf8"):
                return None
            start += declaration.end()
        if _MARKUP.search(data, start) or _PREFIXED.search(data) or _OTHER_CELL.search(data) \
                or _OTHER_ROW.search(data):
            return None
        if not parsed_later:
            xml.parsers.expat.ParserCreate(namespace_separator=" ").Parse(data, True)
        letters = _PLAIN_CELL.findall(data)
        numbers = [int(n) for n in _PLAIN_ROW.findall(data)]
        if 0 in numbers:
            return None
        columns = max((column_index_from_string(c.decode()) for c in set(letters)), default=0)
        return Extent(rows=max(numbers, default=0), columns=columns, cells=len(letters))
    except Exception:  # the stream says what is wrong
        return None


def _column(reference: Optional[str]) -> int:
    if not reference:
        return 0
    match = CELL_REF.match(reference)
    if not match:
        raise WorkbookRefused(DAMAGED)
    return column_index_from_string(match.group(1))



# ---- cells and the report of a checked sheet ---------------------------------------------

@contextmanager
def collector_paused():
    """No cyclic garbage collection while a sheet is read and checked. openpyxl allocates
    some 100 objects a row and the check keeps one or two a row: that starts a collection
    of the young objects every few rows and, as the kept ones pile up, a pass over the whole
    heap (0.3 s or more in a web worker) in the middle of the check. Its garbage is freed
    by reference counting anyway; whatever cycle it leaves waits for the next collection.
    Only the caller that paused the collector resumes it (concurrent checks nest)."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def clean_text(value: Any) -> str:
    """Full-width to half-width, no surrounding spaces of either width."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def exact_digits(value: Any, column: str, row: Optional[int], errors: list) -> Optional[str]:
    """An ID or phone cell: text, or an integer that is still exact (else an error, and None)."""
    if isinstance(value, float):
        # Excel keeps 15 significant digits: an 18-digit ID typed as a number is already wrong.
        if not value.is_integer() or abs(value) >= 2 ** 53:
            errors.append(CellError(row, column, value, gettext(
                "The number lost digits in Excel; format the column as text and type it again.")))
            return None
        value = int(value)
    return SPACES.sub("", clean_text(value))


@dataclass
class CellError:
    row: Optional[int]  # the Excel row; None: the sheet as a whole
    column: Optional[str]  # the header text
    value: Any
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column,
                "value": None if self.value is None else str(self.value), "message": self.message}


@dataclass
class SheetReport:
    """What checking a sheet found: its data rows, every error, and where its header is."""

    rows: int = 0
    errors: list[CellError] = field(default_factory=list)
    header_row: Optional[int] = None
    columns: dict[str, int] = field(default_factory=dict)  # header text -> 0-based column

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        report = {"ok": self.ok, "rows": self.rows}
        if self.errors:
            report["errors"] = [e.as_dict() for e in self.errors]
        return report


# ---- the marked copy --------------------------------------------------------------------

def marked_copy(data: bytes, errors: Iterable[Any], columns: dict[str, int],
                sheet_name: str) -> Optional[bytes]:
    """The workbook with the first MAX_LISTED_ERRORS errors' cells on `sheet_name` (else the
    first sheet) filled red with a comment saying why (an error of a missing column marks its
    row's first cell); None if the workbook is too large to mark, or cannot be."""
    try:
        if not _markable(data):
            return None
        workbook = load_workbook(io.BytesIO(data))
        sheet = sheet_of(workbook, sheet_name)
        notes: dict[tuple[int, int], list[str]] = {}
        for index, error in enumerate(errors):
            if index >= MAX_LISTED_ERRORS:
                break
            if error.row is not None:
                notes.setdefault((error.row, columns.get(error.column, 0) + 1),
                                 []).append(error.message)
        for (row, column), messages in notes.items():
            cell = sheet.cell(row=row, column=column)
            cell.fill = BAD_CELL
            cell.comment = Comment("\n".join(messages), gettext("Jianpei check"))
        out = io.BytesIO()
        workbook.save(out)
        return out.getvalue()
    except Exception as error:  # the list of errors on the page is enough without a copy
        # Only the kind of failure: a message could quote a cell, and cells hold ID numbers.
        log.warning("could not mark the errors in an uploaded workbook: %s",
                    type(error).__name__)
        return None


def _markable(data: bytes) -> bool:
    """Whether openpyxl may load the whole workbook: every sheet's cells counted first."""
    archive = _archive(data)
    if sum(info.file_size for info in archive.infolist()) > MAX_MARKED_BYTES:
        return False
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    try:
        seen, limits = Extent(), Extent(cells=MAX_MARKED_CELLS)
        for sheet in workbook.worksheets:
            scan(archive, sheet._worksheet_path, limits, seen)
    except _Beyond:
        return False
    finally:
        workbook.close()
    return True
