"""Refusals mapped once (app/errors.py): a record that does not exist, or is another tenant's,
is the Chinese 404 page (row scope hides that it exists); a refusal by state is flashed on the
page the user came from, with nothing changed; a script gets JSON with the status."""
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import scope
from app.extensions import db
from app.services import N_, DomainError, Forbidden
from models.audit import AuditLog
from models.orders import Order
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_user
from tests.helpers import path, visible_text
from tests.order_factories import gen_order

T0 = dt.datetime(2026, 11, 28, 10, 0)
NOT_FOUND = "记录不存在或您无权查看"
NOT_CANCELLABLE = "只有未支付的订单可以取消"


def _probe(app):
    """Routes that raise a kind no page of the site raises to a browser today."""
    def forbidden():
        raise Forbidden(N_("Plans are reviewed by the city authority of the plan's region."))

    def refused():
        raise DomainError(N_("Please give the reason for rejecting the plan."))

    app.add_url_rule("/probe/forbidden", "probe_forbidden", forbidden)
    app.add_url_rule("/probe/refused", "probe_refused", refused, methods=["POST"])
    app.add_url_rule("/api/v1/probe/refused", "probe_api_refused", refused, methods=["POST"])


@pytest.fixture
def world(app, login_as):
    app.config["CLOCK_FROZEN_AT"] = T0
    _probe(app)
    plan = gen_plan(gen_institution("330100"), quota=10, fee=Decimal("680.00"),
                    enrol_start=T0 - dt.timedelta(days=1), enrol_end=T0 + dt.timedelta(days=10))
    enterprise = gen_enterprise("330100")
    paid = gen_order(enterprise, plan, 2, state="paid")
    theirs = gen_order(gen_enterprise("330100"), plan, 1, state="pending",
                       created_at=T0 - dt.timedelta(minutes=5))
    client = app.test_client()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
    return {"plan": plan, "paid": paid, "theirs": theirs, "client": client}


def _state(order_id: int) -> tuple:
    db.session.expire_all()
    plan = db.session.get(Order, order_id).plan
    return (db.session.get(Order, order_id).state, plan.seats_paid, plan.seats_reserved,
            db.session.scalar(select(func.count()).select_from(AuditLog)))


def test_a_missing_record_is_the_chinese_404_page(world):
    for url in (path("EnrolledView.plan", plan_id=999999),
                path("TraineeView.detail", enrolment_id=999999)):
        response = world["client"].get(url)
        assert response.status_code == 404 and response.mimetype == "text/html"
        page = visible_text(response.get_data(as_text=True))
        assert NOT_FOUND in page and "Not Found" not in page and "返回首页" in page


def test_another_enterprises_order_is_not_found_and_untouched(world):
    """Row scope: another tenant's row reads as missing (404), never as 'not yours' (403)."""
    theirs = world["theirs"]
    before = _state(theirs.id)
    for endpoint in ("OrderView.cancel", "OrderView.pay"):
        response = world["client"].post(path(endpoint, pk=theirs.id))
        assert response.status_code == 404
        assert NOT_FOUND in visible_text(response.get_data(as_text=True))
    assert _state(theirs.id) == before == ("pending", 2, 1, 0)


def test_cancelling_a_paid_order_flashes_why_on_the_page_it_came_from(world):
    order, client = world["paid"], world["client"]
    show = path("OrderView.show", pk=order.id)
    before = _state(order.id)
    response = client.post(path("OrderView.cancel", pk=order.id),
                           headers={"Referer": f"http://localhost{show}"})
    assert response.status_code == 302 and response.location == show
    page = visible_text(client.get(show).get_data(as_text=True))
    assert NOT_CANCELLABLE in page and "订单已取消" not in page
    assert _state(order.id) == before == ("paid", 2, 1, 0)


@pytest.mark.parametrize("referrer", [None, "https://evil.example/orders/list/",
                                      "http://localhost//evil.example/"])
def test_a_refusal_never_sends_the_browser_off_the_site(world, referrer):
    headers = {"Referer": referrer} if referrer else {}
    response = world["client"].post(path("OrderView.cancel", pk=world["paid"].id),
                                    headers=headers)
    assert response.status_code == 302 and response.location == "/"
    home = visible_text(world["client"].get("/", follow_redirects=True).get_data(as_text=True))
    assert NOT_CANCELLABLE in home


@pytest.mark.parametrize("headers", [{"X-Requested-With": "XMLHttpRequest"},
                                     {"Accept": "application/json"}])
def test_a_script_gets_the_refusal_as_json_with_409(world, headers):
    order = world["paid"]
    before = _state(order.id)
    response = world["client"].post(path("OrderView.cancel", pk=order.id), headers=headers)
    assert response.status_code == 409 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == 409 and body["message"].startswith(NOT_CANCELLABLE)
    assert _state(order.id) == before
    missing = world["client"].post(path("OrderView.cancel", pk=world["theirs"].id),
                                   headers=headers)
    assert missing.status_code == 404
    assert missing.get_json() == {"message": NOT_FOUND + "。", "status": 404}


def test_forbidden_is_the_403_page_with_its_reason(world):
    response = world["client"].get("/probe/forbidden")
    assert response.status_code == 403
    assert "培训计划由计划所在地的市级行政主管部门审核" in visible_text(response.get_data(as_text=True))


def test_a_request_to_correct_is_422_for_scripts_and_the_api_keeps_its_shape(world):
    client = world["client"]
    xhr = client.post("/probe/refused", headers={"X-Requested-With": "XMLHttpRequest"})
    assert xhr.status_code == 422 and xhr.get_json()["status"] == 422
    assert "原因" in xhr.get_json()["message"]
    browser = client.post("/probe/refused")
    assert browser.status_code == 302 and browser.location == "/"
    api = client.post("/api/v1/probe/refused")
    assert api.status_code == 422 and list(api.get_json()) == ["message"]

