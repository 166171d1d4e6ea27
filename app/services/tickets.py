"""准考证 (admission tickets) as PDF: one A4 page per trainee, with a QR code to verify it."""
import io
import re

from flask import current_app
from reportlab.graphics import renderPDF
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from app.integrations import pdf as pdfkit
from app.integrations.storage import storage
from app.services.codes import mask_id_number
from models.assessment import AdmissionTicket, AssessmentPlan

TITLE = "准考证"
QR_CAPTION = "扫码核验准考证"
NOTICE_TITLE = "考生须知"
NOTICE = (
    "考生须凭本准考证和本人有效居民身份证原件参加考核，证件不全者不得入场。",
    "请于考核开始前30分钟到达考核地点，考核开始15分钟后不得入场。",
    "遵守考场纪律，服从考务人员安排；手机等通讯工具及与考核无关的资料不得带入考场。",
    "实操考核须按规定穿戴安全帽、工作服、劳保鞋等劳动防护用品。",
    "本准考证仅限本次考核使用，请妥善保管，不得涂改、转借。",
)
_WEEKDAYS = "一二三四五六日"

_MARGIN = 20 * mm               # left and right: the box is 170 mm wide
_LABEL = 32 * mm                # the label column
_ROW = 10 * mm                  # the least height of a row
_SIZE = 12                      # the values' font size, smaller only if one must fit its cell
_LEADING = 1.25
_PADDING = 3 * mm               # above and below a cell's text
_PHOTO_COLUMN = 40 * mm         # beside the first five rows (50 mm high or more)
_PHOTO = (25 * mm, 35 * mm)     # 1-inch photo (一寸照)
_QR = 32 * mm


def verify_url(ticket: AdmissionTicket) -> str:
    """The public page that confirms the ticket is genuine; its QR code is on the ticket."""
    return current_app.config["PUBLIC_BASE_URL"] + "/verify/ticket/" + ticket.verify_token


def ticket_filename(ticket: AdmissionTicket) -> str:
    return _safe_filename(f"准考证-{ticket.enrolment.person.name}-{ticket.number}.pdf")


def plan_tickets_filename(assessment: AssessmentPlan) -> str:
    """The download name of all of a plan's tickets in one PDF."""
    plan = assessment.plan
    return _safe_filename(
        f"准考证-{plan.occupation.name}-{plan.level.name}-{assessment.exam_start:%Y%m%d}.pdf")


def _safe_filename(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", name)


def exam_time(assessment: AssessmentPlan) -> str:
    """2026年05月20日（星期三）09:00—11:30; the end date too if the exam runs past midnight."""
    start, end = assessment.exam_start, assessment.exam_end
    day = f"{start:%Y年%m月%d日}（星期{_WEEKDAYS[start.weekday()]}）"
    until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y年%m月%d日 %H:%M}"
    return f"{day}{start:%H:%M}—{until}"


def tickets_pdf(tickets: list[AdmissionTicket]) -> bytes:
    """The tickets as one PDF, a page each, in the order given; the same tickets give the same
    bytes."""
    if not tickets:
        raise ValueError("no admission tickets to print")
    font = pdfkit.cjk_font()
    out = io.BytesIO()
    pdf = pdfkit.a4_canvas(out, TITLE if len(tickets) > 1 else f"{TITLE} {tickets[0].number}",
                           tickets[0].assessment.plan.institution.name)
    for ticket in tickets:
        _page(pdf, font, ticket)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def _page(pdf, font, ticket: AdmissionTicket) -> None:
    width, height = A4
    left, right = _MARGIN, width - _MARGIN
    enrolment, assessment = ticket.enrolment, ticket.assessment
    plan = assessment.plan

    pdf.setFont(font, 28)
    pdf.drawCentredString(width / 2, height - 30 * mm, TITLE)
    pdf.setFont(font, 12)
    pdf.drawCentredString(width / 2, height - 39 * mm,
                          f"建筑工人职业技能培训考核 · {enrolment.occupation.name}")

    top = height - 48 * mm
    beside_photo = (  # (label, value, the most height it may grow to)
        ("准考证号", ticket.number, _ROW),
        ("姓名", enrolment.person.name, _ROW),
        ("性别", enrolment.person.gender, _ROW),
        ("身份证号", mask_id_number(enrolment.person.id_number), _ROW),
        ("报考单位", enrolment.enterprise.name, 16 * mm),
    )
    full_width = (  # (label, value, the most height it may grow to)
        ("职业（工种）", enrolment.occupation.name, _ROW),
        ("职业等级", enrolment.level.name, _ROW),
        ("考核时间", exam_time(assessment), _ROW),
        ("考核地点", assessment.venue, 16 * mm),
        ("考核内容", f"理论：{assessment.theory_part}\n实操：{assessment.practical_part}", 30 * mm),
        ("培训机构", plan.institution.name, 16 * mm),
    )
    y = top
    for label, value, most in beside_photo:
        y -= _row(pdf, font, y, left, right - _PHOTO_COLUMN, label, value, most)
    _photo(pdf, font, enrolment.photo_key, right - _PHOTO_COLUMN, y, _PHOTO_COLUMN, top - y)
    for label, value, most in full_width:
        y -= _row(pdf, font, y, left, right, label, value, most)
    pdf.setLineWidth(1.5)
    pdf.rect(left, y, right - left, top - y)  # a heavier frame around the thin cell lines
    pdf.setLineWidth(1)

    _notice_and_qr(pdf, font, y - 10 * mm, left, right, verify_url(ticket))
    pdf.setFont(font, 9)
    pdf.drawCentredString(width / 2, 15 * mm, f"{plan.institution.name}　制")


def _row(pdf, font, top, left, right, label, value, most) -> float:
    """A label cell and a value cell, as high as the wrapped value needs (at least a row, at
    most `most`, the value shrinking if it must); returns the height."""
    inner = right - left - _LABEL - 6 * mm
    natural = len(pdfkit.wrap_lines(value, font, _SIZE, inner)) * _SIZE * _LEADING + _PADDING
    height = min(max(_ROW, natural), most)
    pdf.rect(left + _LABEL, top - height, right - left - _LABEL, height)
    pdfkit.label_cell(pdf, font, 11, left, top, _LABEL, height, label, 1.4 * mm)
    size, lines = _fit(value, font, inner, height - _PADDING)
    leading = size * _LEADING
    y = top - height / 2 + (len(lines) - 1) * leading / 2 - size * 0.35
    pdfkit.draw_lines(pdf, font, size, lines, left + _LABEL + 3 * mm, y, leading)
    return height


def _fit(text: str, font: str, width: float, height: float) -> tuple[float, list[str]]:
    """(size, lines) of text wrapped to width, from _SIZE down to 6 pt until it fits height."""
    size, lines = pdfkit.shrink_to_fit(
        text, font, _SIZE, width, lambda size, lines: len(lines) * size * _LEADING <= height,
        pdfkit.wrap_lines)
    return size, lines[:max(1, int(height // (size * _LEADING)))]


def _photo(pdf, font, key, x, y, width, height) -> None:
    """The 1-inch photo centred in its cell, its proportions kept; a marked box if missing."""
    pdf.rect(x, y, width, height)
    box_w, box_h = _PHOTO
    box_x, box_y = x + (width - box_w) / 2, y + (height - box_h) / 2
    image = _image(key)
    if image is None:
        pdfkit.dashed_rect(pdf, box_x, box_y, box_w, box_h)
        pdf.setFont(font, 12)
        pdf.drawCentredString(x + width / 2, y + height / 2 - 1.5 * mm, "照片")
        return
    pdf.drawImage(image, box_x, box_y, box_w, box_h, preserveAspectRatio=True, anchor="c")


def _image(key) -> ImageReader | None:
    files = storage()
    if not key or not files.exists(key):
        return None
    try:
        return ImageReader(str(files.path_of(key)))
    except OSError:  # unreadable: print the ticket with the placeholder rather than none at all
        current_app.logger.warning("admission ticket photo %s cannot be read", key)
        return None


def _notice_and_qr(pdf, font, top, left, right, url: str) -> None:
    """考生须知 on the left, the QR code of the verification page on the right."""
    qr_x = right - _QR
    pdf.setFont(font, 13)
    pdf.drawString(left, top - 5 * mm, NOTICE_TITLE)
    y = top - 12 * mm
    text_width = qr_x - left - 8 * mm
    for number, item in enumerate(NOTICE, start=1):
        prefix = f"{number}. "
        indent = stringWidth(prefix, font, 10)
        pdf.setFont(font, 10)
        pdf.drawString(left, y, prefix)
        for line in pdfkit.wrap_lines(item, font, 10, text_width - indent):
            pdf.drawString(left + indent, y, line)
            y -= 13
        y -= 3
    renderPDF.draw(pdfkit.qr_drawing(url, _QR), pdf, qr_x, top - _QR)
    pdf.setFont(font, 9)
    pdf.drawCentredString(qr_x + _QR / 2, top - _QR - 4 * mm, QR_CAPTION)
