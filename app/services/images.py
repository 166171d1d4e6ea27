"""Uploaded pictures: checked by content, never trusted by name, and re-encoded.

Each kind of picture has its own limits (PICTURES): the pixels it may have, read from the
JPEG header and refused before anything is decoded, and the longest side it is kept at. A
large JPEG is decoded already reduced (libjpeg's DCT scaling, Image.draft) to no less than
that side, so memory follows what is kept, not what was sent. The re-encoded file carries no
metadata: no EXIF, XMP, ICC profile or comment (COM) segment, only the JFIF header.
"""
import io
import math
from dataclasses import dataclass

from PIL import Image, ImageOps

from app.services import N_, DomainError

JPEG_MAGIC = b"\xff\xd8\xff"
PHOTO, ID_PHOTO, DOCUMENT = "photo", "id_photo", "document"


@dataclass(frozen=True)
class Limits:
    max_pixels: int  # refused above this, from the header, before decoding
    keep_side: int  # the longest side of the stored picture


# What each picture needs. A 1-inch photo (寸照) is printed 25 × 35 mm on tickets and
# certificates: 1200 px is over 800 dpi. An ID card photo must stay readable: 2000 px across
# an 85.6 mm card is about 600 dpi. Documents (营业执照, 承诺书, 资质证书) are read by OCR:
# phone photos up to 4096 px wide (16.8 megapixels, e.g. 4000 × 3000) are kept whole.
PICTURES = {
    PHOTO: Limits(max_pixels=4096 * 3072, keep_side=1200),
    ID_PHOTO: Limits(max_pixels=4096 * 3072, keep_side=2000),
    DOCUMENT: Limits(max_pixels=4096 * 4096, keep_side=4096),
}
QUALITY = 88


class ImageRefused(DomainError):
    message = N_("The picture was refused.")


@dataclass
class CleanImage:
    data: bytes
    width: int
    height: int


def clean_jpeg(data: bytes, *, kind: str, max_bytes: int, label: str) -> CleanImage:
    """A real, complete JPEG within the limits of its kind, re-encoded without metadata
    (EXIF orientation applied) and no larger than the kind keeps."""
    limits = PICTURES[kind]
    if len(data) > max_bytes:
        raise ImageRefused(N_("%(label)s is larger than %(limit)s MB."), label=label,
                           limit=f"{max_bytes / 1024 / 1024:g}")
    if not data.startswith(JPEG_MAGIC):
        raise ImageRefused(N_("%(label)s is not a JPG picture (the file content is not JPEG)."),
                           label=label)
    try:
        with Image.open(io.BytesIO(data)) as picture:
            if picture.format != "JPEG":
                raise ImageRefused(N_("%(label)s is not a JPG picture (the file content is "
                                      "not JPEG)."), label=label)
            width, height = picture.size  # from the header: nothing is decoded yet
            if width * height > limits.max_pixels:
                raise _too_many_pixels(label, width, height, limits)
            _decode_reduced(picture, limits.keep_side)  # a truncated file fails here
            ImageOps.exif_transpose(picture, in_place=True)
            if max(picture.size) > limits.keep_side:
                picture.thumbnail((limits.keep_side, limits.keep_side), Image.Resampling.LANCZOS)
            image = picture if picture.mode == "RGB" else picture.convert("RGB")
            image.info = {}  # Pillow would write the comment (COM) it read back out
            out = io.BytesIO()
            image.save(out, "JPEG", quality=QUALITY)  # optimize=True would buffer it all again
            return CleanImage(out.getvalue(), image.width, image.height)
    except ImageRefused:
        raise
    except Image.DecompressionBombError:  # Pillow's own ceiling, far above ours
        raise ImageRefused(N_("%(label)s has too many pixels (%(width)s × %(height)s)."),
                           label=label, width="?", height="?") from None
    except Exception:  # anything Pillow trips on (bad EXIF, odd markers) is a bad picture
        raise ImageRefused(N_("%(label)s is damaged or incomplete; please take the photo again."),
                           label=label) from None


def _decode_reduced(picture: Image.Image, keep_side: int) -> None:
    """Decode at 1/2, 1/4 or 1/8 of the size when that still leaves `keep_side` pixels."""
    width, height = picture.size
    longest = max(width, height)
    if longest > keep_side:
        scale = keep_side / longest
        picture.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
    picture.load()


def _too_many_pixels(label: str, width: int, height: int, limits: Limits) -> ImageRefused:
    return ImageRefused(N_("%(label)s has too many pixels (%(width)s × %(height)s); at most "
                           "%(limit)s megapixels are accepted. Please send a smaller picture."),
                        label=label, width=width, height=height,
                        limit=f"{limits.max_pixels / 1_000_000:.1f}")
