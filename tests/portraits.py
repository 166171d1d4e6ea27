"""Generated 1-inch photos (寸照) and the things clerks upload by mistake in their place.

`portrait_jpeg` draws head and shoulders with a face that OpenCV's frontal-face Haar cascade
finds (shaded eye sockets, brows, eyes, nose, mouth and a fringe on a shaded oval: a flat oval
is not found), on a chosen background; size, place, blur, noise and JPEG quality vary. Besides:
a group photo, an ID card and a printed page cropped to 3:4, and backgrounds an ID photo must
not have (dark, red, patterned, outdoors). Run `python -m tests.portraits OUTDIR` to look at them.
"""
import io
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
SKIN = (224, 186, 160)
HAIR = (30, 25, 20)
BACKGROUNDS = {
    "white": (250, 250, 250),
    "light_grey": (200, 200, 200),
    "light_blue": (160, 205, 245),
    "id_blue": (67, 142, 219),  # the standard 蓝底 of Chinese ID photos
    "red": (220, 30, 30),       # 红底
    "navy": (20, 40, 110),
    "dark": (60, 60, 60),
}
FAKE_ID_NUMBER = "110101199003071234"  # made up: the shape of a number, nobody's


def portrait_jpeg(width: int = 600, height: int = 800, *, background="white", face_width=0.45,
                  centre=0.5, top=0.45, blur: float = 0.0, noise: float = 0.0, quality: int = 90,
                  gradient: float = 0.0, seed: int = 1) -> bytes:
    """One person, head and shoulders; `face_width` and `centre` are fractions of the width,
    `gradient` darkens the background towards the bottom by that many levels (studio light)."""
    image = _background(width, height, background, gradient, seed)
    _person(image, face_width * width, centre * width, top * height)
    return _finish(image, blur, noise, quality, seed)


def group_jpeg(width: int = 600, height: int = 800, *, quality: int = 90) -> bytes:
    """Two people side by side (a group photo cropped to 3:4)."""
    image = _background(width, height, "white", 0, 1)
    for centre in (0.27, 0.73):
        _person(image, 0.36 * width, centre * width, 0.45 * height)
    return _finish(image, 0.0, 0.0, quality, 1)


def landscape_jpeg(width: int = 800, height: int = 600) -> bytes:
    """A portrait on a light background, but wider than tall."""
    image = _background(width, height, "white", 0, 1)
    _person(image, 0.3 * width, 0.5 * width, 0.45 * height)
    return _finish(image, 0.0, 0.0, 90, 1)


def id_card_jpeg(width: int = 600, height: int = 800, *, number: str = FAKE_ID_NUMBER) -> bytes:
    """An ID card front photographed on a white table and cropped to 3:4 (a 1-inch photo by
    mistake): labels and values, the 18-digit number, a portrait on the right."""
    card_w, card_h = int(width * 0.96), int(width * 0.96 * 54 / 85.6)
    card = Image.new("RGB", (card_w, card_h), (236, 240, 236))
    draw = ImageDraw.Draw(card)
    size = card_w // 26
    font = ImageFont.truetype(FONT, size)
    label = (40, 90, 160)
    _person(card, card_w * 0.15, card_w * 0.83, card_h * 0.38, scale_body=0.45)
    rows = [("姓名", "王建国"), ("性别", "男    民族  汉"), ("出生", "1990年3月7日"),
            ("住址", "北京市东城区长安街1号")]
    for i, (name, value) in enumerate(rows):
        y = int(card_h * (0.10 + 0.15 * i))
        draw.text((int(card_w * 0.06), y), name, font=font, fill=label)
        draw.text((int(card_w * 0.20), y), value, font=font, fill=(20, 20, 20))
    y = int(card_h * 0.80)
    draw.text((int(card_w * 0.06), y), "公民身份号码", font=font, fill=label)
    draw.text((int(card_w * 0.30), y), number, font=font, fill=(20, 20, 20))
    image = _background(width, height, "white", 0, 1)
    image.paste(card.rotate(2, expand=True, fillcolor=(250, 250, 250)),
                (int(width * 0.01), int((height - card_h) / 2)))
    return _finish(image, 0.6, 2.0, 80, 1)


def document_jpeg(width: int = 600, height: int = 800) -> bytes:
    """A printed page (a notice, a certificate) photographed instead of a portrait."""
    image = _background(width, height, "white", 0, 1)
    draw = ImageDraw.Draw(image)
    title = ImageFont.truetype(FONT, width // 16)
    font = ImageFont.truetype(FONT, width // 28)
    draw.text((int(width * 0.25), int(height * 0.08)), "安全生产培训通知", font=title, fill="black")
    lines = ["各施工企业：", "根据年度培训计划，现将有关事项通知如下。", "一、培训对象：一线作业人员。",
             "二、培训时间：2026年5月10日至12日。", "三、报名材料：身份证复印件、一寸照片。",
             "四、联系电话：0571-88888888。", "特此通知。"]
    for i, line in enumerate(lines):
        draw.text((int(width * 0.08), int(height * (0.22 + 0.08 * i))), line, font=font,
                  fill=(25, 25, 25))
    return _finish(image, 0.5, 2.0, 85, 1)


def _background(width, height, kind, gradient, seed) -> Image.Image:
    """A plain colour (optionally darker towards the bottom), stripes, checks or outdoors."""
    if kind in BACKGROUNDS or isinstance(kind, tuple):
        color = np.array(BACKGROUNDS.get(kind, kind), dtype=float)
        fall = np.linspace(0, gradient, height)[:, None, None]
        pixels = np.broadcast_to(color, (height, width, 3)) - fall
        return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    image = Image.new("RGB", (width, height), (235, 230, 220))
    draw = ImageDraw.Draw(image)
    rng = random.Random(seed)
    if kind == "stripes":
        step = width // 12
        for x in range(0, width + height, step * 2):
            draw.polygon([(x, 0), (x + step, 0), (x + step - height, height), (x - height, height)],
                         fill=(90, 60, 140))
    elif kind == "checks":
        step = width // 10
        for y in range(0, height, step):
            for x in range(0, width, step):
                if (x // step + y // step) % 2:
                    draw.rectangle((x, y, x + step, y + step), fill=(120, 120, 120))
    elif kind == "outdoor":  # sky fading to the horizon, then trees and a street
        for y in range(int(height * 0.4)):
            t = y / (height * 0.4)
            draw.line((0, y, width, y), fill=(int(110 + 110 * t), int(160 + 70 * t), 240))
        draw.rectangle((0, int(height * 0.4), width, height), fill=(110, 110, 100))
        for _ in range(60):
            x, y, r = rng.uniform(0, width), rng.uniform(0.3, 0.6) * height, rng.uniform(15, 45)
            draw.ellipse((x - r, y - r, x + r, y + r),
                         fill=(rng.randint(20, 70), rng.randint(80, 140), rng.randint(20, 60)))
    else:
        raise ValueError(kind)
    return image


def _layer(image, box, color, blur) -> None:
    """An ellipse of `color`, its edge softened by `blur` pixels, painted onto `image`."""
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).ellipse(box, fill=255)
    if blur:
        mask = mask.filter(ImageFilter.GaussianBlur(blur))
    image.paste(Image.new("RGB", image.size, color), (0, 0), mask)


def _scaled(color, factor):
    return tuple(max(0, min(255, int(v * factor))) for v in color)


def _person(image, fw, x0, y0, scale_body=1.0) -> None:
    """Shoulders, neck, hair and a face `fw` wide centred at (x0, y0), on `image`."""
    fh = fw * 1.3
    _layer(image, (x0 - fw * 1.3 * scale_body, y0 + fh * 0.75, x0 + fw * 1.3 * scale_body,
                   y0 + fh * 2.2), (40, 45, 60), 2)
    _layer(image, (x0 - fw * 0.22, y0 + fh * 0.2, x0 + fw * 0.22, y0 + fh * 0.85),
           _scaled(SKIN, 0.85), 2)
    _layer(image, (x0 - fw * 0.58, y0 - fh * 0.62, x0 + fw * 0.58, y0 + fh * 0.1), HAIR, 2)
    # the face, darker towards its edge (a flat oval is no face to the detector)
    face = Image.new("RGB", image.size, SKIN)
    shade = Image.new("L", image.size, 0)
    for i in range(8):
        k = 1 - i / 8
        ImageDraw.Draw(shade).ellipse((x0 - fw / 2 * k, y0 - fh / 2 * k, x0 + fw / 2 * k,
                                       y0 + fh / 2 * k), fill=int(255 * (0.80 + 0.025 * i)))
    face = Image.composite(face, Image.new("RGB", image.size, (0, 0, 0)),
                           shade.filter(ImageFilter.GaussianBlur(fw * 0.05)))
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).ellipse((x0 - fw / 2, y0 - fh / 2, x0 + fw / 2, y0 + fh / 2), fill=255)
    image.paste(face, (0, 0), mask.filter(ImageFilter.GaussianBlur(2)))
    _layer(image, (x0 - fw * 0.5, y0 - fh * 0.6, x0 + fw * 0.5, y0 - fh * 0.22), HAIR, 3)
    eye_y = y0 - fh * 0.05
    for side in (-1, 1):
        ex = x0 + side * fw * 0.2
        _layer(image, (ex - fw * 0.16, eye_y - fh * 0.07, ex + fw * 0.16, eye_y + fh * 0.06),
               _scaled(SKIN, 0.7), fw * 0.04)
        _layer(image, (ex - fw * 0.14, eye_y - fh * 0.12, ex + fw * 0.14, eye_y - fh * 0.08),
               (50, 40, 35), 2)
        _layer(image, (ex - fw * 0.09, eye_y - fh * 0.025, ex + fw * 0.09, eye_y + fh * 0.025),
               (235, 235, 230), 1)
        _layer(image, (ex - fw * 0.035, eye_y - fh * 0.03, ex + fw * 0.035, eye_y + fh * 0.03),
               (40, 30, 25), 1)
    _layer(image, (x0 - fw * 0.05, eye_y, x0 + fw * 0.05, y0 + fh * 0.15), _scaled(SKIN, 1.08),
           fw * 0.02)
    _layer(image, (x0 - fw * 0.1, y0 + fh * 0.12, x0 + fw * 0.1, y0 + fh * 0.18),
           _scaled(SKIN, 0.7), fw * 0.02)
    _layer(image, (x0 - fw * 0.15, y0 + fh * 0.25, x0 + fw * 0.15, y0 + fh * 0.31), (150, 70, 70), 2)


def _finish(image, blur, noise, quality, seed) -> bytes:
    """Camera softness, sensor noise and JPEG compression."""
    image = image.filter(ImageFilter.GaussianBlur(0.8 + blur))
    if noise:
        pixels = np.asarray(image).astype(float)
        pixels += np.random.default_rng(seed).normal(0, noise, pixels.shape)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


if __name__ == "__main__":
    import sys
    from pathlib import Path

    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    samples = {f"bg_{kind}": portrait_jpeg(background=kind)
               for kind in (*BACKGROUNDS, "stripes", "checks", "outdoor")}
    samples |= {"group": group_jpeg(), "landscape": landscape_jpeg(), "id_card": id_card_jpeg(),
                "document": document_jpeg(), "tiny_off_centre": portrait_jpeg(face_width=0.15,
                                                                               centre=0.25),
                "noisy": portrait_jpeg(blur=1.5, noise=6, quality=40, gradient=25)}
    for name, data in samples.items():
        (folder / f"{name}.jpg").write_bytes(data)
    print(f"{len(samples)} photos in {folder}")
