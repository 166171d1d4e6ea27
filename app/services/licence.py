"""Reading a business licence (营业执照): OCR text boxes -> the registration fields."""
import datetime as dt
import re
from typing import Optional

from app.integrations.ocr import TextBox
from app.services.codes import USCC_ALPHABET, is_valid_uscc

FIELDS = ("uscc", "name", "type", "legal_representative", "registered_capital", "established",
          "address")
LABELS = {
    "统一社会信用代码": "uscc",
    "名称": "name",
    "类型": "type",
    "法定代表人": "legal_representative",
    "负责人": "legal_representative",
    "经营者": "legal_representative",
    "注册资本": "registered_capital",
    "成立日期": "established",
    "住所": "address",
    "经营场所": "address",
    "主要经营场所": "address",
}
_USCC = re.compile(rf"[{USCC_ALPHABET}]{{18}}")
_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")


def lines(boxes: list[TextBox]) -> list[str]:
    """Group boxes into visual lines (top to bottom), each read left to right."""
    rows: list[list[TextBox]] = []
    for box in sorted(boxes, key=lambda b: b.y):
        if rows and abs(rows[-1][0].y - box.y) < max(box.height, rows[-1][0].height) * 0.6:
            rows[-1].append(box)
        else:
            rows.append([box])
    return [" ".join(b.text for b in sorted(row, key=lambda b: b.x)) for row in rows]


def parse(text_lines: list[str]) -> dict[str, Optional[str]]:
    """The seven licence fields found in the lines; missing ones are None."""
    found: dict[str, Optional[str]] = dict.fromkeys(FIELDS)
    for line in text_lines:
        compact = line.replace(" ", "")
        for label in sorted(LABELS, key=len, reverse=True):
            if compact.startswith(label):
                key = LABELS[label]
                value = compact[len(label):].lstrip(":：")
                if value and not found[key]:
                    found[key] = value
                break
    codes = [m.group(0) for line in text_lines for m in _USCC.finditer(line.replace(" ", "").upper())]
    valid = [c for c in codes if is_valid_uscc(c)]
    found["uscc"] = valid[0] if valid else (found["uscc"] if found["uscc"] and
                                            is_valid_uscc(found["uscc"]) else None)
    if found["established"]:
        match = _DATE.search(found["established"])
        found["established"] = _iso_date(match) if match else None
    return found


def _iso_date(match) -> Optional[str]:
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    except ValueError:  # OCR misread a digit: better no date than an impossible one
        return None


def read_licence(image_path: str) -> dict[str, Optional[str]]:
    from app.integrations import ocr

    return parse(lines(ocr.read(image_path)))
