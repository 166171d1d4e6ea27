"""Text recognition: RapidOCR with the PP-OCR models bundled in its wheel (fully offline).

The engine loads once per process (~0.7 s, a few hundred MB), so it lives in task workers,
not in web requests; `warm()` loads it and runs it once when a consumer starts.

`read()` first turns the page upright: a quick look at a small copy of the photo finds which
way the text lines run (90° / 270°: the lines stand upright), which way up they are (the
engine's own 0°/180° line classifier, by majority) and the skew of the lines; the photo is then
turned and levelled once and read at a bounded size. The boxes it returns are in that upright,
level picture, so rows of a page are horizontal.
"""
import logging
import math
import threading
from dataclasses import dataclass
from typing import Optional

import numpy as np

log = logging.getLogger(__name__)
_engine = None
_lock = threading.Lock()
_warm_lock = threading.Lock()
_warmed = False

WORK_SIDE = 1600  # the photo is read with its long side at most this (text stays ≥ ~15 px)
PROBE_SIDE = 800  # the orientation probe looks at a copy this big
UPRIGHT_RATIO = 1.8  # a box this much taller than wide is a line of text standing upright
MIN_SKEW_DEGREES = 0.5  # levelled only beyond this


@dataclass(frozen=True)
class TextBox:
    text: str
    x: float  # left edge
    y: float  # vertical centre
    height: float
    right: float = 0.0  # right edge
    score: float = 1.0  # the recogniser's confidence, 0-1


def _no_text_is_an_answer(record: logging.LogRecord) -> bool:
    """RapidOCR warns when a picture has no text at all; for us that is an answer (a portrait
    has none), given as no boxes, not a warning in the log for each portrait."""
    return "text detection result is empty" not in record.getMessage()


def _get_engine_locked():
    global _engine
    if _engine is None:
        from rapidocr import RapidOCR

        engine_log = logging.getLogger("RapidOCR")
        engine_log.setLevel(logging.WARNING)
        engine_log.addFilter(_no_text_is_an_answer)
        _engine = RapidOCR(params={"Global.log_level": "warning"})
    _engine.update_params(use_det=True, use_cls=True, use_rec=True)
    return _engine


def rows(boxes: list) -> list[list]:
    """Boxes grouped into visual rows, top to bottom, each row left to right (for the readers
    of a page's fields: app/services/licence.py, app/services/id_card.py)."""
    found: list[list] = []
    for box in sorted(boxes, key=lambda b: b.y):
        if found:
            ref = found[-1][0]
            if abs(ref.y - box.y) < max(min(box.height, ref.height) * 0.5, 4):
                found[-1].append(box)
                continue
        found.append([box])
    return [sorted(row, key=lambda b: b.x) for row in found]


def warm() -> None:
    """Load the models and run each once, so that the first photo is read at full speed."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (320, 80), "white")
    ImageDraw.Draw(picture).text((10, 30), "Jianpei 2026 OCR", fill="black")
    with _lock:
        _get_engine_locked()(np.asarray(picture)[:, :, ::-1].copy())
    log.info("OCR engine loaded and warmed")


def warm_once() -> None:
    """warm(), once per process however many consumer threads ask; failures are only logged."""
    global _warmed
    with _warm_lock:
        if _warmed:
            return
        _warmed = True
    try:
        warm()
    except Exception:  # a worker without OCR still runs every other task
        log.exception("OCR engine could not be warmed")


def read(image_path: str) -> list[TextBox]:
    """Every text box found in the photo, in the upright and level page."""
    image = _load(image_path)
    if image is None:
        return []
    with _lock:  # the engine keeps per-call switches on itself: one call at a time
        engine = _get_engine_locked()
        image = _level(engine, _limit(image, WORK_SIDE))
        prepared, record = engine.preprocess_img(image)
        det, cls, rec, crops = engine.run_ocr_steps(prepared, record)
        upside_down = _upside_down(cls, crops)
        result = engine.build_final_output(image, det, cls, rec, crops, record)
    if getattr(result, "txts", None) is None:
        return []
    height, width = image.shape[:2]
    boxes = []
    for text, box, score in zip(result.txts, result.boxes, result.scores):
        xs = [point[0] for point in box]
        ys = [point[1] for point in box]
        if upside_down:  # each line was turned by the classifier; turn the page's geometry too
            xs = [width - x for x in xs]
            ys = [height - y for y in ys]
        boxes.append(TextBox(text=text.strip(), x=min(xs), y=sum(ys) / len(ys),
                             height=max(ys) - min(ys), right=max(xs), score=float(score)))
    return boxes


def bare_read(image_path: str) -> list[str]:
    """The engine called as it comes, for benchmarks."""
    with _lock:
        result = _get_engine_locked()(image_path)
    return list(result.txts or [])


def _load(image_path: str) -> Optional[np.ndarray]:
    import cv2

    data = np.fromfile(image_path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return image


def _limit(image: np.ndarray, side: int) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def _probe_boxes(engine, image: np.ndarray) -> list:
    """Line boxes of a small copy (the detector alone, at PROBE_SIDE): cheap, for the geometry."""
    detector = engine._load_det_model()
    limit = detector.limit_side_len, detector.limit_type
    detector.limit_side_len, detector.limit_type = PROBE_SIDE, "max"
    try:
        result = detector(image)
    finally:
        detector.limit_side_len, detector.limit_type = limit
    return [] if result.boxes is None else [np.asarray(box, dtype=float) for box in result.boxes]


def _extent(box) -> tuple[float, float]:
    return float(np.ptp(box[:, 0])), float(np.ptp(box[:, 1]))


def _level(engine, image: np.ndarray) -> np.ndarray:
    """Turn standing lines (a photo taken at 90° or 270°) to lying ones and level the skew; which
    way up the lines are is left to the line classifier (see _upside_down)."""
    import cv2

    boxes = _probe_boxes(engine, image)
    standing = lying = 0.0
    for box in boxes:
        w, h = _extent(box)
        if h > w * UPRIGHT_RATIO:
            standing += h
        elif w > h * UPRIGHT_RATIO:
            lying += w
    angles, weights = [], []
    for box in boxes:
        w, h = _extent(box)
        long_side = h if standing > lying else w
        if long_side < 3 * min(w, h):
            continue
        edges = [box[(i + 1) % 4] - box[i] for i in range(4)]
        dx, dy = max(edges, key=lambda e: float(np.hypot(*e)))
        if standing > lying:  # after turning the picture 90° clockwise
            dx, dy = -dy, dx
        angle = (math.degrees(math.atan2(dy, dx)) + 90) % 180 - 90
        angles.append(angle)
        weights.append(long_side)
    skew = _weighted_median(angles, weights) if angles else 0.0
    turn = 90 if standing > lying else 0
    if abs(skew) < MIN_SKEW_DEGREES:
        skew = 0.0
    if not turn and not skew:
        return image
    if turn:
        image = cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    if not skew:
        return image
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), skew, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(h * sin + w * cos), int(h * cos + w * sin)
    matrix[0, 2] += new_w / 2 - w / 2
    matrix[1, 2] += new_h / 2 - h / 2
    return cv2.warpAffine(image, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _weighted_median(values: list[float], weights: list[float]) -> float:
    pairs = sorted(zip(values, weights))
    half, total = sum(weights) / 2, 0.0
    for value, weight in pairs:
        total += weight
        if total >= half:
            return value
    return pairs[-1][0]


def _upside_down(cls, crops) -> bool:
    """The page is upside down when the line classifier turned most of the text (by width)."""
    votes = getattr(cls, "cls_res", None) or []
    turned = kept = 0.0
    for (label, _score), crop in zip(votes, crops or []):
        width = crop.shape[1] if hasattr(crop, "shape") else 1
        if label == "180":
            turned += width
        else:
            kept += width
    return turned > kept
