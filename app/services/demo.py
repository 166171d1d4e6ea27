"""Demo data for the embedded default: one account per role and a small world to click through,
then a year of history in five cities (app/services/demo_history.py).

Idempotent: running it again finds what is there and prints the same accounts.
"""
import datetime as dt
import functools
import io
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from PIL import Image, ImageDraw
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from app import clock, scope
from app.extensions import db
from app.rules import supervising_authority
from app.integrations.storage import storage
from app.services.codes import uscc_check_char
from models.organisation import DocumentSlot, Enterprise, Institution
from models.reference import Authority, Occupation, OccupationLevel
from models.states import EnrolmentState, PlanState, ReviewState
from models.training import TrainingPlan


class DemoRefused(RuntimeError):
    pass


@dataclass
class DemoAccount:
    role: str
    username: str
    password: str
    who: str


def _uscc(body17: str) -> str:
    return body17 + uscc_check_char(body17)


APPROVED_USCC = _uscc("91330100MA27XK001")
PENDING_USCC = _uscc("91330100MA27XK002")


def seed() -> list[DemoAccount]:
    if current_app.config["JIANPEI_ENV"] == "production":
        raise DemoRefused("demo data is never seeded in production")
    password = current_app.config["DEMO_PASSWORD"]
    hangzhou = _authority("330100")
    province = _authority("330000")
    approved = _enterprise(APPROVED_USCC, "杭州示范建设工程有限公司", ReviewState.APPROVED, hangzhou)
    pending = _enterprise(PENDING_USCC, "杭州待审建筑劳务有限公司", ReviewState.PENDING, hangzhou)
    institution = _institution()
    _plans(institution)
    _trainees(approved, institution)
    _finished_trainees(approved, institution)
    db.session.commit()

    accounts = [
        _account(scope.ADMIN, "admin", "系统管理员", password),
        _account(scope.ENTERPRISE, APPROVED_USCC, approved.name, password, enterprise=approved),
        _account(scope.ENTERPRISE, PENDING_USCC, pending.name, password, enterprise=pending),
        _account(scope.INSTITUTION, "hzjx", institution.name, password, institution=institution),
        _account(scope.CITY_REGULATOR, "hz_jsj", hangzhou.name, password, authority=hangzhou),
        _account(scope.PROVINCE_REGULATOR, "zj_jst", province.name, password, authority=province),
    ]
    db.session.commit()
    from app.services import demo_history  # it builds on this module's helpers

    accounts += demo_history.seed(password)
    return accounts


def format_accounts(accounts: list[DemoAccount]) -> str:
    lines = ["", "Demo accounts (演示账号):", f"  {'role':<18} {'username':<20} password"]
    for a in accounts:
        lines.append(f"  {a.role:<18} {a.username:<20} {a.password}   {a.who}")
    return "\n".join(lines) + "\n"


def _authority(region_code: str) -> Authority:
    return db.session.scalars(select(Authority).where(supervising_authority(region_code))).one()


def _enterprise(uscc: str, name: str, state: ReviewState, authority: Authority,
                **details) -> Enterprise:
    """The enterprise with this code, made once; `details` override the Hangzhou defaults."""
    enterprise = db.session.scalars(select(Enterprise).where(Enterprise.uscc == uscc)).first()
    if enterprise:
        return enterprise
    now = clock.now()
    enterprise = Enterprise(**{
        "uscc": uscc,
        "name": name,
        "enterprise_type": "有限责任公司",
        "legal_representative": "张建国",
        "registered_capital": "1000万元人民币",
        "established": dt.date(2015, 6, 1),
        "address": "浙江省杭州市西湖区文三路100号",
        "region_code": "330100",
        "province_owned": False,
        "contact_person": "李明",
        "contact_mobile": "13800138000",
        "review_state": state.value,
        "reviewing_authority_id": authority.id,
        "reviewed_at": now if state == ReviewState.APPROVED else None,
        "created_at": now,
        **details,
    })
    files = storage()
    enterprise.licence_file = files.save(_placeholder_jpeg(DocumentSlot.LICENCE, uscc), ".jpg")
    enterprise.commitment_file = files.save(_placeholder_jpeg(DocumentSlot.COMMITMENT, uscc), ".jpg")
    enterprise.qualification_file = files.save(_placeholder_jpeg(DocumentSlot.QUALIFICATION, uscc),
                                               ".jpg")
    db.session.add(enterprise)
    db.session.flush()
    return enterprise


def _placeholder_jpeg(slot: str, uscc: str) -> bytes:
    image = Image.new("RGB", (640, 440), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 630, 430), outline="darkred", width=6)
    draw.text((40, 60), f"DEMO {slot}.jpg", fill="black")
    draw.text((40, 100), uscc, fill="black")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _institution(name: str = "杭州市建设职业技能培训中心", uscc: str = _uscc("52330100MJ9XK0001"),
                 region_code: str = "330100", contact_person: str = "王老师",
                 contact_phone: str = "0571-88886666") -> Institution:
    """The institution with this name, made once."""
    institution = db.session.scalars(select(Institution).where(Institution.name == name)).first()
    if institution:
        return institution
    institution = Institution(
        name=name,
        uscc=uscc,
        region_code=region_code,
        contact_person=contact_person,
        contact_phone=contact_phone,
    )
    db.session.add(institution)
    db.session.flush()
    return institution


def _plans(institution: Institution) -> None:
    if db.session.scalars(
        select(TrainingPlan).where(TrainingPlan.institution_id == institution.id)
    ).first():
        return
    now = clock.now()
    today = now.date()
    rebar = db.session.scalars(select(Occupation).where(Occupation.name == "钢筋工")).one()
    mason = db.session.scalars(select(Occupation).where(Occupation.name == "砌筑工")).one()
    junior = db.session.scalars(
        select(OccupationLevel).where(OccupationLevel.name == "五级/初级工")
    ).one()
    common = dict(
        institution_id=institution.id,
        level_id=junior.id,
        region_code="330100",
        contact="王老师 0571-88886666",
        review_state=PlanState.APPROVED.value,
        created_at=now,
    )
    db.session.add_all([
        TrainingPlan(
            occupation_id=rebar.id, quota=50, fee=Decimal("680.00"),
            enrol_start=now - dt.timedelta(days=3), enrol_end=now + dt.timedelta(days=20),
            train_start=today + dt.timedelta(days=25), train_end=today + dt.timedelta(days=40),
            venue="杭州市西湖区实训基地一号楼", **common,
        ),
        TrainingPlan(
            occupation_id=mason.id, quota=40, fee=Decimal("620.00"),
            enrol_start=now - dt.timedelta(days=90), enrol_end=now - dt.timedelta(days=60),
            train_start=today - dt.timedelta(days=50), train_end=today - dt.timedelta(days=10),
            venue="杭州市余杭区实训基地二号楼", **common,
        ),
    ])


DEMO_TRAINEES = (("陈建华", "330106198503152317"), ("刘丽", "330102199207081126"),
                 ("王强", "330183198811230414"))


def _demo_plan(institution: Institution, venue_ending: str) -> TrainingPlan | None:
    return db.session.scalars(select(TrainingPlan).where(
        TrainingPlan.institution_id == institution.id,
        TrainingPlan.venue.like(f"%{venue_ending}"))).first()


def _trainees(enterprise: Enterprise, institution: Institution) -> None:
    """Three enrolled workers with both photos in the 报名中 plan, ready for an order."""
    _enrol(enterprise, _demo_plan(institution, "一号楼"), DEMO_TRAINEES)


FINISHED_TRAINEES = (("赵磊", "330104198001012316"), ("孙芳", "330105199003032327"),
                     ("周伟", "330108198506062318"))


def _finished_trainees(enterprise: Enterprise, institution: Institution) -> None:
    """Three workers who enrolled and paid for the 培训结束 plan: ready for its assessment."""
    from models.orders import Order, OrderItem

    plan = _demo_plan(institution, "二号楼")
    enrolments = _enrol(enterprise, plan, FINISHED_TRAINEES)
    if not enrolments:
        return
    paid_at = plan.enrol_start + dt.timedelta(days=2)
    order = Order(out_trade_no=f"JP{paid_at:%Y%m%d%H%M%S}000000000001", enterprise=enterprise,
                  plan=plan, trainees=len(enrolments), fee=plan.fee,
                  amount=plan.fee * len(enrolments), state="paid", created_at=paid_at,
                  expires_at=paid_at + dt.timedelta(minutes=60), paid_at=paid_at,
                  trade_no=f"{paid_at:%Y%m%d}2200000000000001")
    db.session.add(order)
    db.session.flush()
    for enrolment in enrolments:
        enrolment.order_id = order.id
        db.session.add(OrderItem(order_id=order.id, enrolment_id=enrolment.id))
    plan.seats_paid += len(enrolments)


def _enrol(enterprise: Enterprise, plan, people) -> list:
    """Enrol `people` (name, ID number) with both photos, once."""
    from app.services.codes import id_check_digit, id_gender
    from app.services.photos import thumbnail
    from models.enrolment import Enrolment, Person
    from models.reference import Education, ProfessionalTitle

    if plan is None or db.session.scalars(select(Enrolment).where(
            Enrolment.enterprise_id == enterprise.id, Enrolment.plan_id == plan.id)).first():
        return []
    now = clock.now()
    education = db.session.scalars(select(Education).where(Education.name == "初中")).one()
    title = db.session.scalars(select(ProfessionalTitle).where(ProfessionalTitle.name == "无")).one()
    files = storage()
    enrolments = []
    for i, (name, number) in enumerate(people):
        number = number[:17] + id_check_digit(number[:17])
        person = db.session.scalars(select(Person).where(Person.id_number == number)).first()
        if person is None:
            person = Person(id_number=number, name=name,
                            gender="男" if id_gender(number) == "male" else "女",
                            birth_date=dt.date(int(number[6:10]), int(number[10:12]),
                                               int(number[12:14])),
                            updated_at=now)
        photo = _portrait()
        enrolment = Enrolment(
            person=person, plan_id=plan.id, enterprise_id=enterprise.id,
            occupation_id=plan.occupation_id, level_id=plan.level_id, status=EnrolmentState.LIVE.value,
            mobile=f"1370000000{i}", education_id=education.id, title_id=title.id,
            photo_key=files.save(photo, ".jpg"), photo_thumb_key=files.save(thumbnail(photo), ".jpg"),
            id_photo_key=files.save(_placeholder_jpeg("id", number), ".jpg"), created_at=now)
        db.session.add(enrolment)
        enrolments.append(enrolment)
    db.session.flush()
    return enrolments


def _portrait(background=(66, 133, 244), face=(240, 205, 180), clothes=(40, 40, 60)) -> bytes:
    image = Image.new("RGB", (330, 440), background)
    draw = ImageDraw.Draw(image)
    draw.ellipse((105, 70, 225, 200), fill=face)
    draw.rectangle((70, 230, 260, 440), fill=clothes)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _account(role: str, username: str, who: str, password: str, **links) -> DemoAccount:
    sm = current_app.appbuilder.sm
    user = sm.find_user(username=username)
    if user is None:
        user = sm.add_user(
            username=username,
            first_name=who,
            last_name="",
            email=f"{username.lower()}@demo.jianpei.invalid",
            role=sm.find_role(role),
            hashed_password=_password_hash(password),
        )
        for key, value in links.items():
            setattr(user, key, value)
        db.session.commit()
    return DemoAccount(role=role, username=username, password=password, who=who)


@functools.cache
def _password_hash(password: str) -> str:
    """One hash for all demo accounts (they share the password): ~0.25 s each otherwise."""
    config = current_app.config
    return generate_password_hash(password, method=config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
                                  salt_length=config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16))
