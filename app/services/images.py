"""Uploaded pictures: checked by content, never trusted by name, and re-encoded."""
import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from app.services import N_, DomainError

JPEG_MAGIC = b"\xff\xd8\xff"
# Refuse before decoding anything bigger: a 12000 x 9000 photo is already absurd for a document.
MAX_PIXELS = 40_000_000


class ImageRefused(DomainError):
    message = N_("The picture was refused.")


@dataclass
class CleanImage:
    data: bytes
    width: int
    height: int


def clean_jpeg(data: bytes, *, max_bytes: int, label: str) -> CleanImage:
    """A real, complete JPEG within limits, re-encoded without EXIF (orientation applied)."""
    if len(data) > max_bytes:
        raise ImageRefused(N_("%(label)s is larger than %(limit)s MB."), label=label,
                           limit=f"{max_bytes / 1024 / 1024:g}")
    if not data.startswith(JPEG_MAGIC):
        raise ImageRefused(N_("%(label)s is not a JPG picture (the file content is not JPEG)."),
                           label=label)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format != "JPEG":
                raise ImageRefused(N_("%(label)s is not a JPG picture (the file content is not JPEG)."),
                                   label=label)
            width, height = probe.size
            if width * height > MAX_PIXELS:  # checked from the header, before decoding
                raise ImageRefused(N_("%(label)s has too many pixels (%(width)s × %(height)s)."),
                                   label=label, width=width, height=height)
            probe.load()  # a truncated file fails here
            image = ImageOps.exif_transpose(probe).convert("RGB")
    except ImageRefused:
        raise
    except Image.DecompressionBombError:  # Pillow's own ceiling, far above ours
        raise ImageRefused(N_("%(label)s has too many pixels (%(width)s × %(height)s)."),
                           label=label, width="?", height="?") from None
    except Exception:  # anything Pillow trips on (bad EXIF, odd markers) is a bad picture
        raise ImageRefused(N_("%(label)s is damaged or incomplete; please take the photo again."),
                           label=label) from None
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88, optimize=True)  # no exif= argument: metadata is dropped
    return CleanImage(out.getvalue(), image.width, image.height)
