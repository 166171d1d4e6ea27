"""E-invoices of paid orders: the amount in capitals, the nightly issue, its PDF, the CLI."""
import datetime as dt
import io
import json
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from app.extensions import db
from app.integrations.storage import storage
from app.services import audit, invoices
from app.services.invoices import amount_in_words, invoice_number, issue_invoices
from models.audit import AuditLog
from models.orders import Invoice, Order
from models.states import OrderState
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_uscc
from tests.order_factories import gen_order

TODAY = dt.date(2026, 12, 1)
YESTERDAY_EVENING = dt.datetime(2026, 11, 30, 20, 30)


@pytest.fixture
def frozen(app):
    app.config["CLOCK_FROZEN_AT"] = dt.datetime.combine(TODAY, dt.time(10, 0))
    return app


@pytest.fixture
def plan(frozen):
    return gen_plan(gen_institution(uscc=gen_uscc()))


def paid_orders(plan, n: int, trainees: int = 2) -> list[Order]:
    return [gen_order(gen_enterprise(), plan, trainees, paid_at=YESTERDAY_EVENING) for _ in range(n)]


def invoices_per_order() -> dict[int, int]:
    rows = db.session.execute(select(Invoice.order_id, func.count()).group_by(Invoice.order_id))
    return dict(rows.all())


def stored_pdfs(app) -> set[str]:
    return {p.name for p in Path(app.config["UPLOAD_DIR"]).rglob("*") if ".pdf" in p.name}


def pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.mark.parametrize("amount, words", [
    ("1200", "壹仟贰佰元整"),
    ("680", "陆佰捌拾元整"),
    ("1360", "壹仟叁佰陆拾元整"),
    ("1360.05", "壹仟叁佰陆拾元零伍分"),
    ("0.5", "伍角"),
    ("0.05", "伍分"),
    ("0.55", "伍角伍分"),
    ("0", "零元整"),
    ("0.00", "零元整"),
    ("10", "壹拾元整"),
    ("15", "壹拾伍元整"),
    ("10.05", "壹拾元零伍分"),
    ("1.50", "壹元伍角"),
    ("1.000", "壹元整"),
    ("101", "壹佰零壹元整"),
    ("1001", "壹仟零壹元整"),
    ("1010", "壹仟零壹拾元整"),
    ("10001", "壹万零壹元整"),
    ("100010", "壹拾万零壹拾元整"),
    ("100000", "壹拾万元整"),
    ("107000.53", "壹拾万柒仟元伍角叁分"),
    ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
    ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
    ("325.04", "叁佰贰拾伍元零肆分"),
    ("10000000", "壹仟万元整"),
    ("10001000", "壹仟万壹仟元整"),
    ("10000100", "壹仟万零壹佰元整"),
    ("100000000", "壹亿元整"),
    ("100000001", "壹亿零壹元整"),
    ("120000000", "壹亿贰仟万元整"),
    ("102000000", "壹亿零贰佰万元整"),
    ("9999999999.99", "玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
])
def test_amount_in_words(amount, words):
    assert amount_in_words(Decimal(amount)) == words


@pytest.mark.parametrize("amount", ["-1", "-0.01", "1.005", "0.001", "1e16", "NaN", "Infinity"])
def test_amount_in_words_refuses_what_is_no_amount(amount):
    with pytest.raises(ValueError):
        amount_in_words(Decimal(amount))


def test_amount_in_words_takes_no_float():
    with pytest.raises(TypeError):
        amount_in_words(0.1)


def test_invoice_number_is_twenty_digits_fixed_by_day_and_order():
    number = invoice_number(TODAY, 42)
    assert number == "20261201000000000042"
    assert len(number) == 20 and number.isdigit()
    assert invoice_number(TODAY, 42) == number
    assert invoice_number(TODAY, 43) != number


def test_orders_paid_before_the_day_are_invoiced(app, plan):
    buyer = gen_enterprise(name="杭州钢构建设有限公司")
    order = gen_order(buyer, plan, 2, paid_at=YESTERDAY_EVENING)
    gen_order(gen_enterprise(), plan, 1, paid_at=dt.datetime(2026, 12, 1, 0, 5))  # paid today
    gen_order(gen_enterprise(), plan, 1, state=OrderState.PENDING.value)
    gen_order(gen_enterprise(), plan, 1, state=OrderState.EXPIRED.value)

    report = issue_invoices()  # the day defaults to today

    number = invoice_number(TODAY, order.id)
    assert report == {"date": "2026-12-01", "issued": [number], "skipped": 0}
    invoice = db.session.scalars(select(Invoice)).one()
    assert invoice.order_id == order.id
    assert invoice.number == number
    assert invoice.issued_on == TODAY
    assert (invoice.buyer_name, invoice.buyer_uscc) == ("杭州钢构建设有限公司", buyer.uscc)
    assert (invoice.seller_name, invoice.seller_uscc) == (plan.institution.name, plan.institution.uscc)
    assert invoice.item == "培训费（钢筋工·五级/初级工）"
    assert (invoice.quantity, invoice.unit_price, invoice.amount) == (2, Decimal("680.00"),
                                                                     Decimal("1360.00"))
    assert storage().exists(invoice.pdf_key)
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "invoice.issue")).one()
    assert entry.object_id == str(invoice.id)
    assert entry.region_code == plan.region_code
    assert number in entry.summary

    tomorrow = issue_invoices(TODAY + dt.timedelta(days=1))  # the order paid today, now
    assert len(tomorrow["issued"]) == 1
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 2


def test_an_institution_without_uscc_is_invoiced_with_an_empty_one(app, frozen):
    plan = gen_plan(gen_institution(uscc=None))
    paid_orders(plan, 1)
    issue_invoices()
    assert db.session.scalars(select(Invoice.seller_uscc)).one() == ""


def test_issuing_twice_gives_one_invoice_per_order(app, plan):
    orders = paid_orders(plan, 3)
    first = issue_invoices(TODAY)
    second = issue_invoices(TODAY)
    third = issue_invoices(TODAY + dt.timedelta(days=5))
    assert len(first["issued"]) == 3
    assert second == {"date": "2026-12-01", "issued": [], "skipped": 0}
    assert third["issued"] == []
    assert invoices_per_order() == {order.id: 1 for order in orders}
    assert stored_pdfs(app) == {f"inv{number}.pdf" for number in first["issued"]}


def test_two_runs_at_once_issue_one_invoice_per_order(app, plan, monkeypatch):
    orders = paid_orders(plan, 3)
    # Both runs find the orders without invoice and build the first PDF before either
    # commits: the database's unique constraint must decide.
    barrier = threading.Barrier(2, timeout=30)
    first_call = threading.local()
    real_render = invoices._render

    def render_then_wait(*args):
        data = real_render(*args)
        if not getattr(first_call, "done", False):
            first_call.done = True
            barrier.wait()
        return data

    monkeypatch.setattr(invoices, "_render", render_then_wait)
    reports, errors = [], []

    def run():
        with app.app_context():
            try:
                reports.append(issue_invoices(TODAY))
            except Exception as error:  # noqa: BLE001 - the test reports it
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert errors == []
    assert len(reports) == 2
    issued = [number for report in reports for number in report["issued"]]
    assert sorted(issued) == sorted(invoice_number(TODAY, order.id) for order in orders)
    assert sum(report["skipped"] for report in reports) >= 1  # the race did happen
    db.session.expire_all()
    assert invoices_per_order() == {order.id: 1 for order in orders}
    assert stored_pdfs(app) == {f"inv{number}.pdf" for number in issued}
    for invoice in db.session.scalars(select(Invoice)):
        assert invoices.invoice_file(invoice).read().startswith(b"%PDF")


def test_a_run_for_another_day_that_loses_the_race_leaves_no_file(app, plan, monkeypatch):
    (order,) = paid_orders(plan, 1)
    later = TODAY + dt.timedelta(days=1)
    real_render = invoices._render
    other, started = [], []

    def render_while_another_run_commits(*args):
        data = real_render(*args)
        if not started:  # e.g. the nightly task while someone runs the CLI with --date
            started.append(True)

            def run():
                with app.app_context():
                    other.append(issue_invoices(later))
                    db.session.remove()

            thread = threading.Thread(target=run)
            thread.start()
            thread.join(timeout=60)
        return data

    monkeypatch.setattr(invoices, "_render", render_while_another_run_commits)
    report = issue_invoices(TODAY)

    assert report == {"date": "2026-12-01", "issued": [], "skipped": 1}
    assert other[0]["issued"] == [invoice_number(later, order.id)]
    assert invoices_per_order() == {order.id: 1}
    assert stored_pdfs(app) == {f"inv{invoice_number(later, order.id)}.pdf"}


def test_a_run_that_dies_halfway_is_finished_by_the_next(app, plan, monkeypatch):
    orders = paid_orders(plan, 3)
    real_record = audit.record
    calls = []

    def record_then_die(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real_record(*args, **kwargs)

    monkeypatch.setattr(audit, "record", record_then_die)
    with pytest.raises(RuntimeError):
        issue_invoices(TODAY)
    assert invoices_per_order() == {orders[0].id: 1}

    monkeypatch.setattr(audit, "record", real_record)
    report = issue_invoices(TODAY)
    assert report["issued"] == [invoice_number(TODAY, order.id) for order in orders[1:]]
    assert invoices_per_order() == {order.id: 1 for order in orders}
    assert stored_pdfs(app) == {f"inv{invoice_number(TODAY, o.id)}.pdf" for o in orders}
    audited = db.session.scalar(select(func.count()).select_from(AuditLog)
                                .where(AuditLog.action == "invoice.issue"))
    assert audited == 3


def test_a_file_left_by_a_killed_run_is_overwritten(app, plan):
    (order,) = paid_orders(plan, 1)
    key = invoices.pdf_key(invoice_number(TODAY, order.id))
    storage().save_as(key, b"half a PDF from a run killed before its commit")

    issue_invoices(TODAY)

    invoice = db.session.scalars(select(Invoice)).one()
    assert invoice.pdf_key == key
    with storage().open(key) as f:
        assert f.read() == invoices.invoice_pdf(invoice)
    assert stored_pdfs(app) == {key}


def test_the_pdf_reads_as_the_invoice(app, plan):
    buyer = gen_enterprise(name="宁波甬江建筑工程有限公司")
    order = gen_order(buyer, plan, 2, paid_at=YESTERDAY_EVENING)
    issue_invoices(TODAY)
    invoice = db.session.scalars(select(Invoice)).one()

    data = invoices.invoice_file(invoice).read()

    assert data.startswith(b"%PDF")
    assert b"/FontFile2" in data  # the TrueType CJK font is embedded
    text = pdf_text(data)
    for expected in ("电子发票（普通发票）", invoice.number, "2026年12月01日",
                     "宁波甬江建筑工程有限公司", buyer.uscc, plan.institution.name,
                     plan.institution.uscc, "培训费（钢筋工·五级/初级工）", "680.00",
                     "壹仟叁佰陆拾元整", "¥1,360.00", order.out_trade_no):
        assert expected in text, expected


def test_a_missing_pdf_is_rebuilt_for_download(app, plan):
    paid_orders(plan, 1)
    issue_invoices(TODAY)
    invoice = db.session.scalars(select(Invoice)).one()
    with invoices.invoice_file(invoice) as f:
        original = f.read()
    storage().delete(invoice.pdf_key)

    with invoices.invoice_file(invoice) as f:
        assert f.read() == original
    assert storage().exists(invoice.pdf_key)


def test_save_as_refuses_keys_that_are_not_ours(app):
    for key in ("../inv1.pdf", "inv1.exe", "a/b.pdf", "inv-1.pdf"):
        with pytest.raises(ValueError):
            storage().save_as(key, b"x")


def test_the_nightly_task_issues_the_invoices(app, plan):
    from tasks.invoices import issue_invoices_nightly

    (order,) = paid_orders(plan, 1)
    report = issue_invoices_nightly.call_local()
    assert report["issued"] == [invoice_number(TODAY, order.id)]
    assert invoices_per_order() == {order.id: 1}


def test_the_nightly_task_runs_at_one_in_the_morning_china_time():
    from tasks.invoices import issue_invoices_nightly

    task = issue_invoices_nightly.s()
    assert task.validate_datetime(dt.datetime(2026, 11, 30, 17, 0))  # huey passes UTC
    assert not task.validate_datetime(dt.datetime(2026, 12, 1, 1, 0))


def test_cli_issues_for_a_given_date(app, runner, plan):
    order = gen_order(gen_enterprise(), plan, 1, paid_at=dt.datetime(2026, 11, 29, 9, 0))
    early = runner.invoke(args=["invoices", "issue", "--date", "2026-11-29"])
    assert early.exit_code == 0, early.output
    assert json.loads(early.stdout) == {"date": "2026-11-29", "issued": [], "skipped": 0}

    result = runner.invoke(args=["invoices", "issue", "--date", "2026-11-30"])

    assert result.exit_code == 0, result.output
    number = invoice_number(dt.date(2026, 11, 30), order.id)
    assert json.loads(result.stdout) == {"date": "2026-11-30", "issued": [number], "skipped": 0}
    invoice = db.session.scalars(select(Invoice)).one()
    assert (invoice.number, invoice.issued_on) == (number, dt.date(2026, 11, 30))


@pytest.mark.parametrize("bad", ["2026-13-01", "2026-02-30", "20261201", "yesterday", ""])
def test_cli_refuses_a_bad_date(app, runner, plan, bad):
    paid_orders(plan, 1)
    result = runner.invoke(args=["invoices", "issue", "--date", bad])
    assert result.exit_code != 0
    assert "不是有效日期" in result.output and "YYYY-MM-DD" in result.output
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0
