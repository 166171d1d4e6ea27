"""PDF documents with Chinese text (reportlab with an embedded CJK TrueType font)."""
import io
import os
from functools import lru_cache

from flask import current_app
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

FONT = "JianpeiCJK"


@lru_cache(maxsize=1)
def _register_font(path: str) -> str:
    if not os.path.exists(path):
        raise RuntimeError(f"CJK font not found at {path}; install fonts-wqy-microhei")
    pdfmetrics.registerFont(TTFont(FONT, path, subfontIndex=0))
    return FONT


def cjk_font() -> str:
    return _register_font(current_app.config["CJK_FONT_PATH"])


COMMITMENT_LINES = (
    "本企业郑重承诺：",
    "一、在建培系统中填报的企业信息、人员信息真实、准确、完整；",
    "二、上传的营业执照、资质证书等材料真实有效，与原件一致；",
    "三、组织本单位人员按时参加培训和考核，遵守培训机构和考核管理规定；",
    "四、如有虚假，愿承担由此产生的一切法律责任。",
    "",
    "企业名称（盖章）：______________________________",
    "统一社会信用代码：______________________________",
    "法定代表人（签字）：____________________________",
    "日期：________年____月____日",
)


def commitment_letter_template() -> io.BytesIO:
    """企业承诺书模版: printed, stamped with the company seal, photographed as cns.jpg."""
    font = cjk_font()
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.setTitle("企业承诺书")
    width, height = A4
    pdf.setFont(font, 22)
    pdf.drawCentredString(width / 2, height - 40 * mm, "企业承诺书")
    pdf.setFont(font, 13)
    y = height - 65 * mm
    for line in COMMITMENT_LINES:
        pdf.drawString(25 * mm, y, line)
        y -= 12 * mm
    pdf.showPage()
    pdf.save()
    out.seek(0)
    return out


def qr_drawing(text: str, size: float = 30 * mm):
    """A reportlab drawing of a QR code for `text` (error correction M), `size` points square."""
    widget = QrCodeWidget(text, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


def qr_svg(text: str, size: float = 120) -> str:
    from reportlab.graphics import renderSVG

    return renderSVG.drawToString(qr_drawing(text, size))


def wrap(text, font, size, width) -> list[str]:
    """Break anywhere (Chinese has no spaces; reportlab's simpleSplit only breaks at them)."""
    lines, line = [], ""
    for char in text:
        if line and pdfmetrics.stringWidth(line + char, font, size) > width:
            lines.append(line)
            line = char
        else:
            line += char
    return lines + [line] if line else lines

