"""Text recognition: RapidOCR with the PP-OCR models bundled in its wheel (fully offline).

The engine loads once per process (~0.7 s, a few hundred MB), so it lives in task workers,
not in web requests.
"""
import logging
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)
_engine = None
_lock = threading.Lock()


@dataclass(frozen=True)
class TextBox:
    text: str
    x: float  # left edge
    y: float  # vertical centre
    height: float


def _get_engine():
    global _engine
    with _lock:
        if _engine is None:
            from rapidocr import RapidOCR

            logging.getLogger("RapidOCR").setLevel(logging.WARNING)
            _engine = RapidOCR()
        return _engine


def read(image_path: str) -> list[TextBox]:
    """Every text box found in the image, with its position."""
    result = _get_engine()(image_path)
    if result.txts is None:
        return []
    boxes = []
    for text, box in zip(result.txts, result.boxes):
        ys = [point[1] for point in box]
        boxes.append(TextBox(text=text.strip(), x=min(p[0] for p in box), y=sum(ys) / len(ys),
                             height=max(ys) - min(ys)))
    return boxes
