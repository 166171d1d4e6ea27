"""导出 of 报名人员查询 results as .xlsx: every matching row, streamed in bounded memory.

Small results are written in the request (sync_bytes); larger ones become an Export that a
task builds (start → tasks.exports.build_export → build) while the user watches progress().
Every string cell is neutralised against formula injection; ID numbers and mobiles are text,
whole only for the enterprise that enrolled the trainee and the plan's institution.
"""
import datetime as dt
import io
import json
import logging
import tempfile
from contextlib import contextmanager, suppress
from typing import Any, BinaryIO, Callable, Iterable, Optional, Union

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import update

from app import clock
from app.extensions import db
from app.integrations.storage import storage
from app.services import NotFound, trainees
from app.services.codes import mask_id_number, mask_mobile
from app.services.transaction import after_commit, checkpoint, transaction, transactional
from models.exports import Export
from models.user import JianpeiUser

log = logging.getLogger(__name__)

KIND = "trainees"
SHEET = "报名人员"
# The columns of 报名人员查询 in its order, with 性别, 职业等级 and 报名时间 besides; 企业 only
# for those whose screen shows it (trainees.shows_enterprise).
ENTERPRISE = "企业"
HEADERS = ("姓名", "性别", "身份证号码", "手机号码", ENTERPRISE, "培训机构", "培训时间",
           "职业(工种)名称", "职业等级", "培训计划", "考核计划", "成绩报审", "培训证书", "报名时间")
WIDTHS = (12, 6, 22, 15, 30, 24, 26, 16, 14, 12, 12, 12, 20, 18)
SYNC_LIMIT = 2000  # at or below: the file is written in the request; above: an Export task
PROGRESS_EVERY = 1000

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
STATE_LABELS = {
    PENDING: _l("Waiting to start"),
    RUNNING: _l("Being prepared"),
    DONE: _l("Ready to download"),
    FAILED: _l("The export failed; please try again."),
}

# What spreadsheet programs read as the start of a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: Any) -> Any:
    """A string that a spreadsheet could take for a formula gets a leading "'"; other values
    pass unchanged. Characters an .xlsx cannot hold are dropped."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return "'" + value if value.startswith(FORMULA_START) else value


def _text(sheet, value: str) -> WriteOnlyCell:
    """A cell Excel keeps as text: no number, no lost leading zeros, no 1.2E+17."""
    cell = WriteOnlyCell(sheet, value=neutralize(value))
    cell.number_format = "@"
    return cell


def _minute(value: Optional[dt.datetime]) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


def headers(user: Any) -> tuple[str, ...]:
    """The export's column titles for this user."""
    if trainees.shows_enterprise(user):
        return HEADERS
    return tuple(title for title in HEADERS if title != ENTERPRISE)


def write_trainees(rows: Iterable[trainees.Row], out: Union[str, BinaryIO], *, user: Any,
                   progress: Optional[Callable[[int], None]] = None) -> int:
    """Write rows to out (a path or a binary file) as one streamed sheet; the number written.

    Labels are in the default (Chinese) locale, as the headers are, whoever asks and wherever
    this runs (request or task).
    """
    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET)
    titles = headers(user)
    widths = dict(zip(HEADERS, WIDTHS))
    for index, title in enumerate(titles):
        sheet.column_dimensions[get_column_letter(index + 1)].width = widths[title]
    bold = Font(bold=True)
    header = []
    for title in titles:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    try:
        count = _write_rows(sheet, rows, user, progress)
        book.save(out)
    except BaseException:
        _discard(sheet)
        raise
    return count


def _write_rows(sheet, rows: Iterable[trainees.Row], user: Any,
                progress: Optional[Callable[[int], None]]) -> int:
    count = 0
    labels: dict[Any, str] = {None: ""}  # each state is translated once, not once per row

    def label(state) -> str:
        if state not in labels:
            labels[state] = state.label
        return labels[state]

    with_enterprise = trainees.shows_enterprise(user)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        for row in rows:
            person, enrolment, plan = row.person, row.enrolment, row.plan
            full = trainees.may_see_full_id(enrolment, user)
            sheet.append([
                neutralize(person.name),
                neutralize(person.gender),
                _text(sheet, person.id_number if full else mask_id_number(person.id_number)),
                _text(sheet, enrolment.mobile if full else mask_mobile(enrolment.mobile)),
                *([neutralize(enrolment.enterprise.name)] if with_enterprise else []),
                neutralize(plan.institution.name),
                neutralize(plan.training_dates),
                neutralize(enrolment.occupation.name),
                neutralize(enrolment.level.name),
                label(row.phase),
                label(row.assessment),
                label(row.score),
                label(row.certificate),
                _minute(enrolment.created_at),
            ])
            count += 1
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(count)
    return count


def _discard(sheet) -> None:
    """Delete a half-written sheet's temporary file now: openpyxl would keep it, with its ID
    numbers, until the process exits."""
    writer = sheet._writer
    if writer is None:
        return
    with suppress(Exception):
        sheet.close()  # ends the row stream and closes the file
    with suppress(OSError, ValueError):
        writer.cleanup()


@contextmanager
def _rows_session():
    """A database session of its own for trainees.iterate(), which expunges its session every
    batch: the caller's objects (the signed-in user, the Export) stay attached."""
    with current_app.app_context():
        yield


def sync_bytes(search: trainees.Search, user: Any) -> bytes:
    """The whole result as .xlsx bytes; for results up to SYNC_LIMIT rows."""
    buffer = io.BytesIO()
    with _rows_session():
        write_trainees(trainees.iterate(search, user), buffer, user=user)
    return buffer.getvalue()


@transactional
def start(search: trainees.Search, user: Any) -> Export:
    """Record an export of the result; its build is queued once that is committed."""
    export = Export(user_id=user.id, kind=KIND, state=PENDING, rows_done=0,
                    query=json.dumps(search.as_dict(), ensure_ascii=False),
                    rows_total=trainees.count(search, user), created_at=clock.now())
    db.session.add(export)
    db.session.flush()
    after_commit(_queue_build, export.id)
    return export


def _queue_build(export_id: int) -> None:
    from tasks.exports import build_export

    try:
        build_export(export_id)
    except Exception as exc:  # the queue is down: say so on the export's page, not with a 500
        log.exception("export %s could not be queued", export_id)
        _fail(export_id, exc)


def build(export_id: int) -> None:
    """Build a pending export (the task body). Runs once: a repeated or retried task finds
    the export no longer pending and does nothing. A failure is recorded on the export.

    Several units of work on purpose: the claim, each progress step (the status page reads
    rows_done from other requests while the file is written) and the result.
    """
    if not _claim(export_id):
        return
    key = None
    try:
        with transaction() as session:  # this task's session; rows stream through another one
            export = session.get(Export, export_id, populate_existing=True)
            user = session.get(JianpeiUser, export.user_id)
            search = trainees.Search.stored(json.loads(export.query))

            def progress(done: int) -> None:  # called inside _rows_session's app context
                export.rows_done = done
                checkpoint(session)

            with tempfile.TemporaryFile(suffix=".xlsx") as out:
                with _rows_session():
                    written = write_trainees(trainees.iterate(search, user), out, user=user,
                                             progress=progress)
                out.seek(0)
                key = storage().save(out.read(), ".xlsx")
            export.state, export.file_key, export.error = DONE, key, None
            export.rows_done = export.rows_total = written
            export.finished_at = clock.now()
    except Exception as exc:
        log.exception("export %s failed", export_id)
        if key is not None:
            storage().delete(key)
        _fail(export_id, exc)


@transactional
def _claim(export_id: int) -> bool:
    return db.session.execute(
        update(Export).where(Export.id == export_id, Export.state == PENDING)
        .values(state=RUNNING).execution_options(synchronize_session=False)).rowcount == 1


@transactional
def _fail(export_id: int, exc: Exception) -> None:
    db.session.execute(
        update(Export).where(Export.id == export_id)
        .values(state=FAILED, file_key=None, error=f"{type(exc).__name__}: {exc}"[:2000],
                finished_at=clock.now())
        .execution_options(synchronize_session=False))


def own_export(export_id: int, user: Any) -> Export:
    """The user's own export; anyone else's reads as missing."""
    export = db.session.get(Export, export_id)
    if export is None or export.user_id != user.id:
        raise NotFound()
    return export


def progress(export: Export) -> dict:
    """What the status page shows; the view adds the download URL once done."""
    total = export.rows_total or 0
    done = export.rows_done or 0
    if export.state == DONE:
        percent = 100
    else:
        percent = min(99, done * 100 // total) if total else 0
    return {"state": export.state, "label": str(STATE_LABELS.get(export.state, export.state)),
            "rows_done": done, "rows_total": total, "percent": percent,
            "done": export.state == DONE}


@transactional
def purge(older_than_days: int = 7) -> int:
    """Delete export files (they hold ID numbers) and rows older than a week."""
    from sqlalchemy import delete, select

    from app import clock
    from app.extensions import db
    from app.integrations.storage import storage

    cutoff = clock.now() - dt.timedelta(days=older_than_days)
    old = db.session.execute(select(Export.id, Export.file_key).where(
        Export.created_at < cutoff)).all()
    for _export_id, key in old:
        if key:
            storage().delete(key)
    db.session.execute(delete(Export).where(Export.id.in_([row[0] for row in old])))
    return len(old)
