"""报名人员查询: search keys, filters, the four progress columns in every combination of
states, paging and sorting, the detail page's sections, and who may see what."""
import datetime as dt
import itertools
from decimal import Decimal

import pytest
from sqlalchemy import select

from app import scope
from app.extensions import db
from app.services import trainees
from app.services.trainees import Search
from models.assessment import Score, ScoreReport
from models.enrolment import Enrolment, Person
from models.reference import Occupation
from tests.assessment_factories import (
    gen_assessment,
    gen_certificate,
    gen_finished_plan,
    gen_paid_trainees,
)
from tests.factories import (
    dictionary_value,
    gen_enterprise,
    gen_institution,
    gen_plan,
    gen_regulator,
    gen_user,
)
from tests.helpers import path, visible_text
from tests.order_factories import gen_trainees

T0 = dt.datetime(2026, 11, 28, 10, 0)


@pytest.fixture
def world(app):
    app.config["CLOCK_FROZEN_AT"] = T0
    enterprise = gen_enterprise("330100")
    plan = gen_plan(gen_institution("330100"))
    people = gen_trainees(enterprise, plan, 3)
    for enrolment, (name, number, mobile) in zip(people, [
            ("张三", "330106199001011234", "13912345678"),
            ("张三丰", "330106199202024321", "13912340000"),
            ("李四", "330203198803035678", "13800001111")]):
        from app.services.codes import id_check_digit

        enrolment.person.name = name
        enrolment.person.id_number = number[:17] + id_check_digit(number[:17])
        enrolment.mobile = mobile
    db.session.commit()
    user = gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id)
    return {"enterprise": enterprise, "plan": plan, "people": people, "user": user}


def _names(query: Search, user) -> list[str]:
    return sorted(r.person.name for r in trainees.search(query, user).rows)


def test_search_by_each_key_exact_or_prefix(world):
    user, people = world["user"], world["people"]
    full_id = people[0].person.id_number
    assert _names(Search(q=full_id), user) == ["张三"]
    assert _names(Search(q=full_id[:10]), user) == ["张三"]
    assert _names(Search(q="330106"), user) == ["张三", "张三丰"]
    assert _names(Search(q="张三"), user) == ["张三", "张三丰"]  # exact or prefix
    assert _names(Search(q="张三丰"), user) == ["张三丰"]
    assert _names(Search(q="13912345678"), user) == ["张三"]
    assert _names(Search(q="1391234"), user) == ["张三", "张三丰"]
    assert _names(Search(q="138"), user) == ["李四"]
    assert _names(Search(q="王"), user) == []
    assert _names(Search(q=full_id.lower()), user) == ["张三"]  # an x check digit, typed small
    people[2].person.name = "张三\U00020000"  # a rare character outside the basic plane
    db.session.commit()
    assert _names(Search(q="张三"), user) == sorted(["张三", "张三\U00020000", "张三丰"])


def test_only_the_users_scope_is_searched(world):
    other = gen_enterprise("330200")
    gen_trainees(other, gen_plan(gen_institution("330200")), 2)
    assert len(_names(Search(), world["user"])) == 3
    assert len(_names(Search(), gen_regulator("330100"))) == 3
    assert len(_names(Search(), gen_regulator("330200"))) == 2
    assert len(_names(Search(), gen_regulator("330000", scope.PROVINCE_REGULATOR))) == 5
    someone = gen_user(scope.ENTERPRISE, enterprise_id=other.id)
    assert len(_names(Search(q="张三"), someone)) == 0


ASSESSMENTS = [None, "draft", "reported", "approved", "rejected"]
SCORES = [None, "accepted", "approved", "rejected"]
CERTIFICATES = [None, "generated", "pushed"]


def test_the_four_progress_columns_in_every_combination(app):
    app.config["CLOCK_FROZEN_AT"] = T0
    institution = gen_institution("330100")
    user = gen_regulator("330100")
    expected = {}
    for assessment_state, score_state, certificate_state in itertools.product(
            ASSESSMENTS, SCORES, CERTIFICATES):
        plan = gen_finished_plan(institution)
        enrolment = gen_paid_trainees(plan, 1)[0]
        if assessment_state:
            assessment = gen_assessment(plan, state=assessment_state)
            if score_state:
                report = ScoreReport(assessment_id=assessment.id, state=score_state,
                                     imported_at=T0)
                report.scores = [Score(enrolment_id=enrolment.id, theory=Decimal(80),
                                       practical=Decimal(80), passed=True)]
                db.session.add(report)
                db.session.commit()
        if certificate_state:
            gen_certificate(enrolment, state=certificate_state)
        expected[enrolment.id] = (
            assessment_state or "draft",
            (score_state if assessment_state else None) or "not_reported",
            certificate_state or "not_generated")
    # Other phases: enrolling, enrolment closed.
    enrolling = gen_trainees(gen_enterprise(), gen_plan(institution), 1)[0]
    closed_plan = gen_plan(institution, enrol_start=T0 - dt.timedelta(days=20),
                           enrol_end=T0 - dt.timedelta(days=1),
                           train_start=T0.date(), train_end=T0.date() + dt.timedelta(days=5))
    closed = gen_trainees(gen_enterprise(), closed_plan, 1)[0]

    page = trainees.search(Search(), user, per_page=1000)
    rows = page.rows
    assert page.total == len(expected) + 2
    seen = {r.enrolment.id: r for r in rows}
    for enrolment_id, (assessment_state, score_state, certificate_state) in expected.items():
        row = seen[enrolment_id]
        assert row.phase.value == "training_ended"
        assert (row.assessment.value, row.score.value, row.certificate.value) == (
            assessment_state, score_state, certificate_state)
    assert seen[enrolling.id].phase.value == "enrolling"
    assert seen[closed.id].phase.value == "enrolment_closed"

    # Each filter returns exactly the rows in that state.
    for name, position, states in (("assessment", 0, ASSESSMENTS), ("score", 1, SCORES),
                                   ("certificate", 2, CERTIFICATES)):
        for state in {s or d for s in states
                      for d in ("draft", "not_reported", "not_generated")[position:position + 1]}:
            found = trainees.search(Search(**{name: state}), user, per_page=1000).rows
            want = {i for i, e in expected.items() if e[position] == state}
            if state in ("draft", "not_reported", "not_generated"):
                want |= {enrolling.id, closed.id}
            assert {r.enrolment.id for r in found} == want, (name, state)
    for phase, ids in (("enrolling", {enrolling.id}), ("enrolment_closed", {closed.id}),
                       ("training_ended", set(expected))):
        found = trainees.search(Search(phase=phase), user, per_page=1000).rows
        assert {r.enrolment.id for r in found} == ids


def test_filters_by_plan_occupation_and_year_and_pages_sorted(app, world):
    plan, user = world["plan"], world["user"]
    mason = dictionary_value(Occupation, "砌筑工")
    other_plan = gen_plan(gen_institution(), occupation_id=mason.id,
                          train_start=dt.date(2025, 3, 1), train_end=dt.date(2025, 3, 20),
                          enrol_start=dt.datetime(2025, 1, 1), enrol_end=dt.datetime(2025, 2, 1))
    gen_trainees(world["enterprise"], other_plan, 25)
    assert len(_names(Search(plan_id=plan.id), user)) == 3
    assert trainees.search(Search(occupation_id=mason.id), user).total == 25
    assert trainees.search(Search(year=2025), user).total == 25
    assert trainees.search(Search(year=T0.year), user).total == 3
    by_name = Search(sort="name", desc=False)
    page = trainees.search(by_name, user)
    first, total = page.rows, page.total
    second = trainees.search(by_name, user, page.next).rows
    assert total == 28 and len(first) == 20 and len(second) == 8
    names = [r.person.name for r in first + second]
    assert names == sorted(names)
    assert not {r.enrolment.id for r in first} & {r.enrolment.id for r in second}


def test_the_search_page_shows_rows_with_labels_whole_to_the_owner_masked_to_authorities(
        app, world, login_as):
    client = app.test_client()
    login_as(client, world["user"])
    page = client.get(path("TraineeView.search", q="张三")).get_data(as_text=True)
    text = visible_text(page)
    number = world["people"][0].person.id_number
    assert "张三丰" in text and "李四" not in text and "找到 2 名学员" in text
    assert number in text and "13912345678" in text  # the enterprise's own trainees
    assert "报名中" in text and "未上报" in text and "证书未生成" in text
    assert 'class="label label-primary"' in page

    regulator = app.test_client()
    login_as(regulator, gen_regulator("330100"))
    text = visible_text(regulator.get(path("TraineeView.search", q="张三")).get_data(as_text=True))
    assert number not in text and number[:4] + "**********" + number[-4:] in text
    assert "139****5678" in text and "13912345678" not in text


def test_the_detail_page_sections_and_access(app, world, login_as):
    from app.services import orders

    enterprise, plan = world["enterprise"], world["plan"]
    enrolment = world["people"][0]
    orders.create_order(plan.id, world["user"])
    owner = app.test_client()
    login_as(owner, world["user"])
    page = visible_text(owner.get(path("TraineeView.detail", enrolment_id=enrolment.id))
                        .get_data(as_text=True))
    for section in ("申报信息", "培训信息", "考核信息", "证书信息"):
        assert section in page
    person = db.session.get(Person, enrolment.person_id)
    assert person.id_number in page and "待支付" in page and "订单已生成" in page
    assert enterprise.name in page

    stranger = app.test_client()
    login_as(stranger, gen_user(scope.ENTERPRISE, enterprise_id=gen_enterprise().id))
    assert stranger.get(path("TraineeView.detail", enrolment_id=enrolment.id)).status_code == 404
    ningbo = app.test_client()
    login_as(ningbo, gen_regulator("330200"))
    assert ningbo.get(path("TraineeView.detail", enrolment_id=enrolment.id)).status_code == 404
    hangzhou = app.test_client()
    login_as(hangzhou, gen_regulator("330100"))
    assert person.id_number in hangzhou.get(path("TraineeView.detail",
                                                 enrolment_id=enrolment.id)).get_data(
        as_text=True)
    institution = app.test_client()
    login_as(institution, gen_user(scope.INSTITUTION, institution_id=plan.institution_id))
    seen = institution.get(path("TraineeView.detail", enrolment_id=enrolment.id)).get_data(
        as_text=True)
    assert person.name in seen and person.id_number in seen  # the plan's institution: whole


# Paging: keyset cursors and a capped total ---------------------------------------------------

def _page(client, url: str):
    """(enrolment ids in page order, next link, previous link, visible text) of a search page."""
    import html
    import re

    response = client.get(url)
    assert response.status_code == 200, url
    page = response.get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'href="/trainees/(\d+)"', page)]
    links = {}
    for name in ("next", "previous"):
        found = re.search(rf'<a href="([^"]+)" id="{name}-page">', page)
        links[name] = html.unescape(found.group(1)) if found else None
    return ids, links["next"], links["previous"], visible_text(page)


# "" is the default order: for a name typed, by name (the name index's order), whatever desc.
@pytest.mark.parametrize("sort, desc", [("enrolled", "1"), ("name", "0"), ("", "1")])
def test_paging_forward_and_back_gives_every_match_once_in_order_within_scope(
        app, login_as, sort, desc):
    app.config["CLOCK_FROZEN_AT"] = T0
    mine, other = gen_enterprise("330100"), gen_enterprise("330100")
    plan = gen_plan(gen_institution("330100"))
    ours = gen_trainees(mine, plan, 47)
    theirs = gen_trainees(other, plan, 30)  # same plan, same city: only scope tells them apart
    for k, enrolment in enumerate(ours + theirs):
        # Ties in both orders (same enrolment time, same name) that only the id breaks.
        enrolment.created_at = T0 - dt.timedelta(minutes=k // 3)
        enrolment.person.name = f"王{(k * 7) % 13:02d}"
    db.session.commit()
    key = (lambda e: (e.created_at, e.id)) if sort == "enrolled" else (
        lambda e: (e.person.name, e.id))
    expected = [e.id for e in sorted(ours, key=key, reverse=desc == "1" and sort != "")]
    client = app.test_client()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise_id=mine.id))

    url, pages = path("TraineeView.search", q="王", sort=sort, desc=desc), []
    while url:
        ids, url, previous, text = _page(client, url)
        assert (previous is None) == (not pages)
        assert f"第 {len(pages) + 1} 页" in text and "找到 47 名学员" in text
        pages.append(ids)
    assert [len(ids) for ids in pages] == [20, 20, 7]
    assert [i for ids in pages for i in ids] == expected  # each once, in order
    assert not {i for ids in pages for i in ids} & {e.id for e in theirs}

    # And back from the last page to the first, the same pages.
    ids, _next, url, _text = _page(client, path("TraineeView.search", q="王", sort=sort,
                                                   desc=desc, cursor=_cursor_to_last(
                                                       client, sort, desc)))
    back = [ids]
    while url:
        ids, _next, url, _text = _page(client, url)
        back.append(ids)
    assert back[::-1] == pages


def _cursor_to_last(client, sort, desc) -> str:
    from urllib.parse import parse_qs, urlsplit

    url, cursor = path("TraineeView.search", q="王", sort=sort, desc=desc), None
    while url:
        _ids, url, _previous, _text = _page(client, url)
        if url:
            cursor = parse_qs(urlsplit(url).query)["cursor"][0]
    return cursor


def _equal_names(app):
    """Twelve people named 王五 (the last two 王五一), each enrolled twice by one enterprise:
    in one plan in person order, in another in reverse, so that a person's two enrolments are
    not adjacent in enrolment id order; and three more 王五 of another enterprise."""
    app.config["CLOCK_FROZEN_AT"] = T0
    mine = gen_enterprise("330100")
    first, second = gen_plan(gen_institution("330100")), gen_plan(gen_institution("330100"))
    ours = gen_trainees(mine, first, 12)
    for k, enrolment in enumerate(ours):
        enrolment.person.name = "王五一" if k >= 10 else "王五"
    for enrolment in reversed(ours):
        db.session.add(Enrolment(
            person=enrolment.person, plan_id=second.id, enterprise_id=mine.id,
            occupation_id=second.occupation_id, level_id=second.level_id, mobile="13800138000",
            education_id=1, title_id=1, status="live", created_at=T0))
    for enrolment in gen_trainees(gen_enterprise("330100"), first, 3):
        enrolment.person.name = "王五"
    db.session.commit()
    user = gen_user(scope.ENTERPRISE, enterprise_id=mine.id)
    found = db.session.scalars(select(Enrolment).where(Enrolment.enterprise_id == mine.id)).all()
    expected = [e.id for e in sorted(found, key=lambda e: (e.person.name, e.person_id, e.id))]
    return user, expected


# A name typed (pages read off the name index) or a mobile prefix (its matches sorted whole).
@pytest.mark.parametrize("q", ["王五", "1380013"])
@pytest.mark.parametrize("desc", [False, True])
def test_pages_by_name_break_inside_a_run_of_equal_names_without_losing_a_row(app, desc, q):
    """By name, equal names follow the person's id, then the enrolment id: pages of 5 end
    inside runs of 王五 and between a person's two enrolments, forward and back."""
    user, expected = _equal_names(app)
    if desc:
        expected = expected[::-1]
    query = Search(q=q, sort="name", desc=desc)
    pages, cursor = [], ""
    while True:
        page = trainees.search(query, user, cursor, per_page=5)
        assert (page.total, page.capped, page.number) == (24, False, len(pages) + 1)
        pages.append([r.enrolment.id for r in page.rows])
        if not page.next:
            break
        cursor = page.next
    assert [len(ids) for ids in pages] == [5, 5, 5, 5, 4]
    assert [i for ids in pages for i in ids] == expected
    # Back from the last page: the same pages, and no previous link on the first.
    back, cursor = [pages[-1]], page.previous
    while cursor:
        page = trainees.search(query, user, cursor, per_page=5)
        back.append([r.enrolment.id for r in page.rows])
        cursor = page.previous
    assert back[::-1] == pages and page.number == 1


def test_the_default_name_order_pages_through_the_view_by_person(app, login_as):
    user, expected = _equal_names(app)
    client = app.test_client()
    login_as(client, user)
    first, url, _previous, _text = _page(client, path("TraineeView.search", q="王五"))
    second, after, previous, text = _page(client, url)
    assert first + second == expected and after is None and "找到 24 名学员" in text
    assert _page(client, previous)[0] == first


def test_a_name_cursor_needs_its_person_id(app, login_as):
    """A name order's cursor carries [name, person id]: one of another shape is refused even
    when signed with the server's key (as a cursor written before person ids were in it)."""
    user, expected = _equal_names(app)
    client = app.test_client()
    login_as(client, user)
    _ids, url, _previous, _text = _page(client, path("TraineeView.search", q="王五"))
    from urllib.parse import parse_qs, urlsplit

    cursor = parse_qs(urlsplit(url).query)["cursor"][0]
    sort, desc, key, last_id, forward, number = trainees._serializer().loads(cursor)
    assert (sort, desc, forward, number) == ("name", 0, 1, 2) and key[0] == "王五"
    row = db.session.get(Enrolment, last_id)
    assert key[1] == row.person_id and expected.index(last_id) == 19

    def signed(key_value, sort="name", desc=0):
        return trainees._serializer().dumps([sort, desc, key_value, last_id, 1, 2])

    assert signed(key) == cursor
    for bad in ("王五", ["王五"], ["王五", str(key[1])], ["王五", 0], ["王五", 2**31],
                ["王五", True], ["王五", key[1], key[1]], [key[1], key[1]], ["王" * 33, key[1]],
                [None, key[1]], {"name": "王五"}):
        _starts_again(client, path("TraineeView.search", q="王五", cursor=signed(bad)),
                      path("TraineeView.search", q="王五"))
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    assert client.get(path("TraineeView.search", q="王五", cursor=flipped)).status_code == 400
    # Another order's key is a value alone, not a list.
    enrolled = ["2026-11-28T10:00:00", key[1]]
    _starts_again(client, path("TraineeView.search", q="王五", sort="enrolled", cursor=signed(
        enrolled, "enrolled", 1)), path("TraineeView.search", q="王五", sort="enrolled"))
    assert client.get(path("TraineeView.search", q="王五", sort="enrolled", cursor=signed(
        enrolled[0], "enrolled", 1))).status_code == 200


def test_a_city_regulator_pages_through_its_city_only(app, login_as):
    app.config["CLOCK_FROZEN_AT"] = T0
    hangzhou = gen_trainees(gen_enterprise("330100"), gen_plan(gen_institution("330100")), 25)
    ningbo = gen_trainees(gen_enterprise("330100"), gen_plan(gen_institution("330200")), 25)
    client = app.test_client()
    login_as(client, gen_regulator("330100"))
    seen, url = [], path("TraineeView.search")
    while url:
        ids, url, _previous, _text = _page(client, url)
        seen += ids
    assert sorted(seen) == sorted(e.id for e in hangzhou)
    assert not set(seen) & {e.id for e in ningbo}


def test_the_total_is_counted_up_to_the_cap(app, world, login_as, monkeypatch):
    monkeypatch.setattr(trainees, "COUNT_CAP", 5)
    client = app.test_client()
    login_as(client, world["user"])

    def shown():
        text = _page(client, path("TraineeView.search"))[3]
        return text[text.index("找到"):].split("名学员")[0].strip()

    gen_trainees(world["enterprise"], world["plan"], 2)
    assert shown() == "找到 5"  # exactly the cap: the number
    gen_trainees(world["enterprise"], world["plan"], 1)
    assert shown() == "找到 5+"
    page = client.get(path("TraineeView.search")).get_data(as_text=True)
    assert "导出 (5+)" in visible_text(page)
    found = trainees.search(Search(), world["user"])
    assert (found.total, found.capped, found.total_text) == (5, True, "5+")
    assert len(found.rows) == 6  # the page itself is not capped
    # The export of a capped search still has every match.
    import io

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(client.post(path("TraineeView.export"), data={}).data))
    assert sheet.active.max_row == 1 + 6


def _starts_again(client, url: str, first_page: str) -> None:
    """A cursor this server signed that no longer fits: back to page 1 of the same search,
    saying so."""
    response = client.get(url)
    assert response.status_code == 302, url
    assert response.headers["Location"] == first_page
    page = client.get(first_page).get_data(as_text=True)
    assert "该翻页链接已失效" in page and "第 1 页" in page


def test_a_cursor_from_before_the_name_order_changed_starts_again(app, world, login_as):
    """Name-order cursors once carried the name alone; a bookmarked 下一页 of then is signed
    but has no person id: page 1 again, with a message, not an error page."""
    gen_trainees(world["enterprise"], world["plan"], 25)
    client = app.test_client()
    login_as(client, world["user"])
    old = trainees._serializer().dumps(["name", 0, "王五", 1, 1, 2])
    _starts_again(client, path("TraineeView.search", q="王", sort="name", cursor=old),
                  path("TraineeView.search", q="王", sort="name"))


def test_a_tampered_cursor_is_refused_with_400_and_a_foreign_one_starts_again(app, world, login_as):
    gen_trainees(world["enterprise"], world["plan"], 25)
    client = app.test_client()
    login_as(client, world["user"])
    _ids, url, _previous, _text = _page(client, path("TraineeView.search"))
    from urllib.parse import parse_qs, urlsplit

    cursor = parse_qs(urlsplit(url).query)["cursor"][0]
    assert client.get(path("TraineeView.search", cursor=cursor)).status_code == 200
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    payload = cursor.split(".")[0]
    for bad in (flipped, "x", "..", "%ff", cursor + "x", payload + ".", "W10.abc"):
        assert client.get(path("TraineeView.search", cursor=bad)).status_code == 400, bad
    # A genuine cursor of another order (the sort field changed by hand) starts again.
    _starts_again(client, path("TraineeView.search", cursor=cursor, sort="name"),
                  path("TraineeView.search", sort="name"))
