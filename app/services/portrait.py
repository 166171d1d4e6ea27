"""What a 1-inch photo (寸照) shows: upright, a plain light background, no printed text, one face.

Two checks, by cost:
- `layout_problem` (Pillow and numpy, a few milliseconds: it runs in the upload request): the
  photo stands upright and the background beside the head, the two strips along the left and
  right edges of its upper half, is plain (one even colour) and light, or the standard blue of
  Chinese ID photos (蓝底), which the upload form asks for beside white;
- `content_problem` (in a task: OCR, then OpenCV): no printed text (an ID card or a document
  photographed by mistake) and, where OpenCV ships its Haar cascades (opencv-python-headless
  4.x; the 5.x wheels have none), exactly one face, large enough and centred.
Each returns None, or the refusal's message id and its parameters (translated when shown).
"""
import functools
import io
import re
import threading
from typing import Any, Optional

import numpy as np
from PIL import Image, ImageOps

from app.services import N_

# Layout. The photo is looked at 120 px wide (averaged down: JPEG noise and a stray hair fade).
SAMPLE_WIDTH = 120
EDGE_STRIP = 0.10  # the background strips: this fraction of the width on each side,
STRIP_DEPTH = 0.50  # down to this fraction of the height (the shoulders start lower)
# Plain: within the strips, each colour channel's 10th-90th percentile spread is at most this
# (0-255). On the generated photos of tests/portraits.py, plain backdrops with light falling off,
# blur, noise and JPEG q35 spread 0-23; stripes, checks and an outdoor scene 80-170.
MAX_BACKGROUND_SPREAD = 40
# Light: the median colour's luma (ITU-R BT.601) at least this: white, light grey (160, 160, 160
# and lighter) and light blue pass; mid grey, red (红底), navy and black do not.
MIN_BACKGROUND_LUMA = 160
# ...or the blue of ID photos (蓝底, about 67, 142, 219): blue well above red and green.
ID_BLUE_MIN_BLUE, ID_BLUE_OVER_RED, ID_BLUE_OVER_GREEN = 170, 60, 25

# Text: a portrait shows none; a stray mark or a logo on a uniform is tolerated.
ID_DIGITS = re.compile(r"[0-9]{15}")  # 15 digits in a row: an ID number (old or new), whole
CONFIDENT_TEXT = 0.80  # OCR boxes below this confidence are ignored
MAX_TEXT_LINES = 2  # more confident lines of 2+ characters: a card or a page
MAX_TEXT_CHARS = 20  # more confident characters in all: a card or a page

# Faces (Haar cascade, looked for on a copy at most 400 px wide)
DETECT_WIDTH = 400
SEARCH_FACE = 0.10  # faces down to this fraction of the width are looked for (to say "too small")
MIN_FACE, MAX_FACE = 0.25, 0.85  # the face's width in the photo's, as fractions
SECOND_FACE = 0.5  # another face at least this fraction of the largest one's width counts
MAX_OFF_CENTRE = 1 / 6  # the face's centre within the middle third of the width
CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml")

NOT_UPRIGHT = N_("The 1-inch photo must be upright (taller than wide).")
BACKGROUND_NOT_PLAIN = N_(
    "The background of the 1-inch photo must be plain: one even colour, with nothing behind the "
    "trainee. Please retake it in front of a plain white or light blue wall or backdrop.")
BACKGROUND_NOT_LIGHT = N_(
    "The background of the 1-inch photo must be white, light grey or blue (as on an ID photo); "
    "this one is too dark or of another colour. Please retake it in front of a white or light "
    "blue wall or backdrop.")
PRINTED_TEXT = N_(
    "The 1-inch photo shows printed text or an ID number: it looks like an ID card or a "
    "document. Please upload the trainee's own portrait (head and shoulders).")
NO_FACE = N_(
    "No face was found in the 1-inch photo. Please upload a portrait of the trainee looking at "
    "the camera, head and shoulders, without a hat or sunglasses.")
MANY_FACES = N_(
    "The 1-inch photo shows more than one face (%(n)s). Please upload a portrait of the "
    "trainee alone.")
FACE_TOO_SMALL = N_(
    "The face in the 1-inch photo is too small: the head and shoulders should fill most of the "
    "photo. Please crop it closer or retake it.")
FACE_TOO_LARGE = N_(
    "The face in the 1-inch photo is too close: the whole head and the shoulders must show. "
    "Please retake it from a little further away.")
FACE_OFF_CENTRE = N_(
    "The face in the 1-inch photo is not in the middle. Please crop or retake it with the head "
    "centred.")

Problem = Optional[tuple[str, dict]]
_detect_lock = threading.Lock()


# Layout (in the request) ------------------------------------------------------------------

def layout_problem(data: bytes) -> Problem:
    """Upright, with a plain light background (the JPEG as images.clean_jpeg keeps it)."""
    with Image.open(io.BytesIO(data)) as picture:
        picture.draft("RGB", (SAMPLE_WIDTH * 2, SAMPLE_WIDTH * 4))  # decoded already reduced
        picture = ImageOps.exif_transpose(picture).convert("RGB")
    width, height = picture.size
    if width >= height:
        return NOT_UPRIGHT, {}
    sample = picture.resize((SAMPLE_WIDTH, round(SAMPLE_WIDTH * height / width)),
                            Image.Resampling.BOX)
    spread, color = background(np.asarray(sample))
    if spread > MAX_BACKGROUND_SPREAD:
        return BACKGROUND_NOT_PLAIN, {}
    if not _light_or_id_blue(color):
        return BACKGROUND_NOT_LIGHT, {}
    return None


def background(pixels: np.ndarray) -> tuple[float, np.ndarray]:
    """The spread (largest 10th-90th percentile range of a channel) and the median colour of
    the strips beside the head, of an RGB array."""
    height, width = pixels.shape[:2]
    strip, depth = max(2, round(width * EDGE_STRIP)), max(2, round(height * STRIP_DEPTH))
    sides = np.concatenate([pixels[:depth, :strip].reshape(-1, 3),
                            pixels[:depth, -strip:].reshape(-1, 3)]).astype(float)
    low, middle, high = np.percentile(sides, (10, 50, 90), axis=0)
    return float((high - low).max()), middle


def _light_or_id_blue(color: np.ndarray) -> bool:
    red, green, blue = (float(v) for v in color)
    if 0.299 * red + 0.587 * green + 0.114 * blue >= MIN_BACKGROUND_LUMA:
        return True
    return (blue >= ID_BLUE_MIN_BLUE and blue - red >= ID_BLUE_OVER_RED
            and blue - green >= ID_BLUE_OVER_GREEN)


# Content (in a task) ----------------------------------------------------------------------

def content_problem(image_path: str) -> Problem:
    """No printed text, and (where a face detector is available) one centred face of a
    reasonable size."""
    from app.integrations import ocr

    problem = text_problem(ocr.read(image_path))
    if problem or not face_check_available():
        return problem
    import cv2

    grey = cv2.imdecode(np.fromfile(image_path, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey is None:  # stored after clean_jpeg: it decodes; nothing to say otherwise
        return None
    return face_problem(faces(grey), grey.shape[1])


def text_problem(boxes: list[Any]) -> Problem:
    """An ID number, or more confident text than a logo or a stray mark (ocr.TextBox list)."""
    lines = chars = 0
    for box in boxes:
        text = re.sub(r"\s+", "", box.text)
        if ID_DIGITS.search(text):
            return PRINTED_TEXT, {}
        if box.score >= CONFIDENT_TEXT and len(text) >= 2:
            lines += 1
            chars += len(text)
    if lines > MAX_TEXT_LINES or chars > MAX_TEXT_CHARS:
        return PRINTED_TEXT, {}
    return None


def face_problem(found: list[tuple[int, int, int, int]], width: int) -> Problem:
    """Exactly one face (x, y, w, h), of a reasonable size, centred in a photo `width` wide."""
    if not found:
        return NO_FACE, {}
    largest = max(found, key=lambda box: box[2])
    counted = [box for box in found if box[2] >= largest[2] * SECOND_FACE]
    if len(counted) > 1:
        return MANY_FACES, {"n": len(counted)}
    x, _, w, _ = largest
    if w < width * MIN_FACE:
        return FACE_TOO_SMALL, {}
    if w > width * MAX_FACE:
        return FACE_TOO_LARGE, {}
    if abs(x + w / 2 - width / 2) > width * MAX_OFF_CENTRE:
        return FACE_OFF_CENTRE, {}
    return None


def face_check_available() -> bool:
    """OpenCV can look for faces here without downloading anything (its Haar cascades)."""
    return bool(_cascades())


def faces(image: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The faces (x, y, w, h, in the image's pixels) in a grey or BGR picture, largest first;
    a face inside another's box counts once. Empty where no detector is available."""
    import cv2

    cascades = _cascades()
    if not cascades:
        return []
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    scale = min(1.0, DETECT_WIDTH / grey.shape[1])
    if scale < 1:
        grey = cv2.resize(grey, (round(grey.shape[1] * scale), round(grey.shape[0] * scale)),
                          interpolation=cv2.INTER_AREA)
    side = max(24, round(grey.shape[1] * SEARCH_FACE))
    found: list = []
    with _detect_lock:  # a classifier is not to be shared by threads at once
        for cascade in cascades:  # the second only when the first finds nothing
            found = list(cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5,
                                                  minSize=(side, side)))
            if found:
                break
    boxes = sorted((tuple(round(float(v) / scale) for v in box) for box in found),
                   key=lambda box: -box[2])
    return [box for i, box in enumerate(boxes)
            if not any(_inside(box, bigger) for bigger in boxes[:i])]


def _inside(box, bigger) -> bool:
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    return bigger[0] <= cx <= bigger[0] + bigger[2] and bigger[1] <= cy <= bigger[1] + bigger[3]


@functools.cache
def _cascades() -> tuple:
    """The frontal-face cascades OpenCV ships (4.x wheels); none in 5.x, nor where cv2 is
    missing."""
    try:
        import cv2
    except ImportError:
        return ()
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if not folder or not hasattr(cv2, "CascadeClassifier"):
        return ()
    loaded = []
    for name in CASCADES:
        cascade = cv2.CascadeClassifier()
        if cascade.load(folder + name):
            loaded.append(cascade)
    return tuple(loaded)
