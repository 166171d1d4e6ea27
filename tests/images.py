"""Pictures for tests: licences rendered with a CJK font, photos, and bad files."""
import io
import struct

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


def licence_jpeg(uscc: str, name: str = "杭州测试建设工程有限公司", *, legal="张建国",
                 capital="壹仟万元整", established="2015年06月01日",
                 address="浙江省杭州市西湖区文三路100号", blur: float = 0.8) -> bytes:
    """A photo-like business licence (slightly rotated and blurred, JPEG q60)."""
    font = ImageFont.truetype(FONT, 30, index=0)
    title = ImageFont.truetype(FONT, 56, index=0)
    image = Image.new("RGB", (1200, 850), (250, 246, 236))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 1180, 830), outline=(170, 40, 40), width=8)
    draw.text((470, 50), "营业执照", font=title, fill=(150, 20, 20))
    rows = [("统一社会信用代码", uscc), ("名称", name), ("类型", "有限责任公司(自然人投资或控股)"),
            ("法定代表人", legal), ("注册资本", capital), ("成立日期", established), ("住所", address)]
    for i, (label, value) in enumerate(rows):
        draw.text((90, 170 + 80 * i), label, font=font, fill=(20, 20, 20))
        draw.text((380, 170 + 80 * i), value, font=font, fill=(20, 20, 20))
    image = image.rotate(2, expand=True, fillcolor=(255, 255, 255)).filter(ImageFilter.GaussianBlur(blur))
    return _jpeg(image, quality=60)


def plain_jpeg(width: int = 800, height: int = 600, color="white", exif_orientation=None) -> bytes:
    image = Image.new("RGB", (width, height), color)
    ImageDraw.Draw(image).rectangle((10, 10, width - 10, height - 10), outline="black", width=4)
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        exif[0x010F] = "SecretCamera"
        return _jpeg(image, exif=exif.tobytes())
    return _jpeg(image)


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(out, "PNG")
    return out.getvalue()


def truncated_jpeg() -> bytes:
    data = plain_jpeg(1200, 900, "gray")
    return data[: len(data) // 2]


def bomb_jpeg(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny JPEG whose header claims a huge picture (SOF0 dimensions patched)."""
    data = bytearray(plain_jpeg(64, 64))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def _jpeg(image, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **kwargs)
    return out.getvalue()


PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HTML_BYTES = b"<html><body><script>alert(1)</script></body></html>"
