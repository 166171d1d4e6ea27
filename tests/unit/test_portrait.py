"""What a 1-inch photo must show (app/services/portrait.py), on generated photos (tests/portraits.py):
the background a clerk's upload is refused for, the ID card or page sent by mistake (OCR), and
one centred face of a reasonable size (OpenCV's Haar cascade, where the installed OpenCV ships it)."""
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app.integrations import ocr
from app.integrations.ocr import TextBox
from app.services import portrait
from app.services.portrait import (
    BACKGROUND_NOT_LIGHT,
    BACKGROUND_NOT_PLAIN,
    FACE_OFF_CENTRE,
    FACE_TOO_LARGE,
    FACE_TOO_SMALL,
    MANY_FACES,
    NO_FACE,
    NOT_UPRIGHT,
    PRINTED_TEXT,
    content_problem,
    face_problem,
    layout_problem,
    text_problem,
)
from tests.portraits import document_jpeg, group_jpeg, id_card_jpeg, landscape_jpeg, portrait_jpeg

ROOT = Path(__file__).resolve().parents[2]
needs_faces = pytest.mark.skipif(not portrait.face_check_available(),
                                 reason="this OpenCV ships no Haar cascades (opencv 5.x)")


def _id(problem):
    return problem[0] if problem else None


# The background, in the upload request ---------------------------------------------------

@pytest.mark.parametrize("photo", [
    dict(background="white"),
    dict(background="light_grey"),
    dict(background="light_blue"),
    dict(background="id_blue"),  # 蓝底, which the upload form asks for beside white
    dict(background="white", gradient=60),  # light falling off towards the bottom
    dict(background="light_blue", blur=1.5, noise=8, quality=35, gradient=30),
    dict(width=295, height=413, background="light_grey", noise=4, quality=50),  # the smallest
    dict(width=900, height=1200, face_width=0.3),
], ids=["white", "light-grey", "light-blue", "id-blue", "gradient", "blurred-noisy-q35",
        "smallest", "large"])
def test_a_plain_light_background_passes(photo):
    assert layout_problem(portrait_jpeg(**photo)) is None


@pytest.mark.parametrize("photo, refusal", [
    (dict(background="dark"), BACKGROUND_NOT_LIGHT),
    (dict(background="navy"), BACKGROUND_NOT_LIGHT),
    (dict(background="red"), BACKGROUND_NOT_LIGHT),  # 红底: not what the upload form asks for
    (dict(background=(150, 150, 150)), BACKGROUND_NOT_LIGHT),  # mid grey
    (dict(background="stripes"), BACKGROUND_NOT_PLAIN),
    (dict(background="checks"), BACKGROUND_NOT_PLAIN),
    (dict(background="outdoor"), BACKGROUND_NOT_PLAIN),
], ids=["dark", "navy", "red", "mid-grey", "stripes", "checks", "outdoor"])
def test_a_dark_or_busy_background_is_refused(photo, refusal):
    assert _id(layout_problem(portrait_jpeg(**photo))) == refusal


def test_a_landscape_photo_is_refused():
    assert layout_problem(landscape_jpeg()) == (NOT_UPRIGHT, {})


# Printed text ------------------------------------------------------------------------------

def _box(text, score=0.99):
    return TextBox(text=text, x=0, y=0, height=20, right=100, score=score)


@pytest.mark.parametrize("boxes, refusal", [
    ([], None),
    ([_box("中国建筑"), _box("CSCEC")], None),  # a logo on the uniform
    ([_box("一"), _box("l1"), _box("口")], None),  # stray marks: single characters
    ([_box("姓名王建国", 0.5), _box("性别男", 0.6), _box("出生", 0.7)], None),  # unsure
    ([_box("110101 19900307 1234", 0.4)], PRINTED_TEXT),  # an ID number, however unsure
    ([_box("姓名王建国"), _box("性别男"), _box("住址北京市")], PRINTED_TEXT),  # three lines
    ([_box("根据年度培训计划现将有关事项通知如下")], None),  # one line of 18 characters
    ([_box("根据年度培训计划现将有关事项通知如下"), _box("特此通知")], PRINTED_TEXT),  # 22 chars
], ids=["none", "logo", "stray", "unsure", "id-number", "three-lines", "one-line",
        "two-lines-22"])
def test_text_refuses_an_id_number_or_more_than_a_logo(boxes, refusal):
    assert _id(text_problem(boxes)) == refusal


# The face, from the boxes a detector gives -------------------------------------------------

@pytest.mark.parametrize("found, refusal", [
    ([(180, 250, 240, 240)], None),
    ([], NO_FACE),
    ([(40, 300, 230, 230), (330, 300, 230, 230)], MANY_FACES),
    ([(180, 250, 240, 240), (20, 700, 60, 60)], None),  # a small false find on the clothes
    ([(250, 300, 100, 100)], FACE_TOO_SMALL),  # 17 % of the width
    ([(30, 150, 540, 540)], FACE_TOO_LARGE),  # 90 %
    ([(20, 250, 240, 240)], FACE_OFF_CENTRE),  # centre at 23 % of the width
], ids=["one", "none", "two", "spurious", "small", "large", "off-centre"])
def test_face_rules(found, refusal):
    assert _id(face_problem(found, 600)) == refusal


# The face, found on generated photos --------------------------------------------------------

@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """The generated photos as stored files (module scope: one pytest-xdist worker loads OCR)."""
    folder = tmp_path_factory.mktemp("portraits")
    made = {"portrait": portrait_jpeg(), "light_blue": portrait_jpeg(background="light_blue",
                                                                     noise=6, quality=50),
            "group": group_jpeg(), "tiny_off_centre": portrait_jpeg(face_width=0.15, centre=0.25),
            "off_centre": portrait_jpeg(face_width=0.4, centre=0.25),
            "id_card": id_card_jpeg(), "document": document_jpeg()}
    for name, data in made.items():
        (folder / f"{name}.jpg").write_bytes(data)
    return {name: str(folder / f"{name}.jpg") for name in made}


@pytest.fixture
def no_text(monkeypatch):
    """OCR that finds nothing, for the face tests (the engine costs ~1 s a photo)."""
    monkeypatch.setattr(ocr, "read", lambda path: [])


@needs_faces
@pytest.mark.parametrize("name, refusal", [
    ("portrait", None),
    ("light_blue", None),
    ("group", MANY_FACES),
    ("tiny_off_centre", FACE_TOO_SMALL),
    ("off_centre", FACE_OFF_CENTRE),
    ("document", NO_FACE),
])
def test_the_face_check_on_photos(photos, no_text, name, refusal):
    assert _id(content_problem(photos[name])) == refusal


@needs_faces
def test_a_group_photo_names_the_number_of_faces(photos, no_text):
    assert content_problem(photos["group"]) == (MANY_FACES, {"n": 2})


def test_without_a_face_detector_only_text_is_checked(photos, no_text, monkeypatch):
    monkeypatch.setattr(portrait, "_cascades", lambda: ())
    assert portrait.face_check_available() is False
    assert content_problem(photos["group"]) is None


def test_opencv_4_ships_the_cascades_the_check_loads():
    """opencv-python-headless 4.x has cv2.data.haarcascades and CascadeClassifier; 5.x has
    neither, and then the face check is off rather than broken."""
    import cv2

    has_cascades = hasattr(cv2, "CascadeClassifier") and Path(
        getattr(cv2.data, "haarcascades", "") + portrait.CASCADES[0]).is_file()
    assert portrait.face_check_available() is has_cascades


# Printed text, read by the OCR engine (a few: ~1 s each) ------------------------------------

@pytest.mark.parametrize("name, refusal", [
    ("id_card", PRINTED_TEXT),  # 姓名 ... 公民身份号码 and an 18-digit number
    ("document", PRINTED_TEXT),  # a notice: eight lines, no number
    ("portrait", None),
])
def test_an_id_card_or_a_page_is_refused_for_its_text(photos, name, refusal):
    assert _id(content_problem(photos[name])) == refusal


def test_a_photo_without_text_reads_as_no_boxes_without_a_warning(tmp_path):
    """RapidOCR warns "The text detection result is empty" on a picture without text; for us
    that is an answer (every portrait), so the adapter keeps it out of the log."""
    import logging

    from PIL import Image

    blank = tmp_path / "blank.jpg"
    Image.new("RGB", (600, 800), "white").save(blank, "JPEG")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    engine_log = logging.getLogger("RapidOCR")
    engine_log.addHandler(handler)
    try:
        assert ocr.read(str(blank)) == []
    finally:
        engine_log.removeHandler(handler)
    assert [r.getMessage() for r in records if r.levelno >= logging.WARNING] == []


def test_every_refusal_has_a_chinese_message():
    with open(ROOT / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po", "rb") as f:
        zh = {m.id: m.string for m in read_po(f) if m.id}
    refusals = [NOT_UPRIGHT, BACKGROUND_NOT_PLAIN, BACKGROUND_NOT_LIGHT, PRINTED_TEXT, NO_FACE,
                MANY_FACES, FACE_TOO_SMALL, FACE_TOO_LARGE, FACE_OFF_CENTRE]
    assert {msgid: bool(zh.get(msgid)) for msgid in refusals} == dict.fromkeys(refusals, True)
    assert "一寸照片" in zh[PRINTED_TEXT] and "%(n)s" in zh[MANY_FACES]
