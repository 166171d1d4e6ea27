"""Photos that prove the roster, through the pages: an uploaded ID-card front is read in a task
(huey runs it at the commit here) and compared with the trainee's row; the clerk settles a
difference on the 报名 page (fix the row, replace the photo, or confirm with a reason), the order
waits until then, and regulators and institutions see the outcome on the trainee's 详情.

The ID cards are generated photos (tests/id_card_corpus.py) read by the real OCR engine.
"""
import datetime as dt
import io
import json
import logging

import pytest
from sqlalchemy import select

from app import scope
from app.extensions import db
from app.integrations.storage import storage
from app.services import photo_checks
from models.audit import AuditLog
from models.enrolment import Enrolment, PhotoCheck
from models.orders import Order
from models.states import PhotoCheckState
from tests import id_card_corpus
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_regulator, gen_user
from tests.images import plain_jpeg
from tests.rosters import roster_bytes, row

pytestmark = pytest.mark.xdist_group("ocr")

# Fronts the engine reads whole (upright, modest photos: the corpus accuracy itself is measured
# in tests/unit/test_id_card_reading.py); the width keeps each read near half a second.
SEEDS = (0, 1, 2)
WIDTH = 1200


def _card(seed: int) -> id_card_corpus.Sample:
    found = id_card_corpus.sample(seed, width=WIDTH)
    assert found.rotation == 0 and "·" not in found.truth.name, "pick an upright seed"
    return found


def _open_plan(app):
    """A plan of a Hangzhou institution, open for enrolment at the frozen clock."""
    app.config["CLOCK_FROZEN_AT"] = dt.datetime(2026, 11, 28, 10, 0)
    return gen_plan(gen_institution("330100"), enrol_start=dt.datetime(2026, 11, 20),
                    enrol_end=dt.datetime(2026, 12, 10))


@pytest.fixture
def desk(app, login_as):
    """An enterprise clerk signed in, a plan open for enrolment, photo checks on."""
    app.config["PHOTO_CHECKS"] = True
    plan = _open_plan(app)
    institution = plan.institution
    enterprise = gen_enterprise("330100")
    client = app.test_client()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    return {"plan": plan, "client": client, "institution": institution,
            "enterprise": enterprise}


def _enrol(desk, name: str, number: str) -> Enrolment:
    answer = desk["client"].post(
        f"/enrol/{desk['plan'].id}/roster",
        data={"roster": (io.BytesIO(roster_bytes([row(姓名=name, 身份证号码=number)])), "r.xlsx")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "已成功报名" in answer.get_data(as_text=True)
    enrolment = db.session.scalars(select(Enrolment).join(Enrolment.person)
                                   .where(Enrolment.plan_id == desk["plan"].id)
                                   .order_by(Enrolment.id.desc())).first()
    assert enrolment.person.id_number == number
    return enrolment


def _with_portrait(enrolment: Enrolment) -> None:
    """A 1-inch photo put in place directly: these tests are about the ID card."""
    fresh = db.session.get(Enrolment, enrolment.id)
    fresh.photo_key = storage().save(plain_jpeg(330, 440), ".jpg")
    fresh.photo_thumb_key = storage().save(plain_jpeg(120, 160), ".jpg")
    db.session.commit()


def _upload_card(desk, enrolment: Enrolment, jpeg: bytes):
    return desk["client"].post(
        f"/enrol/photo/{enrolment.id}/id_photo",
        data={"file": (io.BytesIO(jpeg), "card.jpg"), "plan_id": desk["plan"].id},
        content_type="multipart/form-data", follow_redirects=True)


def _check(enrolment: Enrolment) -> PhotoCheck:
    db.session.expire_all()
    return db.session.scalars(select(PhotoCheck).where(PhotoCheck.enrolment_id == enrolment.id,
                                                       PhotoCheck.kind == "id_photo")).one()


def _order(desk):
    return desk["client"].post(f"/orders/create/{desk['plan'].id}", follow_redirects=True)


def _orders() -> int:
    db.session.expire_all()
    return len(db.session.scalars(select(Order)).all())


def _page(desk) -> str:
    return desk["client"].get(f"/enrol/{desk['plan'].id}/").get_data(as_text=True)


def test_a_card_that_matches_is_machine_checked_and_the_order_goes_ahead(desk):
    card = _card(SEEDS[0])
    trainee = _enrol(desk, card.truth.name, card.truth.number)
    _with_portrait(trainee)
    assert "照片已保存" in _upload_card(desk, trainee, card.jpeg).get_data(as_text=True)
    check = _check(trainee)
    assert check.state == PhotoCheckState.PASSED.value, check.differences
    assert photo_checks.reading_of(check)["number"] == card.truth.number
    assert "机器核对一致" in _page(desk)
    assert "名学员生成订单" in _order(desk).get_data(as_text=True)
    assert _orders() == 1


def test_the_clerk_fixes_a_wrong_character_in_the_name_and_then_orders(desk):
    card = _card(SEEDS[1])
    typed = id_card_corpus.mutate_name_char(card.truth.name, seed=1)
    trainee = _enrol(desk, typed, card.truth.number)
    _with_portrait(trainee)
    _upload_card(desk, trainee, card.jpeg)
    check = _check(trainee)
    assert check.state == PhotoCheckState.MISMATCH.value and check.difference_list == ["name"]

    page = _page(desk)
    assert "身份证照片与名单不一致：姓名" in page
    assert typed in page and card.truth.name in page  # the row beside what the card says
    refused = _order(desk).get_data(as_text=True)
    assert "照片还在核对中，或与名单不一致而尚未处理" in refused
    assert _orders() == 0

    answer = desk["client"].post(f"/enrol/edit/{trainee.id}", data={
        "姓名": card.truth.name, "性别": card.truth.gender, "手机号码": trainee.mobile,
        "文化程度": trainee.education.name, "职称": trainee.title.name}, follow_redirects=True)
    assert answer.status_code == 200
    assert _check(trainee).state == PhotoCheckState.PASSED.value
    assert "名学员生成订单" in _order(desk).get_data(as_text=True)


def test_a_swapped_digit_is_confirmed_with_a_reason_and_shown_to_regulators(desk, app, login_as):
    card = _card(SEEDS[2])
    typed = id_card_corpus.mutate_number_swap(card.truth.number, check_passes=True, seed=2)
    trainee = _enrol(desk, card.truth.name, typed)  # the roster's own check cannot see it
    _with_portrait(trainee)
    _upload_card(desk, trainee, card.jpeg)
    check = _check(trainee)
    assert check.state == PhotoCheckState.MISMATCH.value and "number" in check.difference_list

    # No reason: refused, nothing changes.
    answer = desk["client"].post(f"/enrol/check/{trainee.id}/confirm",
                                 data={"reason": "  ", "plan_id": desk["plan"].id},
                                 follow_redirects=True)
    assert "请说明名单无误的理由" in answer.get_data(as_text=True)
    assert _check(trainee).state == PhotoCheckState.MISMATCH.value

    reason = "证件为旧证，号码以公安系统为准"
    answer = desk["client"].post(f"/enrol/check/{trainee.id}/confirm",
                                 data={"reason": reason, "plan_id": desk["plan"].id},
                                 follow_redirects=True)
    assert "已确认" in answer.get_data(as_text=True)
    check = _check(trainee)
    assert (check.state, check.reason) == (PhotoCheckState.CONFIRMED.value, reason)
    entry = db.session.scalars(select(AuditLog).where(
        AuditLog.action == "photo.id_photo.confirm")).one()
    assert reason in entry.summary and typed not in entry.summary \
        and card.truth.number not in entry.summary  # fields named, values never
    assert "名学员生成订单" in _order(desk).get_data(as_text=True)

    for viewer in (gen_regulator("330100"),
                   gen_user(scope.INSTITUTION, institution_id=desk["institution"].id)):
        other = app.test_client()
        login_as(other, viewer)
        detail = other.get(f"/trainees/{trainee.id}").get_data(as_text=True)
        assert "企业已确认名单无误" in detail and reason in detail
        assert card.truth.number in detail  # what the card says, beside the row


def test_the_back_of_the_card_is_refused_and_taken_off_the_trainee(desk):
    back = id_card_corpus.back_sample(1, width=WIDTH)
    card = _card(SEEDS[0])
    trainee = _enrol(desk, card.truth.name, card.truth.number)
    _upload_card(desk, trainee, back.jpeg)
    check = _check(trainee)
    assert check.state == PhotoCheckState.REFUSED.value
    assert db.session.get(Enrolment, trainee.id).id_photo_key is None
    assert not storage().exists(check.photo_key)  # the refused file is gone
    assert "国徽面" in _page(desk)


def test_an_unreadable_photo_asks_for_a_clearer_one_and_holds_the_order(desk):
    card = _card(SEEDS[0])
    trainee = _enrol(desk, card.truth.name, card.truth.number)
    _with_portrait(trainee)
    _upload_card(desk, trainee, plain_jpeg(856, 540))
    assert _check(trainee).state == PhotoCheckState.UNREADABLE.value
    assert "请上传更清晰的身份证人像面照片" in _page(desk)
    _order(desk)
    assert _orders() == 0


def test_the_poll_names_states_only_and_another_enterprise_cannot_confirm(desk, app, login_as):
    card = _card(SEEDS[1])
    typed = id_card_corpus.mutate_name_char(card.truth.name, seed=3)
    trainee = _enrol(desk, typed, card.truth.number)
    _upload_card(desk, trainee, card.jpeg)
    answer = desk["client"].get(f"/enrol/{desk['plan'].id}/checks")
    found = answer.get_json()
    assert found["checks"][f"{trainee.id}-id_photo"]["state"] == "mismatch"
    body = json.dumps(found, ensure_ascii=False)
    assert card.truth.name not in body and card.truth.number not in body

    stranger = app.test_client()
    login_as(stranger, gen_user(scope.ENTERPRISE, enterprise_id=gen_enterprise("330100").id))
    assert stranger.post(f"/enrol/check/{trainee.id}/confirm",
                         data={"reason": "x"}).status_code in (302, 404)
    assert _check(trainee).state == PhotoCheckState.MISMATCH.value


def test_what_was_read_goes_with_the_enrolment_and_never_into_the_log(desk, caplog):
    card = _card(SEEDS[2])
    trainee = _enrol(desk, card.truth.name, card.truth.number)
    with caplog.at_level(logging.DEBUG):
        _upload_card(desk, trainee, card.jpeg)
    assert card.truth.number not in caplog.text and card.truth.name not in caplog.text
    assert _check(trainee).reading
    desk["client"].post(f"/enrol/remove/{trainee.id}", data={"plan_id": desk["plan"].id})
    db.session.expire_all()
    assert db.session.scalars(select(PhotoCheck)).all() == []


def test_a_result_for_a_photo_replaced_meanwhile_is_dropped(desk, app):
    card = _card(SEEDS[0])
    trainee = _enrol(desk, card.truth.name, card.truth.number)
    _upload_card(desk, trainee, card.jpeg)
    old = _check(trainee)
    target = photo_checks._Target(old.id, old.kind, old.photo_key)
    _upload_card(desk, trainee, plain_jpeg(856, 540))  # replaced: read as unreadable
    assert _check(trainee).state == PhotoCheckState.UNREADABLE.value
    # The first file's result arriving late changes nothing.
    db.session.scalars(select(PhotoCheck)).one().state = PhotoCheckState.QUEUED.value
    db.session.commit()
    assert photo_checks._settle_id_card(target, id_card_corpus_reading(card)) is None
    assert _check(trainee).state == PhotoCheckState.QUEUED.value


def id_card_corpus_reading(card):
    from app.services.id_card import FRONT, IdCardReading

    truth = card.truth
    return IdCardReading(side=FRONT, name=truth.name, number=truth.number, gender=truth.gender,
                         birth_date=truth.birth_date)


def _read_as(enrolment: Enrolment, **values) -> PhotoCheck:
    """A check of the trainee's stored ID photo settled with the given reading (no OCR)."""
    from app.services.id_card import FRONT, IdCardReading

    fresh = db.session.get(Enrolment, enrolment.id)
    fresh.id_photo_key = storage().save(plain_jpeg(856, 540), ".jpg")
    check = PhotoCheck(enrolment_id=fresh.id, kind="id_photo", photo_key=fresh.id_photo_key,
                       state=PhotoCheckState.QUEUED.value, queued_at=dt.datetime(2026, 11, 28))
    db.session.add(check)
    db.session.commit()
    person = fresh.person
    reading = {"side": FRONT, "name": person.name, "number": person.id_number,
               "gender": person.gender,
               "birth_date": person.birth_date, **values}
    photo_checks._settle_id_card(photo_checks._Target(check.id, "id_photo", check.photo_key),
                                 IdCardReading(**reading))
    return _check(enrolment)


def test_a_regulator_correcting_the_name_settles_the_mismatch(desk, app, login_as):
    trainee = _enrol(desk, "王小明", id_card_corpus.sample(7).truth.number)
    assert _read_as(trainee, name="王晓明").difference_list == ["name"]
    regulator = app.test_client()
    login_as(regulator, gen_regulator("330100"))
    regulator.post(f"/trainees/{trainee.id}/name", data={"name": "王晓明", "reason": "以身份证为准"})
    assert _check(trainee).state == PhotoCheckState.PASSED.value


def test_look_alike_code_points_and_spaces_are_no_difference(desk):
    trainee = _enrol(desk, "阿依·木拉提", id_card_corpus.sample(8).truth.number)
    # a Kangxi-radical 木 (U+2F4A), a katakana middle dot and a full-width space
    assert _read_as(trainee, name="阿依\u30fb\u2f4a拉\u3000提").state == PhotoCheckState.PASSED.value


def test_the_progress_counts_the_current_round_only(desk):
    t = dt.datetime(2026, 11, 28, 10)
    trainees = [_enrol(desk, name, id_card_corpus.sample(seed).truth.number)
                for name, seed in (("甲一", 20), ("乙二", 21))]
    rounds = [(trainees[0], "photo", "passed", t - dt.timedelta(days=1)),
              (trainees[0], "id_photo", "passed", t),
              (trainees[1], "photo", "queued", t),
              (trainees[1], "id_photo", "queued", t + dt.timedelta(seconds=1))]
    for trainee, kind, state, queued_at in rounds:
        db.session.add(PhotoCheck(enrolment_id=trainee.id, kind=kind, photo_key=f"k-{kind}",
                                  state=state, queued_at=queued_at))
    db.session.commit()
    live = Enrolment.live_in(desk["plan"].id, desk["enterprise"].id)
    assert photo_checks.round_progress(live) == (2, 3, t)
    assert "已核对 1 / 3" in _page(desk)
    for check in db.session.scalars(select(PhotoCheck).where(PhotoCheck.state == "queued")):
        check.state = "passed"
    db.session.commit()
    assert photo_checks.round_progress(live) == (0, 0, None)
    assert 'id="check-progress"' not in _page(desk)


def test_an_engine_failure_asks_again_instead_of_holding_the_order_forever(desk, monkeypatch):
    from app.services import id_card

    def broken(path):
        raise RuntimeError("onnxruntime: bad allocation")

    monkeypatch.setattr(id_card, "read_id_card", broken)
    card = _card(SEEDS[0])
    trainee = _enrol(desk, card.truth.name, card.truth.number)
    _upload_card(desk, trainee, card.jpeg)
    check = _check(trainee)
    assert check.state == PhotoCheckState.UNREADABLE.value
    assert "无法由系统核对" in _page(desk)
    desk["client"].post(f"/enrol/check/{trainee.id}/confirm",
                        data={"reason": "原件已核验", "plan_id": desk["plan"].id})
    assert _check(trainee).state == PhotoCheckState.CONFIRMED.value


def test_a_reason_too_long_is_refused_and_changes_nothing(desk):
    trainee = _enrol(desk, "王小明", id_card_corpus.sample(9).truth.number)
    _read_as(trainee, name="王晓明")
    answer = desk["client"].post(f"/enrol/check/{trainee.id}/confirm",
                                 data={"reason": "很" * 201, "plan_id": desk["plan"].id},
                                 follow_redirects=True)
    assert "原因不能超过 200 个字" in answer.get_data(as_text=True)
    assert _check(trainee).state == PhotoCheckState.MISMATCH.value


def _queued(enrolment: Enrolment, minutes_ago: int = 0) -> PhotoCheck:
    """A check waiting for its task (as while the consumer works, or after it was lost)."""
    fresh = db.session.get(Enrolment, enrolment.id)
    fresh.id_photo_key = storage().save(_card(SEEDS[0]).jpeg, ".jpg")
    check = PhotoCheck(enrolment_id=fresh.id, kind="id_photo", photo_key=fresh.id_photo_key,
                       state=PhotoCheckState.QUEUED.value,
                       queued_at=dt.datetime(2026, 11, 28, 10, 0) - dt.timedelta(minutes=minutes_ago))
    db.session.add(check)
    db.session.commit()
    return check


def test_an_order_waits_for_a_check_still_running_and_a_lost_one_is_queued_again(desk):
    card = _card(SEEDS[0])
    trainee = _enrol(desk, card.truth.name, card.truth.number)
    _with_portrait(trainee)
    _queued(trainee, minutes_ago=3)
    assert "照片还在核对中" in _order(desk).get_data(as_text=True)
    assert _orders() == 0
    assert photo_checks.requeue_stale() == 0  # three minutes: still the task's to run
    _check(trainee).queued_at = dt.datetime(2026, 11, 28, 9, 45)
    db.session.commit()
    assert photo_checks.requeue_stale() == 1  # lost: queued again (huey runs it at once here)
    assert _check(trainee).state == PhotoCheckState.PASSED.value  # read, and it matches
    assert "名学员生成订单" in _order(desk).get_data(as_text=True)


def test_a_check_about_a_photo_since_replaced_holds_no_order(desk, app):
    card = _card(SEEDS[0])
    trainee = _enrol(desk, card.truth.name, card.truth.number)
    _with_portrait(trainee)
    _queued(trainee)
    app.config["PHOTO_CHECKS"] = False  # switched off: the new photo queues no check
    desk["client"].post(f"/enrol/photo/{trainee.id}/id_photo",
                        data={"file": (io.BytesIO(plain_jpeg(856, 540)), "c.jpg"),
                              "plan_id": desk["plan"].id}, content_type="multipart/form-data")
    assert "名学员生成订单" in _order(desk).get_data(as_text=True)


def test_the_photos_of_a_trainee_in_an_order_cannot_be_replaced(desk):
    card = _card(SEEDS[0])
    trainee = _enrol(desk, card.truth.name, card.truth.number)
    _with_portrait(trainee)
    _read_as(trainee)
    assert "名学员生成订单" in _order(desk).get_data(as_text=True)
    before = db.session.get(Enrolment, trainee.id).id_photo_key
    page = _upload_card(desk, trainee, card.jpeg).get_data(as_text=True)
    assert "该学员已在订单中" in page
    db.session.expire_all()
    assert db.session.get(Enrolment, trainee.id).id_photo_key == before


def test_a_confirmation_covers_only_the_fields_it_confirmed(desk, app, login_as):
    number = id_card_corpus.sample(10).truth.number
    trainee = _enrol(desk, "王小明", number)
    other = id_card_corpus.mutate_number_swap(number, check_passes=True, seed=4)
    assert _read_as(trainee, number=other).difference_list[:1] == ["number"]
    desk["client"].post(f"/enrol/check/{trainee.id}/confirm",
                        data={"reason": "以公安系统为准", "plan_id": desk["plan"].id})
    assert _check(trainee).state == PhotoCheckState.CONFIRMED.value
    regulator = app.test_client()
    login_as(regulator, gen_regulator("330100"))
    regulator.post(f"/trainees/{trainee.id}/name", data={"name": "王晓明", "reason": "更正"})
    check = _check(trainee)  # the name now differs too: nobody confirmed that
    assert check.state == PhotoCheckState.MISMATCH.value and check.reason is None


def test_gender_or_birth_alone_is_a_misread_not_a_difference(desk):
    trainee = _enrol(desk, "王小明", id_card_corpus.sample(11).truth.number)
    check = _read_as(trainee, gender="女" if db.session.get(Enrolment, trainee.id).person.gender
                     == "男" else "男", birth_date=dt.date(1970, 1, 1))
    assert check.state == PhotoCheckState.PASSED.value
    assert set(check.difference_list) == {"gender", "birth_date"}


@pytest.mark.parametrize("reason, message", [
    ("号码应为330106199001011234", "理由中请不要填写身份证号码"),
])
def test_a_reason_with_an_id_number_is_refused(desk, reason, message):
    trainee = _enrol(desk, "王小明", id_card_corpus.sample(12).truth.number)
    _read_as(trainee, name="王晓明")
    page = desk["client"].post(f"/enrol/check/{trainee.id}/confirm",
                               data={"reason": reason, "plan_id": desk["plan"].id},
                               follow_redirects=True).get_data(as_text=True)
    assert message in page
    assert _check(trainee).state == PhotoCheckState.MISMATCH.value


def test_an_unreadable_card_asks_for_a_clearer_photo_and_cannot_be_confirmed(desk):
    trainee = _enrol(desk, "王小明", id_card_corpus.sample(13).truth.number)
    _upload_card(desk, trainee, plain_jpeg(856, 540))
    assert _check(trainee).state == PhotoCheckState.UNREADABLE.value
    assert "confirm-check" not in _page(desk)
    page = desk["client"].post(f"/enrol/check/{trainee.id}/confirm",
                               data={"reason": "原件已看过", "plan_id": desk["plan"].id},
                               follow_redirects=True).get_data(as_text=True)
    assert "该照片已没有需要确认的问题" in page
    assert _check(trainee).state == PhotoCheckState.UNREADABLE.value


def test_a_users_polls_are_bounded_and_the_page_asks_again_later(make_app, login_as):
    """Each poll reads every trainee's checks: a user gets CHECK_POLL_RATE_LIMIT of them, in
    JSON (the page waits and asks again on 429); the page itself and other users are not
    counted."""
    app = make_app(RATELIMIT_ENABLED=True, CHECK_POLL_RATE_LIMIT="3 per minute")
    with app.app_context():
        plan = _open_plan(app)
        clerks = []
        for _ in range(2):
            client = app.test_client()
            login_as(client, gen_user(scope.ENTERPRISE,
                                      enterprise_id=gen_enterprise("330100").id))
            clerks.append(client)
        first, second = clerks
        polls = [first.get(f"/enrol/{plan.id}/checks") for _ in range(4)]
        assert [p.status_code for p in polls] == [200, 200, 200, 429]
        assert polls[-1].get_json() == {"ok": False, "error": "尝试次数过多，请稍后再试。"}
        assert first.get(f"/enrol/{plan.id}/").status_code == 200  # the page is not limited
        assert second.get(f"/enrol/{plan.id}/checks").status_code == 200  # per user

