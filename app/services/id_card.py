"""Reading a resident ID card (居民身份证) photo: OCR text boxes -> name, number, gender, birth
date, and which side it shows; and comparing a reading with what the roster says.

The front (人像面) prints 姓名, 性别 and 民族, 出生, 住址 and 公民身份号码 as labels at the start of
their rows with the value to the right, and a portrait on the right. The boxes are grouped into
rows; a label may come joined to its value ("姓名张三"), spaced ("姓 名") or in boxes of its own,
and the number may come split over boxes or carry spaces. Nothing is guessed: a field that does
not have its printed shape is left unread (None). The number is kept whatever its check digit:
a misread or a forged number must still show as a difference.

Pure: no database, no request; the OCR engine is imported only by read_id_card().
"""
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

from app.integrations.ocr import TextBox
from app.integrations.ocr import rows as ocr_rows
from app.services.codes import id_check_digit, mask_id_number

FRONT, BACK, UNKNOWN = "front", "back", "unknown"
FIELDS = ("number", "name", "gender", "birth_date")  # the order differences() reports them in

FRONT_LABELS = ("姓名", "性别", "民族", "出生", "住址", "公民身份号码")
BACK_MARKS = ("中华人民共和国", "居民身份证", "签发机关", "有效期限")
NUMBER_LABEL = "公民身份号码"
_NUMBER_LABEL_TAILS = ("公民身份号码", "身份号码", "号码")
_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9X])", re.ASCII)
_NUMBER_X = str.maketrans({"x": "X", "×": "X", "✕": "X", "╳": "X", "χ": "X", "Χ": "X"})
_BIRTH = re.compile(r"([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})(?![0-9])", re.ASCII)
_SPACES = re.compile(r"\s+")  # NFKC has already turned U+3000 into a plain space
_DOTS = str.maketrans(dict.fromkeys("·•・‧⋅･.∙", "·"))
# OCR look-alikes that are the same character at another code point and that NFKC leaves
# alone: the simplified radicals of CJK Radicals Supplement (Kangxi radicals and CJK
# compatibility ideographs NFKC folds itself). Different real characters (王/玉) never fold.
_LOOKALIKES = str.maketrans({
    "⺠": "民", "⻄": "西", "⻅": "见", "⻆": "角", "⻉": "贝", "⻋": "车", "⻓": "长", "⻔": "门",
    "⻘": "青", "⻙": "韦", "⻚": "页", "⻛": "风", "⻜": "飞", "⻝": "食", "⻢": "马", "⻣": "骨",
    "⻤": "鬼", "⻥": "鱼", "⻦": "鸟", "⻧": "卤", "⻨": "麦", "⻩": "黄", "⻪": "黾", "⻬": "齐",
    "⻮": "齿", "⻰": "龙",
})
# a printed name: CJK ideographs (basic, extension A, the supplementary planes) and middle dots
_NAME = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f]"
                   r"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f·]{0,28}"
                   r"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f]")
_GENDERS = {"男": "男", "女": "女", "male": "男", "female": "女"}


@dataclass(frozen=True)
class IdCardReading:
    """What a photo of an ID card says; None where a field was not read."""

    side: str  # FRONT, BACK or UNKNOWN
    name: Optional[str]  # as printed, spaces removed
    number: Optional[str]  # 18 characters [0-9]{17}[0-9X]; the check digit may be wrong
    gender: Optional[str]  # "男" / "女"
    birth_date: Optional[dt.date]

    def readable(self) -> bool:
        """A front with at least a number and a name: enough to compare with a roster row."""
        return self.side == FRONT and bool(self.number) and bool(self.name)

    def as_dict(self) -> dict:
        return {"side": self.side, "name": self.name, "number": self.number,
                "gender": self.gender,
                "birth_date": self.birth_date.isoformat() if self.birth_date else None}

    @classmethod
    def from_dict(cls, data: dict) -> "IdCardReading":
        birth = data.get("birth_date")
        return cls(side=data.get("side") or UNKNOWN, name=data.get("name"),
                   number=data.get("number"), gender=data.get("gender"),
                   birth_date=dt.date.fromisoformat(birth) if birth else None)

    def __repr__(self) -> str:  # personal data stays out of logs and tracebacks
        number = mask_id_number(self.number) if self.number else None
        return (f"IdCardReading(side={self.side!r}, name={'<read>' if self.name else None}, "
                f"number={number!r}, gender={'<read>' if self.gender else None}, "
                f"birth_date={'<read>' if self.birth_date else None})")


def normalise_name(text: str) -> str:
    """A name as compared: NFKC, no spaces, one middle dot, look-alike code points folded."""
    text = unicodedata.normalize("NFKC", text or "")
    return _SPACES.sub("", text).translate(_DOTS).translate(_LOOKALIKES)


def normalise_number(text: str) -> str:
    """An ID number as compared: NFKC (full-width digits to ASCII), no spaces, x -> X."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text or "")).translate(_NUMBER_X)


def differences(reading: IdCardReading, *, name: str, number: str, gender: str,
                birth_date: dt.date) -> list[str]:
    """The roster's fields that the card contradicts, in the order of FIELDS. A number or a name
    the card did not give counts as a difference; an unread gender or birth date does not."""
    found = []
    if not reading.number or reading.number != normalise_number(number):
        found.append("number")
    if not reading.name or normalise_name(reading.name) != normalise_name(name):
        found.append("name")
    if reading.gender and reading.gender != _GENDERS.get((gender or "").strip(), gender):
        found.append("gender")
    if reading.birth_date and reading.birth_date != birth_date:
        found.append("birth_date")
    return found


def read_id_card(image_path: str) -> IdCardReading:
    """The reading of one photo (the OCR engine loads on first use: call from a worker)."""
    from app.integrations import ocr

    return parse_boxes(ocr.read(image_path))


def parse_boxes(boxes: list[TextBox]) -> IdCardReading:
    """The reading of the boxes of one photo, upright and level (app.integrations.ocr.read)."""
    rows = [_Row(row) for row in ocr_rows([box for box in boxes if _compact(box.text)])]
    number = _number(rows)
    side = _side(rows, number)
    if side == BACK:
        return IdCardReading(BACK, None, None, None, None)
    return IdCardReading(side=side, name=_name(rows), number=number, gender=_gender(rows),
                         birth_date=_birth_date(rows))


# --- rows ------------------------------------------------------------------------------------

def _compact(text: str) -> str:
    return _SPACES.sub("", unicodedata.normalize("NFKC", text or ""))


class _Row:
    """One printed line: its boxes left to right and their text joined without spaces."""

    def __init__(self, boxes: list):
        self.boxes = boxes
        self.text = "".join(_compact(box.text) for box in boxes)
        self.y = sum(box.y for box in boxes) / len(boxes)

    def after(self, label: str) -> Optional[str]:
        """The text after `label` when the row starts with it (a stray mark before it allowed)."""
        at = self.text.find(label)
        if at < 0 or at > 1:
            return None
        return self.text[at + len(label):].lstrip(":：")


def _labelled(rows: list[_Row], label: str) -> Optional[int]:
    """The index of the row that starts with `label`, spaced or joined to its value."""
    return next((i for i, row in enumerate(rows) if row.after(label) is not None), None)


# --- fields ----------------------------------------------------------------------------------

def _side(rows: list[_Row], number: Optional[str]) -> str:
    text = "".join(row.text for row in rows)
    front = sum(label in text for label in FRONT_LABELS) + (2 if number else 0)
    back = sum(mark in text for mark in BACK_MARKS)
    if front >= 2 and front > back:
        return FRONT
    if back >= 2 and back > front:
        return BACK
    return UNKNOWN


def _number(rows: list[_Row]) -> Optional[str]:
    """The number on the 公民身份号码 row (or any row): a valid check digit preferred, then the
    labelled row, then the recogniser's confidence."""
    found = []
    for row in rows:
        labelled = any(tail in row.text for tail in _NUMBER_LABEL_TAILS)
        text = normalise_number(row.text)
        for match in _NUMBER.finditer(text):
            code = match.group(0)
            valid = id_check_digit(code[:17]) == code[17]
            score = min(box.score for box in row.boxes)
            found.append((valid, labelled, score, code))
    if not found:
        return None
    return max(found)[3]


def _plausible_name(text: Optional[str]) -> Optional[str]:
    if not text:
        return None
    name = normalise_name(text).strip("·:：")
    return name if _NAME.fullmatch(name) else None


def _name(rows: list[_Row]) -> Optional[str]:
    """The value of the 姓名 row; without the label, the row above 性别 when it is a name."""
    i = _labelled(rows, "姓名")
    if i is not None:
        name = _plausible_name(rows[i].after("姓名"))
        if name:
            return name
        if not rows[i].after("姓名") and i + 1 < len(rows) and _labelled(rows, "性别") != i + 1:
            return _plausible_name(rows[i + 1].text)  # a long name wrapped below its label
        return None
    gender_row = _labelled(rows, "性别")
    if gender_row is None:
        gender_row = next((k for k, row in enumerate(rows) if "民族" in row.text), None)
    if not gender_row:
        return None
    above = rows[gender_row - 1].text
    for stray in ("姓名", "名", "姓"):  # half of a spaced label, or a label the row split off
        if above.startswith(stray):
            above = above[len(stray):]
            break
    return _plausible_name(above)


def _gender(rows: list[_Row]) -> Optional[str]:
    """男 or 女 after 性别 (and before 民族)."""
    for row in rows:
        text = row.text
        start = text.find("性别")
        end = text.find("民族")
        if start >= 0:
            value = text[start + 2:end if end > start else None]
        elif end > 0:
            value = text[:end]
        else:
            continue
        found = {char for char in value if char in "男女"}
        if len(found) == 1:
            return found.pop()
    return None


def _birth_date(rows: list[_Row]) -> Optional[dt.date]:
    """The date of the 出生 row (or of a row printed as 年 月 日 when the label was missed)."""
    labelled = _labelled(rows, "出生")
    ordered = ([rows[labelled]] if labelled is not None else []) + [
        row for row in rows if NUMBER_LABEL not in row.text and "住址" not in row.text]
    for row in ordered:
        match = _BIRTH.search(row.text)
        if match:
            try:
                return dt.date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:  # a misread digit: no date rather than an impossible one
                return None
    return None
