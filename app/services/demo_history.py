"""A year of demo history in five cities, so that dashboards, per-city charts and row scope
show something on `make run`.

Each city has a training institution, a regulator and a few approved enterprises; a
province-owned enterprise, reviewed by the province, enrols in several cities. Each
institution's plans run from a year ago to now, each as far through its life as its dates
allow (app/services/demo_lifecycle.py); a few wait for the city's review. Hangzhou's history
belongs to a second institution, so that hzjx keeps exactly the README's two plans, and nothing
of it waits for hz_jsj.

Deterministic (names and numbers from fixed seeds, times relative to clock.now()) and seeded
once: a city whose institution has plans is left as it is. Trainees of plans no longer
enrolling share a few stored photos (a photo is replaced, and its file deleted, only while its
plan is enrolling); trainees of plans still enrolling have their own.
"""
import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Optional

from flask import current_app
from sqlalchemy import select

from app import clock, scope
from app.extensions import db
from app.services import audit, demo_people
from app.services.demo import DemoAccount, _account, _authority, _enterprise, _institution, _uscc
from app.services.demo_lifecycle import (
    ENROLLING,
    EXAM_AHEAD,
    FINISHED,
    PUSH_PENDING,
    REPORTED,
    SCORES_ACCEPTED,
    SUBMITTED,
    TRAINING,
    Photos,
    Timeline,
    World,
    live,
    record,
)
from app.services.plans import AUDITED
from models.organisation import Enterprise
from models.reference import Occupation, OccupationLevel
from models.states import PlanState, ReviewState
from models.training import TrainingPlan

# Days before today that enrolment opened. Finished plans spread over the year, each city a
# few days after the one before; the others are timed so that their last step is past.
FINISHED_DAYS = (300, 245, 190, 135, 85)
CITY_SHIFT_DAYS = 7
OPENED_DAYS_AGO = {PUSH_PENDING: 49, SCORES_ACCEPTED: 47, EXAM_AHEAD: 40, REPORTED: 39,
                   TRAINING: 28, ENROLLING: 12, SUBMITTED: -8}
TRAINEES = {FINISHED: (22, 38), ENROLLING: (8, 14), SUBMITTED: (0, 0)}
OTHER_TRAINEES = (16, 28)
TRADES = ("钢筋工", "砌筑工", "架子工", "混凝土工", "模板工", "防水工", "建筑电工", "焊工",
          "木工", "抹灰工", "油漆工", "测量放线工", "建筑起重信号司索工", "塔式起重机司机",
          "施工升降机司机")
LEVELS = {"五级/初级工": (6, 580), "四级/中级工": (3, 780), "三级/高级工": (1, 980)}  # weight, fee
HANGZHOU, PROVINCE = "330100", "330000"


@dataclass(frozen=True)
class City:
    code: str
    name: str
    index: int                   # 1..5, in made-up codes
    institution: str
    institution_user: str
    regulator_user: str
    teacher: str
    phone: str
    districts: tuple[str, ...]   # for venues and addresses
    enterprises: tuple[str, ...]
    stages: tuple[str, ...]      # the plans besides the finished ones


CITIES = (
    City("330100", "杭州市", 1, "杭州市建筑业职工技能培训学校", "hzpx", "hz_jsj", "周老师",
         "0571-86012345", ("拱墅区", "余杭区", "萧山区"),
         ("杭州钱塘建筑劳务有限公司", "杭州运河建设工程有限公司"), (TRAINING, ENROLLING)),
    City("330200", "宁波市", 2, "宁波市建设职业技能培训中心", "nbjx", "nb_jsj", "陈老师",
         "0574-87351234", ("鄞州区", "北仑区", "镇海区"),
         ("宁波甬江建设工程有限公司", "宁波北仑港城建筑劳务有限公司",
          "宁波鄞州安居装饰工程有限公司"),
         (PUSH_PENDING, SCORES_ACCEPTED, ENROLLING, SUBMITTED)),
    City("330300", "温州市", 3, "温州市建设职业技能培训中心", "wzjx", "wz_jsj", "林老师",
         "0577-88963210", ("鹿城区", "瓯海区", "龙湾区"),
         ("温州瓯江建设集团有限公司", "温州鹿城建筑劳务有限公司"), (EXAM_AHEAD, REPORTED, ENROLLING)),
    City("330600", "绍兴市", 4, "绍兴市建设职业技能培训中心", "sxjx", "sx_jsj", "徐老师",
         "0575-85127788", ("越城区", "柯桥区", "上虞区"),
         ("绍兴越城建设工程有限公司", "绍兴柯桥建筑安装有限公司", "诸暨市城东建筑劳务有限公司"),
         (PUSH_PENDING, TRAINING, ENROLLING, SUBMITTED)),
    City("330700", "金华市", 5, "金华市建设职业技能培训中心", "jhjx", "jh_jsj", "吴老师",
         "0579-82456789", ("婺城区", "金东区", "义乌市"),
         ("金华婺城建设工程有限公司", "义乌市商城建筑劳务有限公司", "东阳市江北建筑工程有限公司",
          "永康市五金城建设有限公司"),
         (SCORES_ACCEPTED, EXAM_AHEAD, ENROLLING)),
)
GUEST = "浙江省建设投资示范集团有限公司"
GUEST_USCC = _uscc("91330000MA2JP0001")


def seed(password: str) -> list[DemoAccount]:
    """Every city's organisations and accounts, and its history once; the accounts, to print."""
    guest = _enterprise(GUEST_USCC, GUEST, ReviewState.APPROVED, _authority(PROVINCE),
                        province_owned=True,
                        **_details(random.Random("guest"), CITIES[0], "滨江区", days_ago=700))
    guest_account = _account(scope.ENTERPRISE, guest.uscc, guest.name, password,
                             enterprise=guest)
    accounts, photos, taken = [], Photos(), set()
    for city in CITIES:
        accounts += _seed_city(city, password, guest, photos, taken)
    return accounts + [guest_account]


def _seed_city(city: City, password: str, guest: Enterprise, photos: Photos,
               taken: set[str]) -> list[DemoAccount]:
    authority = _authority(city.code)
    institution = _institution(city.institution, _uscc(f"52{city.code}MJ9JP{city.index:04d}"),
                               city.code, city.teacher, city.phone)
    accounts = [_account(scope.INSTITUTION, city.institution_user, institution.name, password,
                         institution=institution)]
    if city.code != HANGZHOU:  # hz_jsj is the demo's own
        accounts.append(_account(scope.CITY_REGULATOR, city.regulator_user, authority.name,
                                 password, authority=authority))
    rng = random.Random(f"jianpei-demo-{city.code}")
    enterprises = []
    for number, name in enumerate(city.enterprises, start=1):
        enterprise = _enterprise(_uscc(f"91{city.code}MA2{city.index}JP{number:03d}"), name,
                                 ReviewState.APPROVED, authority,
                                 **_details(rng, city, city.districts[number % 3]))
        enterprises.append(enterprise)
        accounts.append(_account(scope.ENTERPRISE, enterprise.uscc, name, password,
                                 enterprise=enterprise))
    if db.session.scalars(select(TrainingPlan.id).where(
            TrainingPlan.institution_id == institution.id)).first() is None:
        _history(city, World(rng, city.code, clock.now(), photos, taken,
                             _user(city.institution_user), _user(city.regulator_user),
                             [(e, _user(e.uscc)) for e in enterprises], (guest, _user(guest.uscc))))
    db.session.commit()
    return accounts


def _history(city: City, world: World) -> None:
    """The enterprises' reviews, then the plans of the year: finished ones, then the rest."""
    reviews = [(e, world.regulator) for e, _user in world.enterprises]
    if city.code == HANGZHOU:
        reviews.append((world.guest[0], _user("zj_jst")))  # province-owned: the province
    for enterprise, reviewer in reviews:
        record(enterprise.reviewed_at, reviewer, "enterprise.approve", enterprise,
               before={"review_state": ReviewState.PENDING.value, "review_reason": None},
               after={"review_state": ReviewState.APPROVED.value, "review_reason": None})
    rng = world.rng
    stages = [FINISHED] * len(FINISHED_DAYS) + list(city.stages)
    for number, (stage, trade) in enumerate(zip(stages, rng.sample(TRADES, len(stages)))):
        days = FINISHED_DAYS[number] + (city.index - 1) * CITY_SHIFT_DAYS if stage == FINISHED \
            else OPENED_DAYS_AGO[stage]
        timeline = Timeline.opening(world.now.date() - dt.timedelta(days=days), stage)
        plan = _plan(world, city, timeline, trade)
        low, high = TRAINEES.get(stage, OTHER_TRAINEES)
        count = rng.randint(low, high)
        plan.quota = max(30, (count // 10 + 2) * 10)
        if stage != SUBMITTED:
            live(world, plan, timeline, count)


def _plan(world: World, city: City, timeline: Timeline, trade: str) -> TrainingPlan:
    """A plan created and submitted by the institution twelve days before enrolment opens, and
    approved by the city two days later (unless it still waits)."""
    rng = world.rng
    level = rng.choices(list(LEVELS), weights=[w for w, _fee in LEVELS.values()])[0]
    created = timeline.opens - dt.timedelta(days=12)
    plan = TrainingPlan(
        institution_id=world.institution_user.institution_id,
        occupation_id=world.id_of(Occupation, trade), level_id=world.id_of(OccupationLevel, level),
        quota=30, fee=Decimal(LEVELS[level][1] + 10 * rng.randint(0, 12)),
        enrol_start=timeline.opens, enrol_end=timeline.closes, train_start=timeline.train_start,
        train_end=timeline.train_end, venue=f"{city.name}{rng.choice(city.districts)}建设实训基地",
        region_code=city.code, contact=f"{city.teacher} {city.phone}",
        review_state=PlanState.DRAFT.value, created_at=created)
    db.session.add(plan)
    db.session.flush()
    inst = world.institution_user
    record(created, inst, "plan.create", plan, after=audit.changes(plan, list(AUDITED)))
    states = [(created + dt.timedelta(hours=2), inst, "plan.submit", PlanState.SUBMITTED)]
    if timeline.stage != SUBMITTED:
        states.append((created + dt.timedelta(days=2, hours=5), world.regulator, "plan.approve",
                       PlanState.APPROVED))
    for at, user, action, state in states:
        before = {"review_state": plan.review_state, "review_reason": None}
        plan.review_state = state.value
        record(at, user, action, plan, before=before,
               after={"review_state": state.value, "review_reason": None})
    return plan


def _details(rng: random.Random, city: City, district: str, days_ago: Optional[int] = None) -> dict:
    """An enterprise's registration: made up, registered and approved well over a year ago."""
    created = clock.now() - dt.timedelta(days=days_ago or rng.randint(420, 900),
                                         hours=rng.randint(0, 8))
    return {
        "region_code": city.code,
        "legal_representative": demo_people.name(rng, male=True),
        "registered_capital": f"{rng.choice((500, 800, 1000, 2000, 3000, 5000))}万元人民币",
        "established": dt.date(rng.randint(2003, 2019), rng.randint(1, 12), rng.randint(1, 28)),
        "address": f"浙江省{city.name}{district}{demo_people.street(rng)}{rng.randint(1, 399)}号",
        "contact_person": demo_people.name(rng, male=rng.random() < 0.6),
        "contact_mobile": demo_people.mobile(rng),
        "created_at": created,
        "reviewed_at": created + dt.timedelta(days=rng.randint(1, 4), hours=3),
    }


def _user(username: str) -> Any:
    return current_app.appbuilder.sm.find_user(username=username)
