"""PDF primitives for documents with Chinese text (reportlab with an embedded CJK TrueType font):
the font, a canvas, text wrapped anywhere and shrunk to fit its box, labelled cells and QR codes.

No business here: the invoice, the admission ticket and the commitment letter lay out their own
pages (app/services/invoices.py, tickets.py, documents.py) with these.
"""
import os
from functools import lru_cache
from typing import Callable, Optional

from flask import current_app
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

FONT = "JianpeiCJK"
# A line never starts with these: the character before one comes along to the next line.
NO_LINE_START = "，。、；：？！）》」』】,.;:?!)"
SMALLEST = 6  # points: text shrinks no further to fit its box


# ---- the font and the canvas ------------------------------------------------------------

@lru_cache(maxsize=1)
def _register_font(path: str) -> str:
    if not os.path.exists(path):
        raise RuntimeError(f"CJK font not found at {path}; install fonts-wqy-microhei")
    pdfmetrics.registerFont(TTFont(FONT, path, subfontIndex=0))
    return FONT


def cjk_font() -> str:
    """The registered CJK font's name (the font file is the app's CJK_FONT_PATH)."""
    return _register_font(current_app.config["CJK_FONT_PATH"])


def a4_canvas(out, title: str, author: Optional[str] = None,
              invariant: bool = True) -> canvas.Canvas:
    """An A4 canvas writing to `out`; invariant: no timestamp or random id inside, so the same
    document gives the same bytes."""
    pdf = canvas.Canvas(out, pagesize=A4, invariant=invariant)
    pdf.setTitle(title)
    if author is not None:
        pdf.setAuthor(author)
    return pdf


# ---- text -------------------------------------------------------------------------------

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


def wrap_lines(text: str, font: str, size: float, width: float) -> list[str]:
    """Wrapped anywhere (as `wrap`), keeping the text's own line breaks; a line never starts
    with closing punctuation (the character before it comes along)."""
    lines = []
    for paragraph in text.split("\n"):
        rest = paragraph
        while rest:
            line = wrap(rest, font, size, width)[0]
            following = rest[len(line):len(line) + 1]
            if following and following in NO_LINE_START and len(line) > 1:
                line = line[:-1]
            lines.append(line)
            rest = rest[len(line):]
    return lines


def shrink_to_fit(text: str, font: str, size: float, width: float,
                  fits: Callable[[float, list[str]], bool],
                  lines_of: Callable[[str, str, float, float], list[str]] = wrap,
                  ) -> tuple[float, list[str]]:
    """(size, lines): the text wrapped to `width` by `lines_of`, half a point smaller at a time
    from `size` down to SMALLEST until `fits(size, lines)`; the lines may still not fit then."""
    lines = lines_of(text, font, size, width)
    while not fits(size, lines) and size > SMALLEST:
        size -= 0.5
        lines = lines_of(text, font, size, width)
    return size, lines


def draw_lines(pdf, font: str, size: float, lines: list[str], x: float, y: float,
               leading: float) -> None:
    """The lines from baseline `y` down, `leading` points apart."""
    pdf.setFont(font, size)
    for line in lines:
        pdf.drawString(x, y, line)
        y -= leading


# ---- boxes ------------------------------------------------------------------------------

def label_cell(pdf, font: str, size: float, x: float, top: float, width: float, height: float,
               label: str, drop: float) -> None:
    """A framed cell with its label centred (`drop`: baseline below the middle)."""
    pdf.rect(x, top - height, width, height)
    pdf.setFont(font, size)
    pdf.drawCentredString(x + width / 2, top - height / 2 - drop, label)


def dashed_rect(pdf, x: float, y: float, width: float, height: float) -> None:
    """A dashed frame (a placeholder), the line style left as it was."""
    pdf.saveState()
    pdf.setDash(3, 2)
    pdf.rect(x, y, width, height)
    pdf.restoreState()


# ---- QR codes ---------------------------------------------------------------------------

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
