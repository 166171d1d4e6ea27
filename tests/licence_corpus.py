"""Generated phone photos of business licences (营业执照), with the ground truth of every field.

Both layouts (正本: landscape, two columns; 副本: portrait, one column), the four kinds of entity
(有限公司, 分公司, 合伙企业, 个体工商户) with their own labels, spaced labels ("名　　称"), a QR-like
block, a red seal over the text, and pre-2016 licences with a 注册号 instead of a credit code.
Photo conditions: 1,000-4,000 px wide, JPEG quality 60-95, skew up to ±10°, rotations of 90°,
180° and 270°, uneven light and glare, the licence filling 60-95 % of a frame with a table or a
wall around it, blur. Everything follows from the seed: `sample(7)` is the same photo every time.

The ground truth uses the reading's keys: uscc, name, type, legal_representative,
registered_capital (None where the kind has none), established (ISO date), address, and region
(the city code). Run `python -m tests.licence_corpus OUTDIR N` to look at the photos.
"""
import datetime as dt
import io
import math
import random
from dataclasses import dataclass, field
from typing import Optional

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from app.services.codes import USCC_ALPHABET, uscc_check_char

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"  # fonts-wqy-microhei (Makefile system-deps)
BASE_WIDTH = 1700  # the landscape licence is drawn at this width, then photographed
MIN_TEXT_PX = 15  # a field character at least this tall in the photo (a phone is held closer)
KINDS = ("company", "branch", "partnership", "individual")

CITIES = {
    "330100": ("杭州市", ["西湖区", "上城区", "拱墅区", "滨江区", "余杭区", "萧山区"]),
    "330200": ("宁波市", ["海曙区", "江北区", "鄞州区", "北仑区", "镇海区"]),
    "330300": ("温州市", ["鹿城区", "龙湾区", "瓯海区", "瑞安市"]),
    "330400": ("嘉兴市", ["南湖区", "秀洲区", "海宁市", "桐乡市"]),
    "330500": ("湖州市", ["吴兴区", "南浔区", "德清县", "长兴县"]),
    "330600": ("绍兴市", ["越城区", "柯桥区", "上虞区", "诸暨市"]),
    "330700": ("金华市", ["婺城区", "金东区", "义乌市", "东阳市"]),
    "330800": ("衢州市", ["柯城区", "衢江区", "江山市"]),
    "330900": ("舟山市", ["定海区", "普陀区", "岱山县"]),
    "331000": ("台州市", ["椒江区", "黄岩区", "路桥区", "温岭市"]),
    "331100": ("丽水市", ["莲都区", "青田县", "龙泉市"]),
}
STREETS = ["文三路", "学院路", "解放路", "中山北路", "人民大道", "环城西路", "江南大道", "凤起东路",
           "建设路", "新华街", "世纪大道", "钱江路", "工业园区兴业路", "开发区创业大道", "府前街"]
BUILDINGS = ["", "", "{n}幢{m}室", "{n}号楼{m}层", "{m}室", "创业大厦{n}楼"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁沈任姚卢钟姜崔谭陆范金石廖贾夏韦付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常汤康易乔赖文施洪"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玉兰凤云海林峰新宇浩晨欣怡子涵梓轩雨博文俊鹏飞斌辉亮成德荣昌盛兴旺福寿康宁嘉琪思远晓东春秋冬梅松柏"
BRANDS = ["之江", "钱塘", "甬江", "瓯越", "兰亭", "天成", "华腾", "中恒", "东方", "鼎盛", "宏达", "新越",
          "恒信", "博远", "金诚", "永固", "明德", "安居", "正泰", "嘉禾", "锦程", "万宏", "卓越", "同创"]
TRADES = ["建筑劳务", "建设工程", "装饰工程", "市政工程", "机电安装", "幕墙工程", "园林绿化", "钢结构工程",
          "建筑安装", "水利水电工程", "防水工程", "路桥工程"]
COMPANY_TYPES = ["有限责任公司(自然人投资或控股)", "其他有限责任公司", "有限责任公司(自然人独资)",
                 "股份有限公司(非上市、自然人投资或控股)", "有限责任公司(非自然人投资或控股的法人独资)"]
DIGITS = "零壹贰叁肆伍陆柒捌玖"
SCOPE = ("许可项目：建设工程施工；建筑劳务分包；住宅室内装饰装修（依法须经批准的项目，经相关部门批准后方可开展"
         "经营活动，具体经营项目以审批结果为准）。一般项目：建筑材料销售；机械设备租赁；园林绿化工程施工；"
         "土石方工程施工；金属结构制造；对外承包工程（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）。")
FOOTER = ["国家企业信用信息公示系统网址：http://www.gsxt.gov.cn",
          "市场主体应当于每年1月1日至6月30日通过国家企业信用信息公示系统报送公示年度报告。"]


@dataclass
class Sample:
    seed: int
    image: bytes
    truth: dict
    kind: str
    layout: str  # "original" (正本) or "duplicate" (副本) or "pre2016"
    rotation: int
    width: int
    notes: dict = field(default_factory=dict)


def corpus(count: int, first_seed: int = 0) -> list["Sample"]:
    """`count` photos of post-2016 licences: every kind and both layouts in turn."""
    return [sample(seed) for seed in range(first_seed, first_seed + count)]


def sample(seed: int, *, width: Optional[int] = None) -> Sample:
    rng = random.Random(seed * 7919 + 17)
    kind = KINDS[seed % len(KINDS)]
    layout = "original" if (seed // len(KINDS)) % 3 != 2 else "duplicate"
    truth, rows = _licence_fields(rng, kind)
    licence = _draw_licence(rng, truth, rows, layout)
    rotation = (0, 0, 0, 90, 0, 180, 0, 270)[rng.randrange(8)]
    image, notes = _photograph(rng, licence, rotation, width)
    return Sample(seed=seed, image=image, truth=truth, kind=kind, layout=layout,
                  rotation=rotation, width=notes["width"], notes=notes)


def pre2016_sample(seed: int) -> Sample:
    """An old licence: 注册号 (15 digits) instead of the credit code."""
    rng = random.Random(seed * 104729 + 3)
    truth, rows = _licence_fields(rng, "company")
    number = "".join(str(rng.randrange(10)) for _ in range(9))
    truth["registration_number"] = truth["region"] + number
    licence = _draw_licence(rng, truth, rows, "pre2016")
    image, notes = _photograph(rng, licence, 0, None)
    return Sample(seed=seed, image=image, truth=truth, kind="company", layout="pre2016",
                  rotation=0, width=notes["width"], notes=notes)


def letter_sample(seed: int) -> bytes:
    """Not a licence: a typed letter (a commitment letter, say) photographed the same way."""
    rng = random.Random(seed * 31 + 5)
    page = Image.new("RGB", (1200, 1700), (252, 252, 250))
    draw = ImageDraw.Draw(page)
    draw.text((420, 120), "企业承诺书", font=_font(64), fill=(20, 20, 20))
    text = ("本企业承诺所提交的营业执照、资质证书等材料真实有效，如有虚假，愿承担相应法律责任。"
            "本企业将按照培训计划组织人员参加培训和考核，遵守培训机构的各项管理规定。") * 3
    for i, line in enumerate(_wrap(text, 28)):
        draw.text((120, 300 + i * 60), line, font=_font(36), fill=(30, 30, 30))
    image, _ = _photograph(rng, page, 0, 1400)
    return image


# --- the licence's fields ---------------------------------------------------------------

def _person(rng) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _uscc(rng, region: str) -> str:
    body = "9" + rng.choice("123") + region + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    return body + uscc_check_char(body)


def _capital(rng) -> str:
    wan = rng.choice([50, 100, 200, 300, 500, 800, 1000, 1200, 2000, 2500, 3000, 5000, 8000])
    thousands, rest = divmod(wan, 1000)
    hundreds, rest = divmod(rest, 100)
    words = ""
    if thousands:
        words += DIGITS[thousands] + "仟"
    if hundreds:
        words += DIGITS[hundreds] + "佰"
    if rest:
        tens, ones = divmod(rest, 10)
        if tens:
            words += ("零" if words and not hundreds else "") + DIGITS[tens] + "拾"
        if ones:
            words += DIGITS[ones]
    return rng.choice(["{}万元整", "{}万元人民币", "人民币{}万元整"]).format(words)


def _date(rng, start: int, end: int) -> dt.date:
    first = dt.date(start, 1, 1).toordinal()
    return dt.date.fromordinal(rng.randrange(first, dt.date(end, 12, 31).toordinal()))


def _cn(date: dt.date) -> str:
    return f"{date.year}年{date.month:02d}月{date.day:02d}日"


def _licence_fields(rng, kind: str) -> tuple[dict, list]:
    """The truth and the rows to print, each row (label, value, column) for the 正本."""
    region = rng.choice(sorted(CITIES))
    city, districts = CITIES[region]
    district = rng.choice(districts)
    building = rng.choice(BUILDINGS).format(n=rng.randrange(1, 30), m=rng.randrange(101, 2999))
    address = (rng.choice(["浙江省", "浙江省", ""]) + city + district + rng.choice(STREETS)
               + f"{rng.randrange(1, 999)}号" + building)
    person = _person(rng)
    brand, trade = rng.choice(BRANDS), rng.choice(TRADES)
    established = _date(rng, 1998, 2024)
    term = "长期" if rng.random() < 0.5 else (
        f"{_cn(established)}至{_cn(established.replace(year=established.year + 20) - dt.timedelta(days=1))}"
        if (established.month, established.day) != (2, 29) else "长期")
    capital = None
    short_city = city[:-1]
    if kind == "company":
        name = f"{rng.choice(['浙江', short_city])}{brand}{trade}有限公司"
        kind_type = rng.choice(COMPANY_TYPES)
        capital = _capital(rng)
        rows = [("名称", name, 0), ("类型", kind_type, 0), ("法定代表人", person, 0),
                ("经营范围", SCOPE, 0), ("注册资本", capital, 1), ("成立日期", _cn(established), 1),
                ("营业期限", term, 1), ("住所", address, 1)]
    elif kind == "branch":
        name = f"浙江{brand}{trade}有限公司{short_city}{rng.choice(['分公司', '第一分公司', district[:-1] + '分公司'])}"
        kind_type = rng.choice(["有限责任公司分公司(自然人投资或控股)", "其他有限责任公司分公司"])
        rows = [("名称", name, 0), ("类型", kind_type, 0), ("负责人", person, 0),
                ("经营范围", SCOPE, 0), ("成立日期", _cn(established), 1),
                ("营业期限", term, 1), ("营业场所", address, 1)]
    elif kind == "partnership":
        name = f"{short_city}{brand}{rng.choice(['建设投资', '工程管理', '劳务服务'])}合伙企业(有限合伙)"
        kind_type = rng.choice(["有限合伙企业", "普通合伙企业"])
        capital = _capital(rng)
        rows = [("名称", name, 0), ("类型", kind_type, 0), ("执行事务合伙人", person, 0),
                ("经营范围", SCOPE, 0), ("出资额", capital, 1), ("成立日期", _cn(established), 1),
                ("合伙期限", term, 1), ("主要经营场所", address, 1)]
    else:
        name = f"{short_city}{district}{brand}{rng.choice(['建材经营部', '装修服务部', '五金店', '水电安装队'])}"
        kind_type = "个体工商户"
        rows = [("名称", name, 0), ("类型", kind_type, 0), ("经营者", person, 0),
                ("经营范围", SCOPE[:60] + "。", 0), ("组成形式", rng.choice(["个人经营", "家庭经营"]), 1),
                ("注册日期", _cn(established), 1), ("经营场所", address, 1)]
    truth = {"uscc": _uscc(rng, region), "name": name, "type": kind_type,
             "legal_representative": person, "registered_capital": capital,
             "established": established.isoformat(), "address": address, "region": region}
    return truth, rows


# --- drawing ----------------------------------------------------------------------------

_fonts: dict = {}


def _font(size: int):
    if size not in _fonts:
        _fonts[size] = ImageFont.truetype(FONT, size, index=0)
    return _fonts[size]


def _wrap(text: str, width: int) -> list[str]:
    return [text[i:i + width] for i in range(0, len(text), width)] or [""]


def _label(draw, x: int, y: int, label: str, size: int, spaced: bool) -> None:
    """A label, short ones spread over four characters' width ("名　　称")."""
    if spaced and len(label) < 4:
        step = (4 * size - size) / (len(label) - 1)
        for i, char in enumerate(label):
            draw.text((x + round(i * step), y), char, font=_font(size), fill=(25, 25, 25))
    else:
        draw.text((x, y), label, font=_font(size), fill=(25, 25, 25))


def _qr(draw, rng, x: int, y: int, size: int) -> None:
    cell = size // 25
    for i in range(25):
        for j in range(25):
            finder = (i < 7 and j < 7) or (i < 7 and j > 17) or (i > 17 and j < 7)
            on = (i in (0, 6) or j in (0, 6) or 2 <= i <= 4 and 2 <= j <= 4) if finder else rng.random() < 0.5
            if finder and i > 17:
                on = (i in (18, 24) or j in (0, 6) or 20 <= i <= 22 and 2 <= j <= 4)
            if finder and j > 17:
                on = (i in (0, 6) or j in (18, 24) or 2 <= i <= 4 and 20 <= j <= 22)
            if on:
                draw.rectangle((x + j * cell, y + i * cell, x + (j + 1) * cell - 1, y + (i + 1) * cell - 1),
                               fill=(10, 10, 10))


def _seal(size: int, authority: str) -> Image.Image:
    """A red round seal on a transparent layer (drawn over the text, ink partly transparent)."""
    seal = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(seal)
    red = (215, 30, 35, 170)
    draw.ellipse((4, 4, size - 4, size - 4), outline=red, width=max(4, size // 40))
    c, r = size / 2, size * 0.13
    star = [(c + r * math.cos(math.radians(-90 + k * 36)) * (1 if k % 2 == 0 else 0.4),
             c + r * math.sin(math.radians(-90 + k * 36)) * (1 if k % 2 == 0 else 0.4)) for k in range(10)]
    draw.polygon(star, fill=red)
    font = _font(max(12, size // 11))
    for i, char in enumerate(authority):  # round the upper rim
        angle = math.radians(-160 + 140 * i / max(1, len(authority) - 1))
        draw.text((c + size * 0.36 * math.cos(angle) - size // 22, c + size * 0.36 * math.sin(angle) - size // 22),
                  char, font=font, fill=red)
    draw.text((c - size * 0.2, c + size * 0.2), "登记专用章", font=font, fill=red)
    return seal


def _draw_licence(rng, truth: dict, rows: list, layout: str) -> Image.Image:
    portrait = layout != "original"
    width, height = (1200, 1700) if portrait else (BASE_WIDTH, 1200)
    paper = tuple(rng.randrange(238, 253) for _ in range(3))
    image = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(image)
    border = (180, 140, 60)
    draw.rectangle((18, 18, width - 18, height - 18), outline=border, width=10)
    draw.rectangle((40, 40, width - 40, height - 40), outline=border, width=3)
    size = 34
    city = CITIES[truth["region"]][0]
    if layout == "pre2016":
        draw.text((90, 90), "注册号  " + truth["registration_number"], font=_font(size), fill=(20, 20, 20))
        rows = [("名称", truth["name"], 0), ("类型", truth["type"], 0), ("住所", truth["address"], 0),
                ("法定代表人姓名", truth["legal_representative"], 0),
                ("注册资本", truth["registered_capital"], 0), ("成立日期", rows[5][1], 0),
                ("营业期限", rows[6][1], 0), ("经营范围", SCOPE, 0)]
    else:
        draw.text((90, 90), "统一社会信用代码", font=_font(30), fill=(20, 20, 20))
        draw.text((90, 135), truth["uscc"], font=_font(36), fill=(20, 20, 20))
    qr = 190 if portrait else 210
    _qr(draw, rng, width - qr - 90, 80, qr)
    draw.text((width - qr - 110, 80 + qr + 6), "扫描二维码登录“国家企业信用信息公示系统”", font=_font(13),
              fill=(60, 60, 60))
    title = _font(92)
    heading = "营 业 执 照"
    tw = draw.textlength(heading, font=title)
    draw.text(((width - tw) / 2, 200 if portrait else 170), heading, font=title, fill=(150, 20, 20))
    if layout == "duplicate":
        draw.text(((width - 120) / 2, 315), "（副　本）", font=_font(30), fill=(40, 40, 40))
    spaced = rng.random() < 0.8
    line = round(size * 1.45)
    top = 420 if portrait else 340
    if layout == "original":
        columns = [(110, 0.47), (int(width * 0.53), 0.47)]
        for col, (x, share) in enumerate(columns):
            col_rows = [r for r in rows if r[2] == col]
            label_w = max(4 * size, max(len(r[0]) for r in col_rows) * size)
            value_x = x + label_w + size
            chars = int((width * share - label_w - 2 * size) // size) - 1
            y = top
            for label, value, _ in col_rows:
                _label(draw, x, y, label, size, spaced)
                limit = 6 if label == "经营范围" else 3
                for part in _wrap(value, chars)[:limit]:
                    draw.text((value_x, y), part, font=_font(size), fill=(25, 25, 25))
                    y += line
                y += round(size * 0.9)
    else:
        label_w = max(4 * size, max(len(r[0]) for r in rows) * size)
        value_x = 110 + label_w + size
        chars = int((width - value_x - 110) // size)
        order = [r for r in rows if r[0] != "经营范围"] + [r for r in rows if r[0] == "经营范围"]
        y = top
        for label, value, _ in order:
            _label(draw, 110, y, label, size, spaced)
            for part in _wrap(value, chars)[:5]:
                draw.text((value_x, y), part, font=_font(size), fill=(25, 25, 25))
                y += line
            y += round(size * 0.8)
    bottom = height - 330
    authority = city + ("市场监督管理局" if rng.random() < 0.8 else "行政审批局")
    issued = _date(rng, 2019, 2025)
    bx = int(width * 0.58) if not portrait else int(width * 0.45)
    draw.text((bx, bottom), "登记机关", font=_font(size), fill=(25, 25, 25))
    draw.text((bx + 40, bottom + 90), _cn(issued), font=_font(size), fill=(25, 25, 25))
    for i, text in enumerate(FOOTER):
        draw.text((90, height - 150 + i * 34), text, font=_font(20), fill=(70, 70, 70))
    seal = _seal(300, authority[:-1] if len(authority) > 9 else authority)
    image.paste(seal, (bx + rng.randrange(-20, 120), bottom - rng.randrange(60, 140)), seal)
    return image


# --- the photo ------------------------------------------------------------------------

def _background(rng, size: tuple[int, int]) -> Image.Image:
    image = table(rng, size)
    noise = Image.effect_noise(size, rng.randrange(8, 25)).convert("RGB")
    return ImageChops.multiply(image, ImageChops.add(noise, Image.new("RGB", size, (128, 128, 128)), 1.0, 0))


def table(rng, size: tuple[int, int]) -> Image.Image:
    """What a document is photographed on: a plain colour with a few edges (no grain yet)."""
    base = tuple(rng.randrange(60, 200) for _ in range(3))
    image = Image.new("RGB", size, base)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randrange(2, 6)):  # table edges, wood grain, a wall's tiles
        shade = tuple(max(0, c - rng.randrange(20, 60)) for c in base)
        if rng.random() < 0.5:
            y = rng.randrange(size[1])
            draw.line((0, y, size[0], y + rng.randrange(-40, 40)), fill=shade, width=rng.randrange(2, 12))
        else:
            x = rng.randrange(size[0])
            draw.line((x, 0, x + rng.randrange(-40, 40), size[1]), fill=shade, width=rng.randrange(2, 12))
    return image


def _lighting(rng, image: Image.Image) -> Image.Image:
    """Uneven light (a gradient from 60-75 % to full) and, sometimes, glare."""
    w, h = image.size
    small = Image.linear_gradient("L").resize((64, 64)).rotate(rng.randrange(360), expand=False,
                                                                   fillcolor=128)
    low = rng.randrange(150, 195)
    shade = small.point(lambda v: low + (255 - low) * v // 255).resize((w, h), Image.BILINEAR)
    image = ImageChops.multiply(image, Image.merge("RGB", (shade, shade, shade)))
    if rng.random() < 0.5:
        glare = Image.new("L", (w, h), 0)
        gx, gy, gr = rng.randrange(w), rng.randrange(h), rng.randrange(w // 10, w // 5)
        ImageDraw.Draw(glare).ellipse((gx - gr, gy - gr * 0.7, gx + gr, gy + gr * 0.7),
                                      fill=rng.randrange(70, 120))
        glare = glare.filter(ImageFilter.GaussianBlur(gr / 2))
        image = ImageChops.screen(image, Image.merge("RGB", (glare, glare, glare)))
    return image


def _photograph(rng, licence: Image.Image, rotation: int, width: Optional[int]):
    width = width or rng.choice([1000, 1200, 1280, 1440, 1600, 1600, 1800, 2000, 2400, 3000, 4000])
    portrait = licence.height > licence.width
    frame = (width, width * 4 // 3) if portrait else (width, width * 3 // 4)
    # a field character at least MIN_TEXT_PX tall: small frames are taken closer
    side = frame[1] if portrait else frame[0]
    lowest = max(0.6, MIN_TEXT_PX * licence.width / 34 / (side * (licence.width / max(licence.size))))
    fill = rng.uniform(min(lowest, 0.92), 0.95)
    scale = fill * side / max(licence.size)
    drawn = licence.resize((round(licence.width * scale), round(licence.height * scale)), Image.LANCZOS)
    skew = rng.uniform(-10, 10)
    mask = Image.new("L", drawn.size, 255).rotate(skew, expand=True, resample=Image.BICUBIC)
    drawn = drawn.rotate(skew, expand=True, resample=Image.BICUBIC)
    photo = _background(rng, frame)
    ox = max(0, (frame[0] - drawn.width) // 2 + rng.randrange(-frame[0] // 30, frame[0] // 30 + 1))
    oy = max(0, (frame[1] - drawn.height) // 2 + rng.randrange(-frame[1] // 30, frame[1] // 30 + 1))
    photo.paste(drawn, (ox, oy), mask)
    photo = _lighting(rng, photo)
    blur = rng.uniform(0.0, 1.0) * width / 1600
    if blur > 0.3:
        photo = photo.filter(ImageFilter.GaussianBlur(blur))
    if rotation:
        photo = photo.transpose({90: Image.ROTATE_90, 180: Image.ROTATE_180, 270: Image.ROTATE_270}[rotation])
    quality = rng.randrange(60, 96)
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=quality)
    return out.getvalue(), {"width": photo.width, "quality": quality, "skew": round(skew, 1),
                            "fill": round(fill, 2), "blur": round(blur, 2)}


if __name__ == "__main__":  # python -m tests.licence_corpus OUTDIR N: write the photos to look at
    import json
    import sys
    from pathlib import Path

    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    for s in corpus(int(sys.argv[2]) if len(sys.argv) > 2 else 8):
        (out_dir / f"{s.seed:03d}.jpg").write_bytes(s.image)
        print(json.dumps({"seed": s.seed, "kind": s.kind, "layout": s.layout, "rotation": s.rotation,
                          **s.notes, "truth": s.truth}, ensure_ascii=False))
