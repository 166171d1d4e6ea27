"""E-invoices (电子发票) of paid orders: issued nightly, exactly one per order, kept as PDF."""
import datetime as dt
import io
import logging
from decimal import Decimal

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import clock
from app.extensions import db
from app.integrations import pdf as pdfkit
from app.integrations.storage import storage
from app.services import audit, inbox
from app.services.transaction import transaction
from models.orders import Invoice, Order
from models.states import OrderState

log = logging.getLogger(__name__)

TITLE = "电子发票（普通发票）"
UNIT = "人"

# ---------------------------------------------------------------- amount in Chinese capitals

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("仟", "佰", "拾", "")
_SECTIONS = ("", "万", "亿", "万亿")  # every four digits
_CENT = Decimal("0.01")
_LIMIT = Decimal(10) ** (4 * len(_SECTIONS))


def amount_in_words(amount: Decimal) -> str:
    """人民币大写 of an amount in yuan: 1360.05 -> 壹仟叁佰陆拾元零伍分, 1200 -> 壹仟贰佰元整."""
    if isinstance(amount, float):
        raise TypeError("pass a Decimal, not a float")
    amount = Decimal(amount)
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"not an amount of money: {amount}")
    if amount >= _LIMIT:
        raise ValueError(f"amount too large: {amount}")
    if amount.quantize(_CENT) != amount:
        raise ValueError(f"more than two decimals: {amount}")
    cents = int(amount * 100)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    if cents == 0:
        return "零元整"
    words = _integer_words(yuan) + "元" if yuan else ""
    if not jiao and not fen:
        return words + "整"
    if jiao:
        words += _DIGITS[jiao] + "角"
    elif yuan:
        words += "零"  # 元 then 零 when 角 is zero but 分 is not: 壹拾元零伍分
    if fen:
        words += _DIGITS[fen] + "分"
    return words


def _integer_words(number: int) -> str:
    """壹拾万零壹拾 for 100010: one 零 for any run of zeros inside the number, none at its end."""
    groups = []
    while number:
        number, group = divmod(number, 10000)
        groups.append(group)
    words, zeros_before = "", False
    for index in reversed(range(len(groups))):
        group = groups[index]
        if group == 0:
            zeros_before = bool(words)
            continue
        if words and (zeros_before or group < 1000):
            words += "零"
        words += _group_words(group) + _SECTIONS[index]
        zeros_before = False
    return words


def _group_words(group: int) -> str:
    """1..9999 without leading or trailing 零: 1010 -> 壹仟零壹拾."""
    words, pending_zero = "", False
    for digit, place in zip(f"{group:04d}", _PLACES):
        if digit == "0":
            pending_zero = bool(words)
            continue
        if pending_zero:
            words += "零"
            pending_zero = False
        words += _DIGITS[int(digit)] + place
    return words


def money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


# ---------------------------------------------------------------- issuing


def invoice_number(issued_on: dt.date, order_id: int) -> str:
    """20 digits, the same for the same order and day, so a rerun cannot issue a second number."""
    if not 0 < order_id < 10**12:
        raise ValueError(f"order id out of range: {order_id}")
    return f"{issued_on:%Y%m%d}{order_id:012d}"


def pdf_key(number: str) -> str:
    """Where an invoice's PDF is stored: fixed by its number, so a rerun overwrites it."""
    return f"inv{number}.pdf"


def issue_invoices(day: dt.date | None = None) -> dict:
    """Invoice every order paid before `day` (default today) that has none; one commit each.

    Safe to run twice at once or again after dying: the database's unique constraints decide,
    and the PDF is written under a key fixed by the invoice number.
    """
    day = day or clock.today()
    cutoff = dt.datetime.combine(day, dt.time.min)
    order_ids = db.session.scalars(
        select(Order.id)
        .where(Order.state == OrderState.PAID.value, Order.paid_at < cutoff, ~Order.invoice.has())
        .order_by(Order.id)
    ).all()
    issued, skipped = [], 0
    for order_id in order_ids:
        number = _issue_one(order_id, day)
        if number is None:
            skipped += 1
        else:
            issued.append(number)
    log.info("invoices of %s: %d issued, %d skipped", day, len(issued), skipped)
    return {"date": day.isoformat(), "issued": issued, "skipped": skipped}


def _issue_one(order_id: int, day: dt.date) -> str | None:
    """The new invoice's number, or None if the order has one already (another run issued it)."""
    order = db.session.get(Order, order_id)
    if order is None or order.invoice is not None:
        return None
    invoice = _invoice_of(order, day)
    files = storage()
    files.save_as(invoice.pdf_key, _render(invoice, order.out_trade_no))
    try:
        with transaction():  # one unit per invoice, so a clash with another run is seen here
            db.session.add(invoice)
            db.session.flush()
            audit.record(
                "invoice.issue", invoice,
                after={"number": invoice.number, "order": order.out_trade_no,
                       "buyer": invoice.buyer_name, "amount": str(invoice.amount),
                       "issued_on": day.isoformat()},
                region_code=order.plan.region_code,
            )
            inbox.invoice_issued(invoice)
    except IntegrityError:  # rolled back by transaction()
        # A concurrent run committed this order's invoice first. Same day: same number, same
        # key, same bytes; keep its file. Another day: our file belongs to no invoice.
        taken = db.session.scalar(select(Invoice.id).where(Invoice.number == invoice.number))
        if taken is None:
            files.delete(invoice.pdf_key)
        return None
    except BaseException:  # rolled back by transaction()
        files.delete(invoice.pdf_key)  # maybe committed after all: invoice_file rebuilds it
        raise
    return invoice.number


def _invoice_of(order: Order, day: dt.date) -> Invoice:
    """A new invoice of the order, its parties copied as they are today."""
    plan = order.plan
    number = invoice_number(day, order.id)
    return Invoice(
        order_id=order.id,
        number=number,
        issued_on=day,
        seller_name=plan.institution.name,
        seller_uscc=plan.institution.uscc or "",
        buyer_name=order.enterprise.name,
        buyer_uscc=order.enterprise.uscc,
        item=f"培训费（{plan.occupation.name}·{plan.level.name}）"[:128],
        quantity=order.trainees,
        unit_price=order.fee,
        amount=order.amount,
        pdf_key=pdf_key(number),
        created_at=clock.now(),
    )


def invoice_file(invoice: Invoice):
    """The invoice's PDF opened for reading; rebuilt first if its file is missing."""
    files = storage()
    if not files.exists(invoice.pdf_key):
        files.save_as(invoice.pdf_key, invoice_pdf(invoice))
    return files.open(invoice.pdf_key)


# ---------------------------------------------------------------- the PDF

_MARGIN = 15 * mm
# 项目名称, 单位, 数量, 单价, 金额 (widths add up to the 180 mm between the margins)
_COLUMNS = (("项目名称", 80 * mm), ("单位", 20 * mm), ("数量", 20 * mm),
            ("单价", 30 * mm), ("金额", 30 * mm))


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as an A4 PDF with the CJK font embedded; the same invoice gives the same bytes."""
    return _render(invoice, invoice.order.out_trade_no)


def _render(invoice: Invoice, out_trade_no: str) -> bytes:
    font = pdfkit.cjk_font()
    out = io.BytesIO()
    pdf = pdfkit.a4_canvas(out, f"{TITLE} {invoice.number}", invoice.seller_name)
    width, height = A4
    left, right = _MARGIN, width - _MARGIN

    pdf.setFont(font, 20)
    pdf.drawCentredString(width / 2, height - 25 * mm, TITLE)
    title_width = stringWidth(TITLE, font, 20)
    for offset in (28 * mm, 29 * mm):
        pdf.line(width / 2 - title_width / 2, height - offset,
                 width / 2 + title_width / 2, height - offset)
    pdf.setFont(font, 10)
    pdf.drawString(right - 65 * mm, height - 36 * mm, f"发票号码：{invoice.number}")
    pdf.drawString(right - 65 * mm, height - 42 * mm, f"开票日期：{invoice.issued_on:%Y年%m月%d日}")

    top = height - 46 * mm
    _parties(pdf, font, top, left, right, invoice)
    top -= 30 * mm
    top = _items(pdf, font, top, left, invoice)
    _row(pdf, font, top, left, right, 11 * mm, "价税合计（大写）",
         f"⊗ {amount_in_words(invoice.amount)}", f"（小写）¥{money(invoice.amount)}")
    top -= 11 * mm
    _row(pdf, font, top, left, right, 16 * mm, "备注", f"订单号：{out_trade_no}", "")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def _parties(pdf, font, top, left, right, invoice: Invoice) -> None:
    """Buyer on the left, seller on the right, each with a narrow stacked label."""
    box = 30 * mm
    middle = (left + right) / 2
    label = 8 * mm
    pdf.rect(left, top - box, right - left, box)
    for x0, title, name, uscc in ((left, "购买方信息", invoice.buyer_name, invoice.buyer_uscc),
                                  (middle, "销售方信息", invoice.seller_name, invoice.seller_uscc)):
        pdf.line(x0, top, x0, top - box)
        pdf.line(x0 + label, top, x0 + label, top - box)
        pdf.setFont(font, 10)
        step = box / (len(title) + 1)
        for i, char in enumerate(title):
            pdf.drawCentredString(x0 + label / 2, top - step * (i + 1) - 3, char)
        inner = middle - left - label - 4 * mm
        x = x0 + label + 2 * mm
        _text(pdf, font, f"名称：{name}", x, top - 7 * mm, inner, 10, 2)
        _text(pdf, font, "统一社会信用代码/纳税人识别号：", x, top - box + 11 * mm, inner, 9, 1)
        _text(pdf, font, uscc or "—", x, top - box + 4 * mm, inner, 11, 1)


def _items(pdf, font, top, left, invoice: Invoice) -> float:
    """The items table (header, the one item, 合计); returns its bottom."""
    header, line, total = 8 * mm, 12 * mm, 8 * mm
    cells = (invoice.item, UNIT, str(invoice.quantity), money(invoice.unit_price),
             money(invoice.amount))
    x = left
    for (title, width), value in zip(_COLUMNS, cells):
        pdf.rect(x, top - header, width, header)
        pdf.rect(x, top - header - line, width, line)
        pdf.setFont(font, 10)
        pdf.drawCentredString(x + width / 2, top - header + 2.8 * mm, title)
        if title == "项目名称":
            _text(pdf, font, value, x + 2 * mm, top - header - 5 * mm, width - 4 * mm, 10, 2)
        elif title == "单位":
            pdf.drawCentredString(x + width / 2, top - header - line / 2 - 1.2 * mm, value)
        else:
            pdf.drawRightString(x + width - 2 * mm, top - header - line / 2 - 1.2 * mm, value)
        x += width
    bottom = top - header - line - total
    pdf.rect(left, bottom, x - left, total)
    pdf.drawCentredString(left + _COLUMNS[0][1] / 2, bottom + 2.8 * mm, "合计")
    pdf.drawRightString(x - 2 * mm, bottom + 2.8 * mm, f"¥{money(invoice.amount)}")
    return bottom


def _row(pdf, font, top, left, right, height, label, text, tail) -> None:
    """A full-width row: a label cell, then text, and a right-aligned tail."""
    label_width = 40 * mm if len(label) > 2 else 20 * mm
    pdf.rect(left, top - height, right - left, height)
    pdf.line(left + label_width, top, left + label_width, top - height)
    pdf.setFont(font, 10)
    pdf.drawCentredString(left + label_width / 2, top - height / 2 - 1.2 * mm, label)
    pdf.setFont(font, 11)
    pdf.drawString(left + label_width + 3 * mm, top - height / 2 - 1.4 * mm, text)
    if tail:
        pdf.drawRightString(right - 3 * mm, top - height / 2 - 1.4 * mm, tail)


def _text(pdf, font, text, x, y, width, size, max_lines) -> None:
    """Text from baseline y, wrapped into at most max_lines lines, smaller if it must."""
    size, lines = pdfkit.shrink_to_fit(text, font, size, width,
                                       lambda size, lines: len(lines) <= max_lines)
    pdfkit.draw_lines(pdf, font, size, lines[:max_lines], x, y, size * 1.2)
