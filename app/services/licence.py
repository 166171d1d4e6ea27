"""Reading a business licence (营业执照): OCR text boxes -> the registration fields.

The fields are read by position, not from joined text: labels are found (spaced "名　　称",
split into several boxes, or joined to their value in one box), grouped into columns (the 正本
has two, the 副本 one), and each label takes the boxes to its right on its own row, then the
wrapped lines below it, until the next label of its column or a gap. Every field carries a
confidence (the recogniser's lowest score over its boxes, 0 when its value is not well formed);
a field below CONFIDENT is left empty for the clerk rather than guessed.
"""
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Optional

from flask_babel import lazy_gettext as _l

from app.integrations.ocr import TextBox
from app.integrations.ocr import rows as ocr_rows
from app.services import N_
from app.services.codes import USCC_ALPHABET, is_valid_uscc


@dataclass(frozen=True)
class LicenceField:
    """A field of the business licence: read by OCR, shown beside what was typed, edited at
    registration."""

    name: str  # the enterprise's column and the registration form's field
    key: str  # its key in an OCR reading
    label: Any  # lazy: what the pages call it


# The one list of licence fields, in the order the licence and the pages show them.
LICENCE_FIELDS = (
    LicenceField("uscc", "uscc", _l("Unified social credit code")),
    LicenceField("name", "name", _l("Enterprise name")),
    LicenceField("enterprise_type", "type", _l("Enterprise type")),
    LicenceField("legal_representative", "legal_representative", _l("Legal representative")),
    LicenceField("registered_capital", "registered_capital", _l("Registered capital")),
    LicenceField("established", "established", _l("Date of establishment")),
    LicenceField("address", "address", _l("Address")),
)
FIELDS = tuple(field.key for field in LICENCE_FIELDS)  # the keys of a reading
CONFIDENT = 0.85  # a field read with a lower confidence is left empty
# label (as printed, without spaces) -> field; None: a label that only ends the field above it
LABELS = {
    "统一社会信用代码": "uscc",
    "名称": "name",
    "类型": "type",
    "法定代表人": "legal_representative",
    "法定代表人姓名": "legal_representative",
    "负责人": "legal_representative",
    "经营者": "legal_representative",
    "执行事务合伙人": "legal_representative",
    "投资人": "legal_representative",
    "注册资本": "registered_capital",
    "出资额": "registered_capital",
    "出资总额": "registered_capital",
    "成立日期": "established",
    "注册日期": "established",
    "住所": "address",
    "营业场所": "address",
    "经营场所": "address",
    "主要经营场所": "address",
    "营业期限": None,
    "合伙期限": None,
    "经营期限": None,
    "经营范围": None,
    "组成形式": None,
    "登记机关": None,
    "注册号": None,
}
SPACED_LABEL_WIDTH = 2.6  # short labels span four characters: about 2.6 box heights
# the second half of a spaced label starts this far right of its column's left edge (box heights)
TAIL_OFFSET = (0.8, 4.0)
_LONGEST_FIRST = sorted(LABELS, key=len, reverse=True)
TITLE = "营业执照"
REGISTRATION_NUMBER = re.compile(r"注册号[:：]?([0-9]{13,15})", re.ASCII)
_USCC = re.compile(rf"[{USCC_ALPHABET}]{{18}}")
_OCR_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "Z": "2", "S": "5", "V": "U"})
_DATE = re.compile(r"([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日", re.ASCII)
_CAPITAL = re.compile(r"^(人民币)?[0-9零壹贰叁肆伍陆柒捌玖拾佰仟万亿.,]+(万元|元|万)(整|人民币)?$")
MIN_LENGTH = {"name": 4, "type": 2, "legal_representative": 2, "address": 6}
MAX_LENGTH = {"name": 128, "type": 64, "legal_representative": 32, "registered_capital": 64,
              "address": 256}

# Why a picture cannot be used (stored in the reading as "problem"; the page shows the message).
PROBLEMS = {
    "not_licence": N_("This picture is not a business licence (营业执照). Please upload a photo "
                      "of the enterprise's business licence as yyzz.jpg."),
    "registration_number": N_("This is a business licence issued before 2016, with a "
                              "registration number (注册号) instead of a unified social credit "
                              "code: it cannot be used to register. Please upload the current "
                              "licence carrying the 18-character credit code."),
    "unclear": N_("The credit code could not be read: the picture may be unclear. Please take "
                  "a new photo and upload it again."),
}


@dataclass
class _Label:
    field: Optional[str]
    text: str
    x: float
    right: float
    y: float
    height: float
    score: float
    column: int = 0


@dataclass
class _Piece:
    text: str
    x: float
    right: float
    y: float
    height: float
    score: float


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _match_label(text: str) -> Optional[str]:
    text = text.lstrip(":：")
    for label in _LONGEST_FIRST:
        if text.startswith(label):
            return label
    return None


def _split(boxes: list[TextBox]) -> tuple[list[_Label], list[_Piece]]:
    """Labels (also spread over two or three boxes) and the value pieces around them."""
    labels: list[_Label] = []
    pieces: list[_Piece] = []
    for row in ocr_rows(boxes):
        i = 0
        while i < len(row):
            box = row[i]
            found = None
            for span in (1, 2, 3):  # "名" + "称", "负" + "责人", ...
                group = row[i:i + span]
                if len(group) < span:
                    break
                if span > 1 and any(len(_compact(b.text)) > 3 for b in group[:-1]):
                    break
                joined = "".join(_compact(b.text) for b in group)
                label = _match_label(joined)
                if label and (span == 1 or len("".join(_compact(b.text) for b in group[:-1])) < len(label)):
                    found = (label, group, joined)
                    break
            text = _compact(box.text)
            if not found and 0 < len(text) <= 2:  # a spaced label whose other half was not seen
                spaced = next((label for label in _LONGEST_FIRST
                               if len(label) <= 3 and label.startswith(text) and label != text), None)
                if spaced:
                    labels.append(_Label(LABELS[spaced], spaced, box.x,
                                         box.x + box.height * SPACED_LABEL_WIDTH, box.y,
                                         box.height, box.score))
                    i += 1
                    continue
                ending = next((label for label in _LONGEST_FIRST  # only its second half seen
                               if len(label) == 2 and label.endswith(text) and label != text), None)
                if ending and i == 0:
                    right = box.right or box.x
                    labels.append(_Label(LABELS[ending], ending,
                                         right - box.height * SPACED_LABEL_WIDTH, right, box.y,
                                         box.height, box.score))
                    i += 1
                    continue
            if not found:
                pieces.append(_Piece(_compact(box.text), box.x, box.right or box.x, box.y,
                                     box.height, box.score))
                i += 1
                continue
            label, group, joined = found
            last = group[-1]
            rest = joined.lstrip(":：")[len(label):].lstrip(":：")
            right = last.right or last.x
            if rest:  # label and value in one box: split it where the label ends
                text_len = max(1, len(_compact(last.text)))
                label_part = len(_compact(last.text)) - len(rest)
                right = last.x + (right - last.x) * label_part / text_len
                pieces.append(_Piece(rest, right, last.right or last.x, last.y, last.height,
                                     last.score))
            labels.append(_Label(LABELS[label], label, group[0].x, right, box.y,
                                 max(b.height for b in group), min(b.score for b in group)))
            i += len(group)
    return _tail_labels(labels, pieces)


def _tail_labels(labels: list[_Label], pieces: list[_Piece]) -> tuple[list[_Label], list[_Piece]]:
    """A spaced label whose first half was not seen and whose second half the recogniser joined
    to the value ("称 浙江…有限公司", no "名"). Taken by position only: the piece starts inside
    the label area of a column of labels (right of the column's left edge by one to four
    characters, and left of where its labels end), never where the values start."""
    kept: list[_Piece] = []
    found: list[_Label] = []
    fields = [label for label in labels if label.field != "uscc"]
    edges = _columns(fields)
    for piece in pieces:
        label = next((label for label in _LONGEST_FIRST if len(label) == 2
                      and piece.text.startswith(label[1]) and len(piece.text) > 1), None)
        edge = max((c for c in edges if c < piece.x), default=None)
        if label is None or edge is None:
            kept.append(piece)
            continue
        unit = piece.height
        column = [other for other in fields
                  if max(c for c in edges if c <= other.x + 0.5) == edge]
        row_taken = any(abs(other.y - piece.y) < unit * 0.5 for other in column)
        if (len(column) >= 2 and not row_taken
                and unit * TAIL_OFFSET[0] < piece.x - edge < unit * TAIL_OFFSET[1]
                and piece.x < max(other.right for other in column) - unit * 0.3):
            tail_right = piece.x + (piece.right - piece.x) / len(piece.text)
            found.append(_Label(LABELS[label], label, edge, tail_right, piece.y, unit,
                                piece.score))
            kept.append(_Piece(piece.text[1:].lstrip(":："), tail_right, piece.right, piece.y,
                               piece.height, piece.score))
        else:
            kept.append(piece)
    return labels + found, kept


def _columns(labels: list[_Label]) -> list[float]:
    """Left edges of the label columns (one for the 副本, two for the 正本)."""
    if not labels:
        return []
    unit = sorted(label.height for label in labels)[len(labels) // 2]
    starts: list[list[float]] = []
    for x in sorted(label.x for label in labels):
        if starts and x - starts[-1][-1] < unit * 4:
            starts[-1].append(x)
        else:
            starts.append([x])
    return [min(group) for group in starts]


def _value(label: _Label, labels: list[_Label], pieces: list[_Piece], columns: list[float]):
    """The text and the lowest score of the boxes belonging to the label, or (None, 0)."""
    unit = label.height
    right_limit = min((c for c in columns if c > label.right), default=float("inf")) - unit * 0.3
    below = [other.y for other in labels
             if other.column == label.column and other.y > label.y + unit * 0.5]
    bottom = min(below, default=float("inf")) - unit * 0.5
    candidates = [p for p in pieces
                  if p.x >= label.right - unit * 0.6 and p.x < right_limit
                  and label.y - unit * 0.6 <= p.y < bottom and p.height < unit * 2.2]
    lines = ocr_rows(candidates)
    if not lines or abs(lines[0][0].y - label.y) > unit * 0.6:
        return None, 0.0
    taken = [lines[0]]
    start = min(p.x for p in lines[0])
    for line in lines[1:]:
        previous = taken[-1][0].y
        if line[0].y - previous > unit * 2.0 or abs(min(p.x for p in line) - start) > unit * 2.5:
            break
        taken.append(line)
    parts = [p for line in taken for p in line]
    return "".join(p.text for p in parts), min(p.score for p in parts)


def _clean(field: str, text: Optional[str]) -> tuple[Optional[str], bool]:
    """The value in its stored form, and whether it is well formed."""
    if not text:
        return None, False
    text = text.strip(":：;；,，。.")
    if field == "established":
        match = _DATE.search(text)
        if not match:
            return None, False
        try:
            return dt.date(int(match[1]), int(match[2]), int(match[3])).isoformat(), True
        except ValueError:  # OCR misread a digit: better no date than an impossible one
            return None, False
    if field == "registered_capital":
        return text, bool(_CAPITAL.match(text))
    ok = MIN_LENGTH.get(field, 1) <= len(text) <= MAX_LENGTH.get(field, 256)
    return text, ok


def _credit_code(boxes: list[TextBox], labels: list[_Label]) -> tuple[Optional[str], float]:
    """The valid credit code nearest to its label (or anywhere), with the recogniser's score."""
    anchor = next((label for label in labels if label.field == "uscc"), None)
    found = []
    for box in boxes:
        text = _compact(box.text).upper()
        for candidate in {text, text.translate(_OCR_LOOKALIKES)}:
            for match in _USCC.finditer(candidate):
                if is_valid_uscc(match.group(0)):
                    distance = (abs(box.y - anchor.y) + abs(box.x - anchor.x)) if anchor else 0.0
                    found.append((distance, match.group(0), box.score))
    if not found:
        return None, 0.0
    _, code, score = min(found)
    return code, score


def parse_boxes(boxes: list[TextBox], cities: Optional[dict[str, str]] = None) -> dict:
    """The reading of one licence: the seven fields (None where not read with confidence),
    `region` (the city code found in the address), `confidence` per field and `problem`."""
    labels, pieces = _split(boxes)
    columns = _columns([label for label in labels if label.field != "uscc"])
    for label in labels:
        label.column = max((i for i, c in enumerate(columns) if c <= label.x + label.height),
                           default=0)
    reading: dict = dict.fromkeys(FIELDS)
    confidence = dict.fromkeys(FIELDS, 0.0)
    reading["uscc"], confidence["uscc"] = _credit_code(boxes, labels)
    for label in labels:
        if label.field in (None, "uscc") or reading[label.field] is not None:
            continue
        text, score = _value(label, labels, pieces, columns)
        value, well_formed = _clean(label.field, text)
        score = min(score, label.score) if well_formed else 0.0
        confidence[label.field] = max(confidence[label.field], score)
        if value is not None and score >= CONFIDENT:
            reading[label.field] = value
    reading["region"] = region_of(reading["address"], cities or {})
    reading["confidence"] = {key: round(value, 3) for key, value in confidence.items()}
    reading["problem"] = _problem(boxes, labels, reading)
    return reading


def _problem(boxes: list[TextBox], labels: list[_Label], reading: dict) -> Optional[str]:
    if reading["uscc"]:
        return None
    texts = [_compact(box.text) for box in boxes]
    if any(REGISTRATION_NUMBER.search(text) for text in texts) or any(
            label.text == "注册号" for label in labels):
        return "registration_number"
    titled = any(text.replace("(副本)", "").replace("副本", "") == TITLE for text in texts)
    if not titled and len({label.field for label in labels if label.field}) < 3:
        return "not_licence"
    return "unclear"


def region_of(address: Optional[str], cities: dict[str, str]) -> Optional[str]:
    """The code of the city named first in the address (e.g. 杭州市 -> 330100)."""
    if not address:
        return None
    best = None
    for name, code in cities.items():
        position = address.find(name)
        if position >= 0 and (best is None or position < best[0]):
            best = (position, code)
    return best[1] if best else None


def city_names() -> dict[str, str]:
    """The province's cities by name, for region_of()."""
    from sqlalchemy import select

    from app.extensions import db
    from models.reference import PROVINCE_CODE, Region

    rows = db.session.execute(select(Region.name, Region.code)
                              .where(Region.parent_code == PROVINCE_CODE)).all()
    return {name: code for name, code in rows}


def problem_message(reading: Optional[dict]) -> Optional[str]:
    """The Chinese sentence saying why the licence picture cannot be used, if it cannot."""
    from flask_babel import gettext

    if not reading:
        return None
    problem = reading.get("problem") or (None if reading.get("uscc") else "unclear")
    return gettext(PROBLEMS[problem]) if problem in PROBLEMS else None


def read_licence(image_path: str, cities: Optional[dict[str, str]] = None) -> dict:
    from app.integrations import ocr

    return parse_boxes(ocr.read(image_path), city_names() if cities is None else cities)
