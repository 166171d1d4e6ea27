"""Seeding: approved enterprises with a user and photographed trainees in plans open for
enrolment, plus past enrolments for the search, in bulk inserts."""
import datetime as dt
import io
import random
from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa

from app.extensions import db
from bench.loadtest.settings import PASSWORD

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
            "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵")
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文斌林宇浩凯鹏辉永春海波东立新德福"


def jpeg(size: tuple[int, int], colour: str, label: str) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).text((8, 8), label, fill="black")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def person_name(rng: random.Random) -> str:
    # A few surnames are much commoner than the rest, as in life.
    surname = SURNAMES[min(int(rng.paretovariate(1.2)) - 1, len(SURNAMES) - 1)
                       if rng.random() < 0.6 else rng.randrange(len(SURNAMES))]
    return surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def seed(n: int, background: int, n_plans: int = 5) -> dict:
    """Enterprises, users, open plans with too few seats, trainees with photos, past enrolments."""
    from flask import current_app

    from app import clock, scope
    from app.integrations.storage import storage
    from app.services.codes import id_check_digit, uscc_check_char
    from models import Enterprise, Institution, Occupation, OccupationLevel, TrainingPlan
    from models.enrolment import Enrolment, Person
    from models.states import EnrolmentState
    from models.user import JianpeiUser

    rng = random.Random(2026)
    now = clock.now()
    occupations = db.session.scalars(sa.select(Occupation.id).order_by(Occupation.id)).all()
    levels = db.session.scalars(sa.select(OccupationLevel.id).order_by(OccupationLevel.id)).all()
    institution = Institution(name="负荷测试培训中心", region_code="330100")
    db.session.add(institution)
    db.session.flush()

    def plan_row(i: int, quota: int, enrol_start: dt.datetime, days: int) -> dict:
        return dict(institution_id=institution.id, occupation_id=occupations[i % len(occupations)],
                    level_id=levels[i % len(levels)], quota=quota, fee=Decimal("680.00"),
                    enrol_start=enrol_start, enrol_end=enrol_start + dt.timedelta(days=days),
                    train_start=(enrol_start + dt.timedelta(days=days + 1)).date(),
                    train_end=(enrol_start + dt.timedelta(days=days + 15)).date(),
                    venue=f"实训基地{i}", region_code="330100", review_state="approved",
                    created_at=enrol_start - dt.timedelta(days=3))

    # Open plans: enterprise i enrols 2-4 trainees in plan i % n_plans; quotas ~60 % of demand.
    trainees_of = [2 + i % 3 for i in range(n)]
    demand = [sum(trainees_of[i] for i in range(p, n, n_plans)) for p in range(n_plans)]
    shares = [0.4, 0.5, 0.6, 0.7, 0.8]
    quotas = [max(2, round(demand[p] * shares[p % len(shares)])) for p in range(n_plans)]
    plan_rows = [plan_row(p, quotas[p], now - dt.timedelta(days=1), 10) for p in range(n_plans)]
    past_rows = [plan_row(n_plans + k, 500, now - dt.timedelta(days=400 - 30 * k), 20)
                 for k in range(12)]
    db.session.execute(sa.insert(TrainingPlan), plan_rows + past_rows)
    plans = db.session.execute(sa.select(TrainingPlan.id, TrainingPlan.occupation_id,
                                         TrainingPlan.level_id, TrainingPlan.enrol_start)
                               .where(TrainingPlan.institution_id == institution.id)
                               .order_by(TrainingPlan.id)).all()
    open_plans, past_plans = plans[:n_plans], plans[n_plans:]

    enterprises = []
    for i in range(n):
        body = f"91330100MA{i + 1:07d}"
        enterprises.append(dict(uscc=body + uscc_check_char(body), name=f"负荷测试建设有限公司{i}",
                                region_code="330100", province_owned=False,
                                review_state="approved", contact_mobile="13800138000",
                                reviewed_at=now, created_at=now - dt.timedelta(days=30)))
    db.session.execute(sa.insert(Enterprise), enterprises)
    rows = db.session.execute(sa.select(Enterprise.id, Enterprise.uscc)
                              .order_by(Enterprise.id)).all()
    enterprise_ids, usernames = [r.id for r in rows], [r.uscc for r in rows]

    sm = current_app.appbuilder.sm
    role = sm.find_role(scope.ENTERPRISE)
    first = sm.add_user(usernames[0], usernames[0], "", "load0@bench.invalid", role,
                        password=PASSWORD)
    first.enterprise_id = enterprise_ids[0]
    db.session.flush()
    db.session.execute(sa.insert(JianpeiUser), [dict(
        username=usernames[i], first_name=usernames[i], last_name="",
        email=f"load{i}@bench.invalid", active=True, password=first.password,
        enterprise_id=enterprise_ids[i], session_version=0, created_on=now, changed_on=now)
        for i in range(1, n)])
    user_ids = db.session.scalars(sa.select(JianpeiUser.id).where(
        JianpeiUser.username.in_(usernames[1:]))).all()
    user_roles = JianpeiUser.__mapper__.relationships["roles"].secondary
    db.session.execute(sa.insert(user_roles), [dict(user_id=u, role_id=role.id) for u in user_ids])

    # Photos: one set of real JPEGs per enterprise (the 报名 page shows their thumbnails).
    files = storage()
    photo_keys = [(files.save(jpeg((295, 413), "lightblue", f"photo {i}"), ".jpg"),
                   files.save(jpeg((90, 126), "lightblue", f"t{i}"), ".jpg"),
                   files.save(jpeg((640, 404), "wheat", f"id {i}"), ".jpg")) for i in range(n)]

    people, enrolments, names = [], [], defaultdict(list)
    k = 0

    def add(i: int, plan, created_at: dt.datetime) -> None:
        nonlocal k
        birth = dt.date(1965, 1, 1) + dt.timedelta(days=k // 900)
        body = f"330106{birth:%Y%m%d}{k % 900 + 100:03d}"
        name = person_name(rng)
        names[i].append(name)
        people.append(dict(id_number=body + id_check_digit(body), name=name,
                           gender=rng.choice("男男男女"), birth_date=birth, updated_at=now))
        photo, thumb, id_photo = photo_keys[i]
        enrolments.append(dict(plan_id=plan.id, enterprise_id=enterprise_ids[i],
                               occupation_id=plan.occupation_id, level_id=plan.level_id,
                               mobile=f"139{k:08d}", education_id=1, title_id=1,
                               status=EnrolmentState.LIVE.value, photo_key=photo, photo_thumb_key=thumb,
                               id_photo_key=id_photo, created_at=created_at))
        k += 1

    open_names = defaultdict(list)
    for i in range(n):
        for _ in range(trainees_of[i]):
            add(i, open_plans[i % n_plans], now - dt.timedelta(hours=rng.randint(1, 20)))
            open_names[i].append(names[i][-1])
        for _ in range(background):
            plan = rng.choice(past_plans)
            add(i, plan, plan.enrol_start + dt.timedelta(hours=rng.randint(1, 400)))
    db.session.execute(sa.insert(Person), people)
    person_ids = db.session.scalars(sa.select(Person.id).order_by(Person.id)).all()
    for row, person_id in zip(enrolments, person_ids):
        row["person_id"] = person_id
    db.session.execute(sa.insert(Enrolment), enrolments)
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    users = []
    for i in range(n):
        own = names[i]
        # What a clerk types: a surname, a surname and the first given character, a full name.
        queries = sorted({nm[0] for nm in own[:40]} | {nm[:2] for nm in own[:20]}
                         | set(open_names[i]))
        users.append({"username": usernames[i], "plan_id": open_plans[i % n_plans].id,
                      "trainees": trainees_of[i], "queries": queries,
                      "address": f"10.{20 + i // 250}.{i % 250 // 10}.{i % 10 + 10}"})
    return {"users": users, "open_plans": [p.id for p in open_plans], "quotas": quotas,
            "demand": demand, "past_plans": len(past_plans), "people": len(people),
            "enrolments": len(enrolments)}
