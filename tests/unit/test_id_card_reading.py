"""ID card photos (issue 20): the reader of the front and the back from OCR boxes, the
normalised name and number, the differences from a roster row, and the accuracy on generated
photos read by the real OCR engine."""
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.integrations.ocr import TextBox
from app.services.codes import id_check_digit
from app.services.id_card import (
    BACK,
    FRONT,
    UNKNOWN,
    IdCardReading,
    differences,
    normalise_name,
    normalise_number,
    parse_boxes,
)
from tests import id_card_corpus

ROOT = Path(__file__).resolve().parents[2]
FRONTS = 32  # photos read by the engine: about a second each on two cores
BACKS = 5
TEST_WIDTHS = (1000, 1200, 1280, 1400, 1600)
MUTATED = 10  # samples each roster mistake is tried on
REQUIRED_PASSING = 0.95  # correct pairs the comparison must pass


def _number(birth=dt.date(1990, 5, 12), area="330106", male=True, check=None) -> str:
    """A valid number; with `check`, one whose check character is that one."""
    for order in range(1 if male else 0, 1000, 2):
        body = f"{area}{birth:%Y%m%d}{order:03d}"
        if check is None or id_check_digit(body) == check:
            return body + id_check_digit(body)
    raise AssertionError("no such number")


def _box(text, x, y, height=30, score=0.99, width=None):
    return TextBox(text=text, x=x, y=y, height=height, right=x + (width or 30 * len(text)),
                   score=score)


def _front(name="张三", number=None, gender="男", birth="1990年5月12日"):
    """A front read with every label in its own box."""
    number = number or _number()
    return [_box("姓名", 50, 50), _box(name, 160, 52, height=34),
            _box("性别", 50, 110), _box(gender, 160, 110), _box("民族", 300, 110),
            _box("汉", 400, 110), _box("出生", 50, 170), _box(birth, 160, 171),
            _box("住址", 50, 230), _box("浙江省杭州市西湖区文三路", 160, 230),
            _box("100号", 160, 272),
            _box("公民身份号码", 50, 400), _box(number, 330, 401, height=34)]


def _roster(name="张三", number=None, gender="男", birth_date=dt.date(1990, 5, 12)) -> dict:
    return {"name": name, "number": number or _number(), "gender": gender,
            "birth_date": birth_date}


def test_a_front_with_labels_in_their_own_boxes_is_read():
    number = _number()
    reading = parse_boxes(_front(number=number))
    assert reading == IdCardReading(FRONT, "张三", number, "男", dt.date(1990, 5, 12))
    assert reading.readable()
    assert differences(reading, **_roster(number=number)) == []


def test_labels_joined_with_their_values_are_read():
    number = _number(male=False)
    boxes = [_box("姓名王小丽", 50, 50), _box("性别女民族汉", 50, 110),
             _box("出生1990年5月12日", 50, 170), _box("住址浙江省杭州市西湖区文三路", 50, 230),
             _box(f"公民身份号码{number}", 50, 400)]
    reading = parse_boxes(boxes)
    assert (reading.side, reading.name, reading.number, reading.gender, reading.birth_date) == (
        FRONT, "王小丽", number, "女", dt.date(1990, 5, 12))


def test_spaced_labels_and_a_number_split_with_spaces_are_read():
    """"姓 名" in two boxes, 年 月 日 in boxes of their own, the number in two boxes with a
    space inside one: the fields are still read whole."""
    number = _number()
    boxes = [_box("姓", 50, 50), _box("名", 110, 50), _box("欧阳 晓东", 160, 52),
             _box("性", 50, 110), _box("别", 110, 110), _box("男", 160, 110),
             _box("民", 300, 110), _box("族", 350, 110), _box("汉", 400, 110),
             _box("出", 50, 170), _box("生", 110, 170), _box("1990", 160, 170),
             _box("年", 290, 170), _box("5", 330, 170), _box("月", 370, 170),
             _box("12", 410, 170), _box("日", 470, 170),
             _box("公民身份号码", 50, 400), _box(number[:6] + " " + number[6:10], 330, 401),
             _box(number[10:], 660, 402)]
    reading = parse_boxes(boxes)
    assert (reading.name, reading.number, reading.gender, reading.birth_date) == (
        "欧阳晓东", number, "男", dt.date(1990, 5, 12))


@pytest.mark.parametrize("read_as", ["x", "×", "X", "Ｘ"])
def test_an_x_check_character_read_as_x_or_times_is_an_x(read_as):
    number = _number(check="X")
    reading = parse_boxes(_front(number=number[:17] + read_as))
    assert reading.number == number
    assert differences(reading, **_roster(number=number.lower())) == []


@pytest.mark.parametrize("printed", ["艾力·扎西", "艾力•扎西", "艾力・扎西", "艾力.扎西", "艾力 · 扎西"])
def test_a_minority_name_with_a_middle_dot_matches_whichever_dot_was_read(printed):
    reading = parse_boxes(_front(name=printed))
    assert reading.name == "艾力·扎西"
    assert differences(reading, **_roster(name="艾力・扎西")) == []
    assert differences(reading, **_roster(name="艾力扎西")) == ["name"]


def test_the_back_is_recognised_and_proves_nothing():
    boxes = [_box("中华人民共和国", 300, 60, height=50), _box("居民身份证", 260, 150, height=80),
             _box("签发机关", 100, 400), _box("杭州市公安局西湖分局", 260, 400),
             _box("有效期限", 100, 460), _box("2016.05.12-2036.05.12", 260, 460)]
    reading = parse_boxes(boxes)
    assert reading == IdCardReading(BACK, None, None, None, None)
    assert not reading.readable()
    assert differences(reading, **_roster()) == ["number", "name"]


def test_a_picture_of_something_else_is_unknown():
    reading = parse_boxes([_box("企业承诺书", 100, 50), _box("本企业承诺所提交的材料真实有效", 50, 150)])
    assert reading.side == UNKNOWN and not reading.readable()
    assert parse_boxes([]).side == UNKNOWN


def test_a_misread_number_is_kept_so_that_it_shows_as_a_difference():
    number = _number()
    misread = number[:17] + ("0" if number[17] != "0" else "1")
    reading = parse_boxes(_front(number=misread))
    assert reading.number == misread  # the check digit fails: still what the card showed
    assert differences(reading, **_roster(number=number)) == ["number"]


@pytest.mark.parametrize("printed", [
    "٣٣٠١٠٦١٩٩٠٠٥١٢٠٠١٥",  # Arabic-Indic digits: not ASCII digits, never a number
    "33010619900512001",  # 17 characters
    "3301061990051200151",  # 19
])
def test_only_eighteen_ascii_characters_make_a_number(printed):
    reading = parse_boxes(_front(number=printed))
    assert reading.number is None and reading.name == "张三"
    assert not reading.readable()
    assert differences(reading, **_roster()) == ["number"]


def test_full_width_digits_are_ascii_digits():
    number = _number()
    wide = "".join(chr(ord(c) + 0xFEE0) for c in number)
    assert parse_boxes(_front(number=wide)).number == number


def test_labels_the_recogniser_missed_do_not_lose_the_fields():
    """"出" and the whole 姓名 label missed: the name is the row above 性别, the date is found by
    its 年 月 日."""
    number = _number()
    boxes = [box for box in _front(number=number) if box.text not in ("姓名", "出生")]
    boxes.append(_box("生", 110, 170))
    reading = parse_boxes(boxes)
    assert (reading.name, reading.birth_date) == ("张三", dt.date(1990, 5, 12))


def test_an_impossible_date_or_an_unclear_gender_is_left_unread():
    reading = parse_boxes(_front(gender="", birth="1990年13月12日"))
    assert reading.gender is None and reading.birth_date is None
    assert differences(reading, **_roster(gender="女", birth_date=dt.date(1991, 1, 1))) == []


def test_differences_are_listed_in_order_and_name_the_fields_that_differ():
    number = _number()
    reading = parse_boxes(_front(number=number))
    assert differences(reading, **_roster(number=number)) == []
    assert differences(reading, name="张山", number=_number(area="330102"), gender="女",
                       birth_date=dt.date(1990, 5, 21)) == ["number", "name", "gender",
                                                            "birth_date"]
    assert differences(reading, **_roster(number=number, gender="女")) == ["gender"]
    assert differences(reading, **_roster(number=number, name="张 三")) == []
    assert differences(reading, **_roster(number=" " + number[:9] + " " + number[9:])) == []


def test_normalise_name_folds_code_points_but_not_characters():
    assert normalise_name("\u3000王\u3000 小明 ") == "王小明"
    for dot in "·•・‧⋅･.":
        assert normalise_name(f"买买提{dot}艾力") == "买买提·艾力"
    assert normalise_name("\u2f08\u2f1d") == "人口"  # Kangxi radicals ⼈⼝
    assert normalise_name("\uf900") == "豈"  # a CJK compatibility ideograph
    assert normalise_name("\u2ee2小\u2ef0") == "马小龙"  # radicals NFKC leaves alone: ⻢ ⻰
    assert normalise_name("王芳") != normalise_name("玉芳")  # different characters stay different
    assert normalise_name("张伟") != normalise_name("章伟")


def test_normalise_number_takes_full_width_digits_spaces_and_a_small_x():
    assert normalise_number("３３０１０６ 1990\u30000512 123x") == "33010619900512123X"
    assert normalise_number("٣٣٠") == "٣٣٠"  # left for the [0-9] pattern to refuse


def test_a_reading_survives_json_and_keeps_personal_data_out_of_its_repr():
    number = _number()
    reading = parse_boxes(_front(number=number))
    stored = json.loads(json.dumps(reading.as_dict()))
    assert stored["birth_date"] == "1990-05-12"
    assert IdCardReading.from_dict(stored) == reading
    assert IdCardReading.from_dict({}) == IdCardReading(UNKNOWN, None, None, None, None)
    assert number not in repr(reading) and "张三" not in repr(reading)


def test_reading_module_loads_no_ocr_engine():
    """Web workers import the reader to compare stored readings: no onnxruntime, no OpenCV."""
    code = ("import sys, app.services.id_card; "
            "print(sorted(m for m in ('rapidocr', 'onnxruntime', 'cv2') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- the corpus itself ---------------------------------------------------------------------

def test_the_corpus_truth_is_a_valid_consistent_card():
    from app.services.codes import id_birth_date, id_gender
    from app.services.roster import check_id_number

    for seed in range(60):
        truth = id_card_corpus.person(seed)
        assert check_id_number(truth.number) is None
        assert id_birth_date(truth.number) == truth.birth_date
        assert truth.gender == ("男" if id_gender(truth.number) == "male" else "女")
    again = id_card_corpus.sample(3, width=1000)
    assert again.truth == id_card_corpus.person(3)
    assert again.jpeg == id_card_corpus.sample(3, width=1000).jpeg  # from the seed alone
    missing = id_card_corpus._font(("/usr/share/fonts/none.ttc", 1), 20)  # a font not installed
    assert missing.getname()[0] == "WenQuanYi Micro Hei"


def test_the_roster_mistakes_are_what_they_claim():
    from app.services.roster import check_id_number

    for seed in range(30):
        truth = id_card_corpus.person(seed)
        number = truth.number
        for passes in (True, False):
            swapped = id_card_corpus.mutate_number_swap(number, check_passes=passes, seed=seed)
            changed = [i for i in range(17) if swapped[i] != number[i]]
            assert len(changed) == 2 and changed[1] == changed[0] + 1
            assert swapped[changed[0]] == number[changed[1]]
            assert (check_id_number(swapped) is None) is passes
        wrong = id_card_corpus.mutate_name_char(truth.name, seed=seed)
        assert len(wrong) == len(truth.name)
        assert normalise_name(wrong) != normalise_name(truth.name)


# --- generated photos read by the engine ---------------------------------------------------

@pytest.fixture(scope="module")
def readings(tmp_path_factory):
    """The generated photos read once (the engine loads once for the module)."""
    from app.services.id_card import read_id_card

    folder = tmp_path_factory.mktemp("id_cards")
    fronts, backs = [], []
    for seed in range(FRONTS):
        sample = id_card_corpus.sample(seed, width=TEST_WIDTHS[seed % len(TEST_WIDTHS)])
        path = folder / f"front-{seed}.jpg"
        path.write_bytes(sample.jpeg)
        fronts.append((sample, read_id_card(str(path))))
    for seed in range(BACKS):
        sample = id_card_corpus.back_sample(seed, width=TEST_WIDTHS[seed % len(TEST_WIDTHS)])
        path = folder / f"back-{seed}.jpg"
        path.write_bytes(sample.jpeg)
        backs.append((sample, read_id_card(str(path))))
    return fronts, backs


def test_the_photos_vary_as_phones_take_them(readings):
    fronts, _ = readings
    assert {sample.rotation for sample, _ in fronts} >= {0, 90, 180, 270}
    assert any("·" in sample.truth.name for sample, _ in fronts)
    assert {len(sample.truth.name) for sample, _ in fronts} >= {2, 3, 4}
    assert any(sample.notes["spaced_labels"] for sample, _ in fronts)


def test_a_card_that_matches_its_roster_row_passes(readings):
    fronts, _ = readings
    failing = [(sample.seed, differences(reading, **sample.truth.roster()))
               for sample, reading in fronts
               if differences(reading, **sample.truth.roster())]
    passing = 1 - len(failing) / len(fronts)
    print(f"correct pairs passing: {passing:.1%} of {len(fronts)}")
    assert passing >= REQUIRED_PASSING, failing
    assert all(reading.side == FRONT for _, reading in fronts)


def test_a_number_read_is_the_number_printed(readings):
    fronts, _ = readings
    read = [(sample, reading) for sample, reading in fronts if reading.number]
    assert len(read) >= REQUIRED_PASSING * len(fronts)
    assert [sample.seed for sample, reading in read if reading.number != sample.truth.number] == []


@pytest.mark.parametrize("check_passes", [True, False])
def test_a_roster_number_with_two_digits_swapped_is_found(readings, check_passes):
    fronts, _ = readings
    for sample, reading in fronts[:MUTATED]:
        wrong = id_card_corpus.mutate_number_swap(sample.truth.number, check_passes=check_passes,
                                                  seed=sample.seed)
        found = differences(reading, **{**sample.truth.roster(), "number": wrong})
        assert "number" in found, sample.seed


def test_a_roster_name_with_a_wrong_character_is_found(readings):
    fronts, _ = readings
    for sample, reading in fronts[:MUTATED]:
        wrong = id_card_corpus.mutate_name_char(sample.truth.name, seed=sample.seed)
        found = differences(reading, **{**sample.truth.roster(), "name": wrong})
        assert "name" in found, sample.seed


def test_the_back_of_a_card_is_recognised(readings):
    _, backs = readings
    assert [reading.side for _, reading in backs] == [BACK] * len(backs)
    assert not any(reading.readable() for _, reading in backs)
