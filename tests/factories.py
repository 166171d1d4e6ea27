"""gen_* factories: small valid rows with overridable fields (CTFd style)."""
import datetime as dt
import itertools
from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.services.codes import uscc_check_char
from models.organisation import Enterprise, Institution
from models.reference import Authority, Occupation, OccupationLevel
from models.states import PlanState, ReviewState
from models.training import TrainingPlan
from tests.conftest import PASSWORD

_seq = itertools.count(1)


def gen_uscc() -> str:
    body = f"91330100MA{next(_seq):07d}"
    return body + uscc_check_char(body)


def authority_of(region_code: str) -> Authority:
    return db.session.scalars(select(Authority).where(Authority.region_code == region_code)).one()


def gen_enterprise(region_code: str = "330100", **fields) -> Enterprise:
    values = dict(
        uscc=gen_uscc(),
        name=f"测试建设有限公司{next(_seq)}",
        region_code=region_code,
        province_owned=False,
        review_state=ReviewState.APPROVED.value,
        contact_mobile="13800138000",
        created_at=clock.now(),
    )
    values.update(fields)
    enterprise = Enterprise(**values)
    db.session.add(enterprise)
    db.session.commit()
    return enterprise


def gen_institution(region_code: str = "330100", **fields) -> Institution:
    values = dict(name=f"测试培训机构{next(_seq)}", region_code=region_code)
    values.update(fields)
    institution = Institution(**values)
    db.session.add(institution)
    db.session.commit()
    return institution


def dictionary_value(model, name: str):
    return db.session.scalars(select(model).where(model.name == name)).one()


def gen_plan(institution: Institution, **fields) -> TrainingPlan:
    now = clock.now()
    values = dict(
        institution_id=institution.id,
        occupation_id=dictionary_value(Occupation, "钢筋工").id,
        level_id=dictionary_value(OccupationLevel, "五级/初级工").id,
        quota=50,
        fee=Decimal("680.00"),
        enrol_start=now - dt.timedelta(days=1),
        enrol_end=now + dt.timedelta(days=10),
        train_start=now.date() + dt.timedelta(days=15),
        train_end=now.date() + dt.timedelta(days=30),
        venue="实训基地",
        region_code=institution.region_code,
        review_state=PlanState.APPROVED.value,
        created_at=now,
    )
    values.update(fields)
    plan = TrainingPlan(**values)
    db.session.add(plan)
    db.session.commit()
    return plan


def gen_user(role: str, username: str | None = None, **links):
    sm = current_app.appbuilder.sm
    username = username or f"user{next(_seq)}"
    user = sm.add_user(
        username=username,
        first_name=username,
        last_name="",
        email=f"{username}@test.invalid",
        role=sm.find_role(role),
        password=PASSWORD,
    )
    assert user, f"could not create {username}"
    for key, value in links.items():
        setattr(user, key, value)
    db.session.commit()
    return user


def gen_regulator(region_code: str, role: str = "CityRegulator"):
    return gen_user(role, authority_id=authority_of(region_code).id)
