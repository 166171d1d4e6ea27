"""Generated phone photos of resident ID cards (居民身份证), with the ground truth of the front.

The front (人像面): 姓名, 性别/民族, 出生 (年 月 日), 住址 (one to three lines), 公民身份号码 and a
grey portrait placeholder on the right; labels in blue, values in black, on a pale guilloche.
The back (国徽面): an emblem, 中华人民共和国 居民身份证, 签发机关 and 有效期限.
Varied: field positions and spacing, spaced labels ("姓　名"), fonts (WenQuanYi Micro Hei and
Zen Hei, AR PL UMing when installed: a missing font file falls back to Micro Hei), names of two
to four characters and minority names with a middle dot, skew up to ±8° and turns of 90°, 180°
and 270°, blur, noise, JPEG quality 55-95, uneven light and glare, the card filling 50-95 % of
a 1,000-2,400 px frame on a table. Everything follows from the seed: `sample(7)` is the same
photo every time, and its number is valid (GB 11643, check digit included) and agrees with the
gender and birth date.

`mutate_number_swap` and `mutate_name_char` make the roster's typing mistakes a comparison must
find. Run `python -m tests.id_card_corpus OUTDIR N` to look at the photos.
"""
import datetime as dt
import io
import math
import os
import random
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from app.services.codes import id_birth_date, id_check_digit
from tests.licence_corpus import CITIES, GIVEN, STREETS, SURNAMES, _lighting, table

MICRO_HEI = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"  # fonts-wqy-microhei (Makefile)
ZEN_HEI = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"  # fonts-wqy-zenhei
UMING = "/usr/share/fonts/truetype/arphic/uming.ttc"  # fonts-arphic-uming (index 0: CN forms)
DEJAVU_MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"  # fonts-dejavu-core
# (file, face): the faces a card's text may be set in; the number also in a monospaced face
TEXT_FACES = ((MICRO_HEI, 0), (MICRO_HEI, 1), (ZEN_HEI, 0), (ZEN_HEI, 1), (UMING, 0))
NUMBER_FACES = TEXT_FACES[:4] + ((DEJAVU_MONO, 0),)
MM = 15  # the card is drawn at 15 px per millimetre: 85.6 × 54 mm -> 1284 × 810 px
CARD = (round(85.6 * MM), 54 * MM)
ROTATIONS = (0, 0, 0, 0, 0, 90, 0, 180, 0, 270)
MIN_TEXT_PX = 15  # a label character at least this tall in the photo (a phone is held closer)

COMPOUND_SURNAMES = ["欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "慕容", "令狐"]
# minority names (transliterated given name · family name), each part two to four characters
MINORITY_PARTS = ["买买提", "艾力", "阿依古丽", "古丽", "吐尔逊", "热依拉", "努尔", "阿不都", "依明",
                  "帕提古丽", "艾尔肯", "米娜", "巴图", "其木格", "扎西", "卓玛", "次仁", "阿迪力"]
NATIONS = ["汉"] * 12 + ["回", "满", "壮", "苗", "土家", "彝", "蒙古", "畲"]
DOT_NATIONS = ["维吾尔", "哈萨克", "塔吉克", "乌孜别克"]
VILLAGES = ["{d}村{n}组", "{d}社区{n}号", "{d}镇{d}村{n}号", "{d}小区{n}幢{m}室", "{d}新村{n}幢{m}室"]
PLACES = ["东升", "红旗", "前进", "新华", "长乐", "太平", "清水", "石桥", "五里", "大树", "桃源", "凤凰"]
# a character and a different character a clerk might type for it (homophones, look-alikes)
WRONG_CHARS = {
    "王": "汪", "李": "黎", "张": "章", "刘": "柳", "陈": "程", "杨": "扬", "黄": "皇", "赵": "照",
    "吴": "武", "周": "舟", "徐": "许", "孙": "荪", "马": "玛", "朱": "珠", "胡": "湖", "郭": "国",
    "林": "琳", "罗": "萝", "伟": "玮", "芳": "方", "娜": "纳", "敏": "民", "静": "靖", "丽": "莉",
    "强": "墙", "磊": "垒", "军": "君", "洋": "阳", "勇": "永", "艳": "燕", "杰": "洁", "娟": "鹃",
    "涛": "韬", "明": "铭", "超": "潮", "华": "化", "平": "萍", "刚": "钢", "玉": "王", "英": "瑛",
    "建": "健", "国": "郭", "志": "智", "红": "宏", "兰": "蓝", "云": "芸", "海": "凯", "峰": "锋",
    "新": "欣", "宇": "雨", "浩": "皓", "晨": "辰", "欣": "新", "文": "雯", "俊": "骏", "鹏": "朋",
    "飞": "菲", "辉": "晖", "亮": "谅", "成": "诚", "德": "得", "荣": "蓉", "买": "卖", "提": "堤",
    "古": "谷", "尔": "儿", "力": "立", "阿": "啊", "依": "伊", "努": "奴", "扎": "札",
}
FALLBACK_WRONG = "某甲乙丙"


@dataclass(frozen=True)
class Truth:
    """What the card says: the four fields a roster row holds, and the rest of the front."""

    name: str
    number: str
    gender: str  # "男" / "女"
    birth_date: dt.date
    nation: str
    address: str

    def roster(self) -> dict:
        """The keyword arguments of app.services.id_card.differences."""
        return {"name": self.name, "number": self.number, "gender": self.gender,
                "birth_date": self.birth_date}


@dataclass
class Sample:
    seed: int
    jpeg: bytes
    truth: Truth
    side: str  # "front" or "back"
    rotation: int
    width: int
    notes: dict = field(default_factory=dict)


def corpus(count: int, first_seed: int = 0) -> list[Sample]:
    """`count` photos of fronts, seeds first_seed, first_seed + 1, ..."""
    return [sample(seed) for seed in range(first_seed, first_seed + count)]


def person(seed: int) -> Truth:
    """The person on the card of sample(seed), without drawing it."""
    return _person(random.Random(seed * 6007 + 11))


def sample(seed: int, *, width: Optional[int] = None) -> Sample:
    """A photo of the front of one person's card."""
    rng = random.Random(seed * 6007 + 11)
    truth = _person(rng)
    card, notes = _draw_front(rng, truth)
    rotation = rng.choice(ROTATIONS)
    image, photo_notes = _photograph(rng, card, rotation, width)
    return Sample(seed=seed, jpeg=image, truth=truth, side="front", rotation=rotation,
                  width=photo_notes["width"], notes={**notes, **photo_notes})


def back_sample(seed: int, *, width: Optional[int] = None) -> Sample:
    """A photo of the back (国徽面) of one person's card: no name, no number."""
    rng = random.Random(seed * 7723 + 29)
    truth = _person(rng)
    card, notes = _draw_back(rng, truth)
    rotation = rng.choice(ROTATIONS)
    image, photo_notes = _photograph(rng, card, rotation, width)
    return Sample(seed=seed, jpeg=image, truth=truth, side="back", rotation=rotation,
                  width=photo_notes["width"], notes={**notes, **photo_notes})


# --- the roster's mistakes -----------------------------------------------------------------

def mutate_number_swap(number: str, *, check_passes: bool, seed: int = 0) -> str:
    """The number with two adjacent different digits of its first 17 swapped.

    GB 11643's check digit finds every such swap, so a number that still passes the check is
    the swap with its check digit recomputed (and a real birth date): the roster's own check
    cannot find it, only the card can. With check_passes=False the old check digit is kept."""
    rng = random.Random(seed)
    positions = [i for i in range(16) if number[i] != number[i + 1]]
    rng.shuffle(positions)
    for i in positions:
        body = number[:i] + number[i + 1] + number[i] + number[i + 2:17]
        if not check_passes:
            if id_check_digit(body) != number[17]:
                return body + number[17]
            continue
        swapped = body + id_check_digit(body)
        if id_birth_date(swapped) is not None:
            return swapped
    raise ValueError("no adjacent digits to swap")


def mutate_name_char(name: str, *, seed: int = 0) -> str:
    """The name with one character replaced by a different one (a homophone where known)."""
    rng = random.Random(seed)
    positions = [i for i, char in enumerate(name) if char != "·"]
    known = [i for i in positions if name[i] in WRONG_CHARS]
    i = rng.choice(known or positions)
    wrong = WRONG_CHARS.get(name[i]) or next(c for c in FALLBACK_WRONG if c != name[i])
    return name[:i] + wrong + name[i + 1:]


# --- the person ----------------------------------------------------------------------------

def _name(rng, nation: str) -> str:
    if nation in DOT_NATIONS:
        first, last = rng.sample(MINORITY_PARTS, 2)
        return f"{first}·{last}"
    length = rng.choice((2, 3, 3, 3, 4))
    if length == 4 or (length == 3 and rng.random() < 0.05):
        surname = rng.choice(COMPOUND_SURNAMES)
    else:
        surname = rng.choice(SURNAMES)
    return surname + "".join(rng.choice(GIVEN) for _ in range(length - len(surname)))


def _address(rng) -> tuple[str, str]:
    """The address, and the region code its city gives the number."""
    region = rng.choice(sorted(CITIES))
    city, districts = CITIES[region]
    district = rng.choice(districts)
    if rng.random() < 0.5:
        place = rng.choice(STREETS) + f"{rng.randrange(1, 400)}号"
        if rng.random() < 0.5:
            place += f"{rng.randrange(1, 30)}幢{rng.randrange(101, 2600)}室"
    else:
        place = rng.choice(VILLAGES).format(d=rng.choice(PLACES), n=rng.randrange(1, 99),
                                            m=rng.randrange(101, 1999))
    return "浙江省" + city + district + place, region[:4] + rng.choice(("02", "03", "04", "06",
                                                                     "81", "82", "21", "22"))


def _person(rng) -> Truth:
    nation = rng.choice(DOT_NATIONS) if rng.random() < 0.15 else rng.choice(NATIONS)
    name = _name(rng, nation)
    address, region = _address(rng)
    born = dt.date.fromordinal(rng.randrange(dt.date(1960, 1, 1).toordinal(),
                                             dt.date(2006, 12, 31).toordinal()))
    order = rng.randrange(0, 1000)
    body = f"{region}{born:%Y%m%d}{order:03d}"
    number = body + id_check_digit(body)
    gender = "男" if order % 2 else "女"
    return Truth(name=name, number=number, gender=gender, birth_date=born, nation=nation,
                 address=address)


# --- drawing -------------------------------------------------------------------------------

_fonts: dict = {}


def _font(face: tuple[str, int], size: int):
    path, index = face if os.path.exists(face[0]) else (MICRO_HEI, 0)
    key = (path, index, size)
    if key not in _fonts:
        _fonts[key] = ImageFont.truetype(path, size, index=index)
    return _fonts[key]


def _spaced(draw, xy, text: str, font, fill, gap: float) -> float:
    """Text with `gap` pixels between its characters; returns where it ends."""
    x, y = xy
    for char in text:
        draw.text((x, y), char, font=font, fill=fill)
        x += draw.textlength(char, font=font) + gap
    return x - gap


def _card(rng) -> tuple[Image.Image, Image.Image]:
    """A blank card (pale guilloche) and its rounded-corner mask."""
    w, h = CARD
    tint = (rng.randrange(232, 246), rng.randrange(236, 248), rng.randrange(238, 250))
    card = Image.new("RGB", (w, h), tint)
    draw = ImageDraw.Draw(card)
    colours = [(222, 214, 226), (214, 226, 236), (236, 222, 214)]
    for k in range(18):  # wavy guilloche lines
        colour = colours[k % 3]
        phase, amp, period = rng.uniform(0, 6.3), rng.uniform(10, 40), rng.uniform(120, 320)
        base = h * k / 18
        points = [(x, base + amp * math.sin(x / period * 6.283 + phase)) for x in range(0, w + 8, 8)]
        draw.line(points, fill=colour, width=2)
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, w - 1, h - 1), radius=int(3.2 * MM), fill=255)
    return card, mask


def _wrap(text: str, width: int) -> list[str]:
    return [text[i:i + width] for i in range(0, len(text), width)]


def _draw_front(rng, truth: Truth):
    card, mask = _card(rng)
    draw = ImageDraw.Draw(card)
    text_face = rng.choice(TEXT_FACES)
    label_face = rng.choice(TEXT_FACES[:4])
    number_face = rng.choice(NUMBER_FACES)
    blue = (rng.randrange(20, 70), rng.randrange(90, 140), rng.randrange(150, 200))
    ink = tuple(rng.randrange(10, 40) for _ in range(3))
    label_size = round(rng.uniform(2.6, 3.0) * MM)
    value_size = round(rng.uniform(2.8, 3.3) * MM)
    label, value = _font(label_face, label_size), _font(text_face, value_size)
    left = rng.uniform(4.5, 7.0) * MM
    value_x = left + rng.uniform(10.5, 12.5) * MM
    top = rng.uniform(5.0, 7.5) * MM
    pitch = rng.uniform(5.6, 6.6) * MM
    spaced = rng.random() < 0.5
    label_gap = label_size * rng.uniform(0.6, 1.2) if spaced else label_size * 0.05

    def put_label(x, y, text):
        return _spaced(draw, (x, y + (value_size - label_size) * 0.6), text, label, blue,
                       label_gap if len(text) == 2 else label_size * 0.05)

    def put_value(x, y, text, font=value):
        draw.text((x, y), text, font=font, fill=ink)
        return x + draw.textlength(text, font=font)

    y = top
    put_label(left, y, "姓名")
    put_value(value_x, y, truth.name, _font(text_face, round(value_size * rng.uniform(1.0, 1.12))))
    y += pitch
    put_label(left, y, "性别")
    put_value(value_x, y, truth.gender)
    nation_x = value_x + rng.uniform(9.0, 12.0) * MM
    end = put_label(nation_x, y, "民族")
    put_value(end + rng.uniform(2.0, 4.0) * MM, y, truth.nation)
    y += pitch
    put_label(left, y, "出生")
    x = value_x - value_size * 0.4
    born = truth.birth_date
    for number, unit in ((born.year, "年"), (born.month, "月"), (born.day, "日")):
        x = put_value(x + value_size * 0.4, y, str(number))
        x = put_label(x + value_size * 0.4, y, unit)
    y += pitch
    put_label(left, y, "住址")
    portrait_x = rng.uniform(53.0, 56.0) * MM
    per_line = max(8, int((portrait_x - value_x - MM) // value_size))
    lines = _wrap(truth.address, per_line)[:3]
    line_pitch = value_size * rng.uniform(1.25, 1.45)
    for i, line in enumerate(lines):
        put_value(value_x, y + i * line_pitch, line)
    # the portrait: a grey placeholder with a head-and-shoulders silhouette
    box = (portrait_x, rng.uniform(5.5, 8.0) * MM, portrait_x + 26 * MM, rng.uniform(40.0, 42.0) * MM)
    grey = rng.randrange(150, 200)
    draw.rectangle(box, fill=(grey, grey, grey + 4))
    cx = (box[0] + box[2]) / 2
    draw.ellipse((cx - 5.5 * MM, box[1] + 6 * MM, cx + 5.5 * MM, box[1] + 19 * MM),
                 fill=(grey - 50, grey - 50, grey - 45))
    draw.pieslice((cx - 12 * MM, box[1] + 19 * MM, cx + 12 * MM, box[3] + 14 * MM), 180, 360,
                  fill=(grey - 60, grey - 60, grey - 55))
    number_y = rng.uniform(44.0, 46.5) * MM
    put_label(left, number_y, "公民身份号码")
    number_size = round(rng.uniform(3.3, 3.9) * MM)
    digits = _font(number_face, number_size)
    number_x = left + rng.uniform(23.0, 26.0) * MM
    room = CARD[0] - 4 * MM - number_x
    natural = draw.textlength(truth.number, font=digits)
    gap = max(0.0, min(number_size * 0.35, (room - natural) / 17)) * rng.uniform(0.3, 1.0)
    _spaced(draw, (number_x, number_y - (number_size - value_size) * 0.5), truth.number, digits,
            ink, gap)
    notes = {"font": os.path.basename(text_face[0]) + f":{text_face[1]}",
             "number_font": os.path.basename(number_face[0]) + f":{number_face[1]}",
             "spaced_labels": spaced, "address_lines": len(lines)}
    return _on_mask(card, mask), notes


def _draw_back(rng, truth: Truth):
    card, mask = _card(rng)
    draw = ImageDraw.Draw(card)
    face = rng.choice(TEXT_FACES[:4])
    ink = tuple(rng.randrange(10, 40) for _ in range(3))
    # the emblem: a red disc with five yellow stars and a gate
    ex, ey, er = rng.uniform(7, 10) * MM, rng.uniform(5, 7) * MM, rng.uniform(9.5, 11) * MM
    draw.ellipse((ex, ey, ex + 2 * er, ey + 2 * er), fill=(200, 30, 35))
    for k, (dx, dy, r) in enumerate(((0.55, 0.45, 0.22), (0.9, 0.25, 0.08), (1.05, 0.4, 0.08),
                                     (1.05, 0.6, 0.08), (0.9, 0.75, 0.08))):
        cx, cy, rr = ex + dx * er, ey + dy * er, r * er
        star = [(cx + rr * math.cos(math.radians(-90 + j * 36)) * (1 if j % 2 == 0 else 0.4),
                 cy + rr * math.sin(math.radians(-90 + j * 36)) * (1 if j % 2 == 0 else 0.4))
                for j in range(10)]
        draw.polygon(star, fill=(250, 210, 60))
    draw.rectangle((ex + 0.6 * er, ey + 1.2 * er, ex + 1.4 * er, ey + 1.6 * er), fill=(250, 210, 60))
    title = _font(face, round(rng.uniform(4.2, 5.0) * MM))
    tx = ex + 2 * er + rng.uniform(5, 8) * MM
    _spaced(draw, (tx, ey + rng.uniform(2, 4) * MM), "中华人民共和国", title, ink, 0.45 * MM)
    big = _font(face, round(rng.uniform(7.0, 8.0) * MM))
    _spaced(draw, (tx - rng.uniform(2, 5) * MM, ey + rng.uniform(13, 16) * MM), "居民身份证", big, ink,
            rng.uniform(1.5, 3.0) * MM)
    label = _font(face, round(rng.uniform(2.6, 3.0) * MM))
    value = _font(rng.choice(TEXT_FACES), round(rng.uniform(2.8, 3.2) * MM))
    city = CITIES[truth.number[:4] + "00"][0]
    authority = city + "公安局" + rng.choice(["", "", "西湖分局", "北仑分局", "开发区分局"])
    issued = dt.date.fromordinal(rng.randrange(dt.date(2008, 1, 1).toordinal(),
                                               dt.date(2025, 12, 31).toordinal()))
    years = rng.choice((10, 20, 20, None))
    until = "长期" if years is None else (
        f"{issued.year + years}.{issued.month:02d}.{min(issued.day, 28):02d}")
    validity = f"{issued:%Y.%m.%d}-{until}"
    lx, vx = rng.uniform(12, 16) * MM, rng.uniform(29, 32) * MM
    blue = (40, 110, 170)
    for y, text, val in ((rng.uniform(40, 42) * MM, "签发机关", authority),
                         (rng.uniform(47, 48.5) * MM, "有效期限", validity)):
        draw.text((lx, y), text, font=label, fill=blue)
        draw.text((vx, y), val, font=value, fill=ink)
    return _on_mask(card, mask), {"authority": authority, "validity": validity}


def _on_mask(card: Image.Image, mask: Image.Image) -> Image.Image:
    rgba = card.convert("RGBA")
    rgba.putalpha(mask)
    return rgba


# --- the photo -----------------------------------------------------------------------------

def _noisy(rng, image: Image.Image, sigma: float) -> Image.Image:
    """Sensor noise drawn from the seed (Pillow's effect_noise is not seeded)."""
    pixels = np.asarray(image, dtype=np.int16)
    noise = np.random.default_rng(rng.randrange(2 ** 32)).normal(0, sigma, pixels.shape[:2])
    return Image.fromarray(np.clip(pixels + noise[:, :, None].astype(np.int16), 0, 255)
                           .astype(np.uint8))


def _background(rng, size: tuple[int, int]) -> Image.Image:
    """A table with a grain (seeded: the same photo for the same seed)."""
    return _noisy(rng, table(rng, size), rng.uniform(4, 12))


def _photograph(rng, card: Image.Image, rotation: int, width: Optional[int]):
    width = width or rng.choice([1000, 1200, 1280, 1440, 1600, 1800, 2000, 2400])
    frame = (width, width * 3 // 4)
    # a label character (about 2.8 mm of the card's 85.6) at least MIN_TEXT_PX tall
    lowest = MIN_TEXT_PX * 85.6 / 2.8 / frame[0]
    fill = rng.uniform(max(0.5, min(lowest, 0.9)), 0.95)
    scale = fill * frame[0] / card.width
    drawn = card.resize((round(card.width * scale), round(card.height * scale)), Image.LANCZOS)
    skew = rng.uniform(-8, 8)
    drawn = drawn.rotate(skew, expand=True, resample=Image.BICUBIC)
    photo = _background(rng, frame)
    ox = max(0, (frame[0] - drawn.width) // 2 + rng.randrange(-frame[0] // 30, frame[0] // 30 + 1))
    oy = max(0, (frame[1] - drawn.height) // 2 + rng.randrange(-frame[1] // 25, frame[1] // 25 + 1))
    shadow = Image.new("RGB", drawn.size, (30, 30, 30))
    photo.paste(shadow, (ox + width // 200, oy + width // 150),
                drawn.getchannel("A").point(lambda a: a // 3))
    photo.paste(drawn.convert("RGB"), (ox, oy), drawn.getchannel("A"))
    photo = _lighting(rng, photo)
    blur = rng.uniform(0.0, 1.1) * width / 1600
    if blur > 0.3:
        photo = photo.filter(ImageFilter.GaussianBlur(blur))
    sigma = rng.uniform(2, 8)
    photo = _noisy(rng, photo, sigma)
    if rotation:
        photo = photo.transpose({90: Image.ROTATE_90, 180: Image.ROTATE_180,
                                 270: Image.ROTATE_270}[rotation])
    quality = rng.randrange(55, 96)
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=quality)
    return out.getvalue(), {"width": photo.width, "quality": quality, "skew": round(skew, 1),
                            "fill": round(fill, 2), "blur": round(blur, 2),
                            "noise": round(sigma, 1)}


if __name__ == "__main__":  # python -m tests.id_card_corpus OUTDIR N: write the photos to look at
    import json
    import sys
    from pathlib import Path

    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    for s in corpus(count) + [back_sample(seed) for seed in range(max(1, count // 8))]:
        (out_dir / f"{s.side}-{s.seed:03d}.jpg").write_bytes(s.jpeg)
        print(json.dumps({"seed": s.seed, "side": s.side, "rotation": s.rotation, **s.notes,
                          "truth": {**s.truth.__dict__, "birth_date": s.truth.birth_date.isoformat()}},
                         ensure_ascii=False))
