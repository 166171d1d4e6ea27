"""One definition per concept: where a rule has a Python form (for one row) and an SQL form
(for filters and counts), both give the same answer on the same rows, at every boundary."""
import datetime as dt

import pytest
from sqlalchemy import select

from app.extensions import db
from app.rules import is_city_regulator_of, supervised_region, supervising_authority
from app.scope import scoped_select
from app.services import audit, codes, enterprises, orders, plans, sms_codes, sms_templates
from app.services.licence import FIELDS, LICENCE_FIELDS, parse_boxes
from app.services.roster import check_id_number
from models.enrolment import Enrolment
from models.orders import Order
from models.organisation import Enterprise
from models.reference import PROVINCE_CODE, Authority, Region
from models.states import OrderState, PlanPhase
from models.training import TrainingPlan
from tests.accounts_helpers import last_code
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_regulator, gen_user
from tests.order_factories import gen_order, gen_trainees
from tests.rosters import id_number

T0 = dt.datetime(2026, 3, 1, 9, 0)
SECOND = dt.timedelta(seconds=1)


def _one(query):
    return db.session.scalar(query)


# Plan phase ----------------------------------------------------------------------------------

@pytest.fixture
def plan(app):
    return gen_plan(gen_institution(), enrol_start=T0, enrol_end=T0 + dt.timedelta(days=10),
                    train_start=dt.date(2026, 3, 16), train_end=dt.date(2026, 3, 31))


PHASE_BOUNDARIES = [
    (T0 - SECOND, PlanPhase.NOT_OPEN),  # one second before enrolment opens
    (T0, PlanPhase.ENROLLING),  # exactly when it opens
    (T0 + dt.timedelta(days=10) - SECOND, PlanPhase.ENROLLING),  # last second of the window
    (T0 + dt.timedelta(days=10), PlanPhase.ENROLMENT_CLOSED),  # exactly at close
    (dt.datetime(2026, 3, 16, 0, 0), PlanPhase.ENROLMENT_CLOSED),  # training starts
    (dt.datetime(2026, 3, 31, 23, 59, 59), PlanPhase.ENROLMENT_CLOSED),  # its last second
    (dt.datetime(2026, 4, 1, 0, 0), PlanPhase.TRAINING_ENDED),  # the next day (exam may be)
    (dt.datetime(2027, 1, 1), PlanPhase.TRAINING_ENDED),  # long after
]


@pytest.mark.parametrize("at, expected", PHASE_BOUNDARIES)
def test_plan_phase_in_python_and_sql_agree(plan, at, expected):
    assert plan.phase_at(at) == expected
    assert plans.phase(plan, at) == expected
    of_plan = TrainingPlan.id == plan.id
    assert _one(select(TrainingPlan.phase_at(at)).where(of_plan)) == expected.value
    for phase in PlanPhase:
        found = _one(select(TrainingPlan.id).where(of_plan, TrainingPlan.in_phase(phase, at)))
        assert (found == plan.id) is (phase == expected) is plan.in_phase(phase, at), phase
    open_now = _one(select(TrainingPlan.id).where(of_plan, plans.open_for_enrolment(at)))
    assert (open_now == plan.id) is (expected == PlanPhase.ENROLLING)


@pytest.mark.parametrize("state", ["draft", "submitted", "rejected"])
def test_a_plan_not_approved_has_no_phase_in_either_form(app, state):
    plan = gen_plan(gen_institution(), review_state=state, enrol_start=T0,
                    enrol_end=T0 + dt.timedelta(days=10))
    at = T0 + dt.timedelta(days=1)
    assert plan.phase_at(at) is None
    assert _one(select(TrainingPlan.phase_at(at)).where(TrainingPlan.id == plan.id)) == ""
    assert not any(plan.in_phase(phase, at) for phase in PlanPhase)
    assert _one(select(TrainingPlan.id).where(
        TrainingPlan.id == plan.id, TrainingPlan.in_phase(PlanPhase.ENROLLING, at))) is None


# Seats left ----------------------------------------------------------------------------------

@pytest.mark.parametrize("reserved, paid, left", [(0, 0, 3), (1, 1, 1), (2, 0, 1), (1, 2, 0),
                                                  (0, 3, 0)])
def test_seats_left_in_python_and_sql_agree(plan, reserved, paid, left):
    plan.quota, plan.seats_reserved, plan.seats_paid = 3, reserved, paid
    db.session.commit()
    assert plan.seats_left == left
    assert _one(select(TrainingPlan.seats_left).where(TrainingPlan.id == plan.id)) == left
    enrolling = T0 + dt.timedelta(days=1)
    listed = _one(select(TrainingPlan.id).where(TrainingPlan.id == plan.id,
                                                plans.open_for_enrolment(enrolling)))
    assert (listed == plan.id) is (left > 0)


# Photos complete -----------------------------------------------------------------------------

@pytest.mark.parametrize("photo, id_photo, missing", [
    ("p.jpg", "i.jpg", []),
    ("p.jpg", None, ["id_photo"]),
    (None, "i.jpg", ["photo"]),
    ("", "i.jpg", ["photo"]),
    (None, None, ["photo", "id_photo"]),
])
def test_photos_complete_in_python_and_sql_agree(plan, photo, id_photo, missing):
    trainee = gen_trainees(gen_enterprise(), plan, 1, photos=False)[0]
    trainee.photo_key, trainee.id_photo_key = photo, id_photo
    db.session.commit()
    assert trainee.missing_photos == missing
    assert trainee.photos_complete is (not missing)
    found = _one(select(Enrolment.id).where(Enrolment.id == trainee.id, Enrolment.photos_complete))
    lacking = _one(select(Enrolment.id).where(Enrolment.id == trainee.id,
                                              ~Enrolment.photos_complete))
    assert (found == trainee.id) is (not missing)
    assert (lacking == trainee.id) is bool(missing)


# A payable order -----------------------------------------------------------------------------

CREATED = dt.datetime(2026, 3, 2, 10, 0)  # expires an hour later
ORDER_CASES = [
    ("pending", CREATED, True),
    ("pending", CREATED + dt.timedelta(minutes=60) - SECOND, True),  # last second
    ("pending", CREATED + dt.timedelta(minutes=60), False),  # at the deadline: expired
    ("pending", CREATED + dt.timedelta(hours=5), False),
    ("paid", CREATED + dt.timedelta(minutes=10), False),
    ("closed", CREATED + dt.timedelta(minutes=10), False),  # cancelled
    ("expired", CREATED + dt.timedelta(minutes=10), False),
]


@pytest.mark.parametrize("state, at, payable", ORDER_CASES)
def test_payable_order_in_python_and_sql_agree(plan, state, at, payable):
    order = gen_order(gen_enterprise(), plan, 1, state=state, created_at=CREATED)
    assert order.payable_at(at) is payable
    found = _one(select(Order.id).where(Order.id == order.id, Order.payable_at(at)))
    assert (found == order.id) is payable
    assert (orders.shown_state(order, at) == OrderState.PENDING) is payable
    if state == "pending":
        assert orders.shown_state(order, at) == (OrderState.PENDING if payable
                                                 else OrderState.EXPIRED)


def test_expire_due_takes_exactly_the_pending_orders_no_longer_payable(app, plan):
    enterprise = gen_enterprise()
    late = gen_order(enterprise, plan, 1, state="pending", created_at=CREATED)
    fresh = gen_order(enterprise, plan, 1, state="pending", created_at=CREATED + SECOND)
    deadline = CREATED + dt.timedelta(minutes=60)
    app.config["CLOCK_FROZEN_AT"] = deadline
    assert orders.expire_due(at=deadline) == 1
    assert db.session.get(Order, late.id).state == OrderState.EXPIRED.value
    assert db.session.get(Order, fresh.id).state == OrderState.PENDING.value


# The city regulator of a region ---------------------------------------------------------------

def test_each_region_has_the_authority_of_its_own_code(app):
    cities = db.session.scalars(select(Region.code).where(Region.parent_code == PROVINCE_CODE))
    for code in list(cities) + [PROVINCE_CODE]:
        authority = db.session.scalars(select(Authority).where(supervising_authority(code))).one()
        assert authority.region_code == code
        owned = db.session.scalars(select(Authority).where(supervising_authority(code, True))).one()
        assert owned.region_code == PROVINCE_CODE
    assert enterprises.reviewing_authority("330200", False).region_code == "330200"
    assert enterprises.reviewing_authority("330200", True).region_code == PROVINCE_CODE


def test_the_city_regulator_check_and_the_row_scope_agree(app):
    hangzhou = gen_plan(gen_institution("330100"))
    ningbo = gen_plan(gen_institution("330200"))
    city = gen_regulator("330100")
    province = gen_regulator(PROVINCE_CODE, role="ProvinceRegulator")
    enterprise_user = gen_user("Enterprise", enterprise_id=gen_enterprise().id)
    assert supervised_region(city) == "330100" and supervised_region(enterprise_user) is None
    assert is_city_regulator_of(city, "330100") and not is_city_regulator_of(city, "330200")
    assert not is_city_regulator_of(province, "330100")
    assert not is_city_regulator_of(province, PROVINCE_CODE)
    assert not is_city_regulator_of(enterprise_user, "330100")
    scoped = set(db.session.scalars(scoped_select(TrainingPlan, city).with_only_columns(
        TrainingPlan.id).where(TrainingPlan.id.in_([hangzhou.id, ningbo.id]))))
    assert scoped == {p.id for p in (hangzhou, ningbo) if is_city_regulator_of(city, p.region_code)}
    assert scoped == {hangzhou.id}


# SMS code lifetime ---------------------------------------------------------------------------

def test_the_code_lifetime_is_what_the_sms_and_the_page_say(app, client):
    minutes = sms_templates.CODE_LIFETIME_MINUTES
    assert minutes == 5
    assert sms_codes.LIFETIME == dt.timedelta(minutes=minutes)
    for purpose in sms_codes.PURPOSES:
        assert f"{minutes}分钟内有效" in sms_templates.template(purpose).text
    app.config["CLOCK_FROZEN_AT"] = T0
    answer = client.post("/register/sms", data={"mobile": "13700003333"}).get_json()
    assert answer["ok"] and f"{minutes} 分钟内有效" in answer["message"]
    code = last_code("13700003333")
    app.config["CLOCK_FROZEN_AT"] = T0 + dt.timedelta(minutes=minutes) - SECOND
    sms_codes.consume_code("13700003333", sms_codes.REGISTER, code)  # still valid
    sms_codes.send_code("13700004444", sms_codes.REGISTER)
    other = last_code("13700004444")
    app.config["CLOCK_FROZEN_AT"] += dt.timedelta(minutes=minutes)
    with pytest.raises(sms_codes.CodeInvalid):
        sms_codes.consume_code("13700004444", sms_codes.REGISTER, other)


# Licence fields ------------------------------------------------------------------------------

def test_the_licence_fields_are_read_compared_and_shown_from_one_list(app, client):
    assert FIELDS == tuple(field.key for field in LICENCE_FIELDS)
    assert set(FIELDS) <= set(parse_boxes([]))
    columns = Enterprise.__table__.columns
    assert all(field.name in columns for field in LICENCE_FIELDS)
    reading = {field.key: f"读到的{field.key}" for field in LICENCE_FIELDS}
    typed = {field.name: "另填" for field in LICENCE_FIELDS}
    assert set(enterprises.reading_differences(typed, reading)) == {f.name for f in LICENCE_FIELDS}
    page = client.get("/register/").get_data(as_text=True)
    for field in LICENCE_FIELDS:
        assert f'id="{field.name}"' in page  # a form field for each
        assert f'"{field.key}": "{field.name}"' in page  # and the script maps the reading to it


# ID number check -----------------------------------------------------------------------------

def test_one_id_number_check(app):
    assert not hasattr(codes, "is_valid_id_number")
    adult, child = id_number(dt.date(1990, 5, 1)), id_number(dt.date(2020, 5, 1))
    today = dt.date(2026, 3, 1)
    assert check_id_number(adult, today) is None and check_id_number(adult) is None
    assert check_id_number(child) is None  # a real number: the audit log masks it
    assert check_id_number(child, today)  # too young to enrol
    wrong = adult[:17] + ("0" if adult[17] != "0" else "1")
    assert check_id_number(wrong) and check_id_number(wrong, today)
    summary = audit._summary(None, {"a": adult, "b": child, "c": wrong})
    assert adult not in summary and child not in summary and wrong in summary
