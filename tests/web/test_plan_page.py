"""The 报名 page of a plan with many trainees: the list comes a page at a time (100), the order
panel still speaks of all of them, and a change to a trainee's row goes back to the page that
lists that trainee. A roster may hold 20,000 rows; the page once listed them all (2 s and 10 MB
at 5,000)."""
import datetime as dt
import io
import re

import pytest
from sqlalchemy import event, select

from app import scope
from app.extensions import db
from app.services.enrolment import LISTED, PAGE_SIZE
from models.enrolment import Enrolment, PhotoCheck
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_user
from tests.images import plain_jpeg
from tests.order_factories import gen_trainees
from tests.rosters import row

NOW = dt.datetime(2026, 11, 28, 10, 0)
ROW = re.compile(r'<tr id="trainee-(\d+)"')


@pytest.fixture
def crowd(app, login_as):
    """An enterprise clerk signed in, and 250 of its trainees in a plan open for enrolment: the
    first 230 with both photos, the last 20 without."""
    app.config["CLOCK_FROZEN_AT"] = NOW
    plan = gen_plan(gen_institution("330100"), enrol_start=NOW - dt.timedelta(days=8),
                    enrol_end=NOW + dt.timedelta(days=12), quota=1000)
    enterprise = gen_enterprise("330100")
    trainees = gen_trainees(enterprise, plan, 230) + gen_trainees(enterprise, plan, 20,
                                                                  photos=False)
    client = app.test_client()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    return {"plan": plan, "enterprise": enterprise, "trainees": trainees, "client": client}


def _get(crowd, query: str = ""):
    return crowd["client"].get(f"/enrol/{crowd['plan'].id}/{query}")


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _listed(page: str) -> list[int]:
    return [int(found) for found in ROW.findall(page)]


def _ids(crowd, start: int, stop: int) -> list[int]:
    return [t.id for t in crowd["trainees"][start:stop]]


def test_the_trainees_come_a_hundred_at_a_time_and_the_heading_counts_them_all(crowd):
    first = _text(_get(crowd))
    assert _listed(first) == _ids(crowd, 0, PAGE_SIZE)
    assert "已报名学员 (250)" in first and "第 1 / 3 页" in first
    assert f'href="/enrol/{crowd["plan"].id}/?page=2" id="next-page"' in first
    last = _text(_get(crowd, "?page=3"))
    assert _listed(last) == _ids(crowd, 200, 250)
    assert f'href="/enrol/{crowd["plan"].id}/?page=2" id="previous-page"' in last
    assert 'id="next-page">' in last and "第 3 / 3 页" in last
    assert _listed(_text(_get(crowd, "?page=40"))) == _ids(crowd, 200, 250)  # past the last


@pytest.mark.parametrize("page", ["abc", "-1", "1.5", "\u0663", "\uff12", "9" * 12])
def test_a_page_number_that_is_not_one_is_refused(crowd, page):
    answer = _get(crowd, f"?page={page}")
    assert answer.status_code == 400
    assert 'id="trainees"' not in answer.get_data(as_text=True)


def test_the_order_panel_speaks_of_every_trainee_and_names_the_first_without_photos(crowd):
    page = _text(_get(crowd))
    fee = "%.2f" % crowd["plan"].fee
    assert f"250 名学员尚未生成订单：250 × {fee} 元" in page
    missing = re.search(r'(?s)<ul class="text-warning" id="missing-photos">(.*?)</ul>', page)[1]
    # the 20 without photos, each linked to the page that lists them (page 3)
    for trainee in crowd["trainees"][230:230 + LISTED]:
        assert f'?page=3#trainee-{trainee.id}">{trainee.person.name}</a>' in missing
    assert "共 20 名学员" not in missing  # all of them named: no "in all" line


def test_more_without_photos_than_are_named_are_counted(crowd):
    for trainee in crowd["trainees"][:10]:
        db.session.get(Enrolment, trainee.id).photo_key = None
    db.session.commit()
    missing = re.search(r'(?s)id="missing-photos">(.*?)</ul>', _text(_get(crowd)))[1]
    assert missing.count("<li>") == LISTED + 1
    assert "共 30 名学员" in missing
    first = crowd["trainees"][0]
    assert f'?page=1#trainee-{first.id}">{first.person.name}</a>' in missing


def test_checks_that_hold_the_order_are_named_with_their_page_and_counted(crowd):
    stamp = NOW - dt.timedelta(minutes=5)
    held = crowd["trainees"][100:100 + LISTED + 5]
    for trainee in held:
        db.session.add(PhotoCheck(enrolment_id=trainee.id, kind="id_photo",
                                  photo_key=trainee.id_photo_key, state="mismatch",
                                  differences="name", queued_at=stamp, checked_at=stamp))
    # a finding about a photo since replaced holds nothing
    replaced = crowd["trainees"][5]
    db.session.add(PhotoCheck(enrolment_id=replaced.id, kind="id_photo", photo_key="gone.jpg",
                              state="mismatch", differences="name", queued_at=stamp))
    db.session.commit()
    page = _text(_get(crowd))
    unsettled = re.search(r'(?s)id="unsettled-checks">(.*?)</ul>', page)[1]
    assert unsettled.count("<li>") == LISTED + 1 and "共 25 张照片" in unsettled
    assert f'?page=2#trainee-{held[0].id}">' in unsettled
    assert f"trainee-{replaced.id}" not in unsettled
    # their rows, on page 2, carry the decision
    assert page_rows_with_decisions(_text(_get(crowd, "?page=2"))) == [t.id for t in held]


def page_rows_with_decisions(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'id="check-(\d+)-id_photo"', page)]


def test_a_row_changed_on_page_two_goes_back_to_page_two(app, crowd):
    plan_id = crowd["plan"].id
    trainee = crowd["trainees"][150]
    answer = crowd["client"].post(
        f"/enrol/photo/{trainee.id}/photo",
        data={"file": (io.BytesIO(plain_jpeg(330, 440)), "p.jpg"), "plan_id": plan_id},
        content_type="multipart/form-data")
    assert answer.status_code == 302 and answer.location.endswith(f"/enrol/{plan_id}/?page=2")
    assert "照片已保存" in _text(crowd["client"].get(answer.location))

    edited = crowd["client"].post(f"/enrol/edit/{trainee.id}", data={
        "姓名": "王晓明", "性别": trainee.person.gender, "手机号码": "13900139000",
        "文化程度": "高中/中专/技校", "职称": "无"})
    assert edited.status_code == 302, edited.get_data(as_text=True)[-3000:]
    assert edited.location.endswith(f"/enrol/{plan_id}/?page=2")

    removed = crowd["client"].post(f"/enrol/remove/{crowd['trainees'][249].id}",
                                   data={"plan_id": plan_id})
    assert removed.location.endswith(f"/enrol/{plan_id}/?page=3")
    first = crowd["client"].post(f"/enrol/remove/{crowd['trainees'][0].id}",
                                 data={"plan_id": plan_id})
    assert first.location.endswith(f"/enrol/{plan_id}/")


def test_a_trainee_added_by_hand_is_shown_on_the_last_page(crowd):
    values = row(姓名="新来的")
    values.pop("序号")
    answer = crowd["client"].post(f"/enrol/{crowd['plan'].id}/add", data=values)
    assert answer.status_code == 302 and answer.location.endswith("/?page=3")
    added = db.session.scalars(select(Enrolment).order_by(Enrolment.id.desc())).first()
    assert added.person.name == "新来的"
    assert _listed(_text(crowd["client"].get(answer.location)))[-1] == added.id


def test_the_page_costs_the_same_statements_for_30_trainees_or_250(app, login_as, crowd):
    small = gen_enterprise("330100")  # 30 trainees, as the crowd: some without photos
    gen_trainees(small, crowd["plan"], 25)
    gen_trainees(small, crowd["plan"], 5, photos=False)
    client = app.test_client()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise_id=small.id))
    few = _statements(lambda: client.get(f"/enrol/{crowd['plan'].id}/"))
    many = _statements(lambda: _get(crowd))
    assert many == few, (few, many)


def _statements(call) -> int:
    call()  # the first request warms caches (permissions, dictionaries)
    seen = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert call().status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def test_the_poll_answers_for_its_page_and_the_current_round(crowd):
    plan_id = crowd["plan"].id
    stamp = NOW - dt.timedelta(minutes=1)
    on_page_two, on_page_three = crowd["trainees"][120], crowd["trainees"][210]
    old = crowd["trainees"][0]
    db.session.add_all([
        PhotoCheck(enrolment_id=old.id, kind="photo", photo_key=old.photo_key, state="passed",
                   queued_at=stamp - dt.timedelta(days=1)),
        PhotoCheck(enrolment_id=on_page_two.id, kind="photo", photo_key=on_page_two.photo_key,
                   state="queued", queued_at=stamp),
        PhotoCheck(enrolment_id=on_page_three.id, kind="photo", state="passed",
                   photo_key=on_page_three.photo_key, queued_at=stamp, checked_at=NOW)])
    db.session.commit()
    page = _text(_get(crowd))
    assert "已核对 1 / 2" in page  # the round: the two queued since `stamp`
    url = re.search(r'id="check-progress" data-url="([^"]+)"', page)[1].replace("&amp;", "&")
    answer = crowd["client"].get(url, headers={"Accept": "application/json"}).get_json()
    assert (answer["queued"], answer["total"]) == (1, 2)
    # page 1's own rows, and the round's checks wherever their trainees are listed
    assert set(answer["checks"]) == {f"{old.id}-photo", f"{on_page_two.id}-photo",
                                     f"{on_page_three.id}-photo"}
    plain = crowd["client"].get(f"/enrol/{plan_id}/checks?page=3",
                                headers={"Accept": "application/json"}).get_json()
    assert set(plain["checks"]) == {f"{on_page_three.id}-photo"}


@pytest.mark.parametrize("since", ["yesterday", "2026-13-01T00:00:00", "２026-11-28T10:00:00",
                                   "2026-11-28T10:00:00+08:00"])
def test_a_poll_with_a_since_that_is_not_a_time_is_refused(crowd, since):
    answer = crowd["client"].get(f"/enrol/{crowd['plan'].id}/checks",
                                 query_string={"since": since},
                                 headers={"Accept": "application/json"})
    assert answer.status_code == 400 and answer.get_json()["ok"] is False


@pytest.mark.parametrize("plan_id", ["\u0663", "9" * 20, "-1", ""])
def test_a_tampered_plan_field_goes_back_to_the_plan_list(crowd, plan_id):
    trainee = crowd["trainees"][150]
    before = trainee.photo_key
    answer = crowd["client"].post(
        f"/enrol/photo/{trainee.id}/photo",
        data={"file": (io.BytesIO(plain_jpeg(330, 440)), "p.jpg"), "plan_id": plan_id},
        content_type="multipart/form-data")
    assert answer.status_code == 302 and answer.location.endswith("/openplanview/list/")
    db.session.expire_all()
    assert db.session.get(Enrolment, trainee.id).photo_key != before  # the photo is saved
