"""报名人员查询 at scale: search by ID number, name and mobile among N live enrolments.

Usage: .venv/bin/python bench/search.py [--enrolments 200000] [--enterprises 500]
       [--plans 200] [--queries 200] [--explain] [--target-ms 25]
Set DATABASE_URL to measure on PostgreSQL (a scratch database is created on that server and
dropped afterwards); without it, a temporary SQLite file is used.

Seeds (bulk inserts: COPY on PostgreSQL, with the foreign-key triggers off and the big tables'
secondary indexes built once afterwards, so 1,000,000 enrolments take minutes; executemany on
SQLite; then ANALYZE, on PostgreSQL VACUUM ANALYZE: a served database's autovacuum keeps the
visibility map that lets the name search's count read its indexes alone, while right after a
COPY, on a server with autovacuum off as this machine's is, every index-only scan still visits
the table) N live enrolments of about N/1.15 people (one in seven is enrolled
twice) for `--enterprises` enterprises in the eleven cities, in `--plans` training plans of
every phase; about a fifth of the enrolments are in plans with an assessment plan, most of
those with a score report and certificates, so the search's outer joins have rows to find.
People have valid GB 11643 ID numbers (Zhejiang and the provinces construction workers come
from), common Chinese names (many repeats); each enrolment carries its enterprise's snapshot
of the worker (unique-ish mobile, education, title; each person works for one enterprise, so
the same for both of a person's enrolments).

Then, at the service level (`trainees.search(Search(q=...), user)` inside an app context,
each call in a fresh session with the user loaded first, as a request would), for three
users — the province regulator (everything), the 杭州 city regulator, one enterprise — and
six kinds of key — exact ID number, ID prefix (10 digits), exact name, name prefix (surname
and first given character), exact mobile, mobile prefix (7 digits) — it runs `--queries`
searches with keys drawn at random from the people in that user's scope; and, as tail cases
outside the issue's list, searches for the 30 commonest names in scope (张伟, 王伟, ...: the
searches matching the most people) and the page before any key is typed (no_key: everyone in
scope). It reports p50, p95 and max of the whole call, of its count statement (capped at
trainees.COUNT_CAP + 1 rows) and of its page statement (timed at the cursor), of the next page
through its cursor when there is one, the matches found (sum and max of the capped total,
COUNT_CAP + 1 meaning "more"), and whether every total, "1000+" flag and page length agrees
with the seeded rows. Prints a table and writes bench/results/search.json with the database
kind, row counts, seed time (and its phases), the load average (the figures are only as quiet
as the machine) and whether each p95 is under the target (issue 19: 25 ms up to 200,000
enrolments, 50 ms at 1,000,000). `--explain` also stores the plans of each case's slowest
search (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN (ANALYZE, BUFFERS)).

PostgreSQL planner settings can be tried without code changes through libpq, e.g.
PGOPTIONS='-c random_page_cost=1.1' DATABASE_URL=postgresql://... .venv/bin/python bench/search.py
"""
import argparse
import bisect
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="jianpei-bench-"))
os.environ.setdefault("JIANPEI_INSTANCE", str(TMP))

import sqlalchemy as sa  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from bench.pages import database_uri, drop_database  # noqa: E402

# Issue 19's targets for the worst key's p95: 25 ms at 200,000 enrolments (SQLite and
# PostgreSQL), 50 ms at province scale (1,000,000 on PostgreSQL); --target-ms overrides.
TARGET_MS = {200_000: 25.0, 1_000_000: 50.0}
PASSWORD = "Bench@12345"
CITY = "330100"  # the city regulator's city
CITIES = {"330100": 22, "330200": 16, "330300": 13, "330400": 8, "330500": 5, "330600": 8,
          "330700": 10, "330800": 4, "330900": 3, "331000": 8, "331100": 3}

# Where people were born (GB/T 2260 county codes): Zhejiang, and the provinces many
# construction workers come from. Weights are rough shares.
BIRTH_REGIONS = {
    "330102": 2, "330105": 2, "330106": 3, "330108": 2, "330109": 3, "330110": 3, "330122": 2,
    "330127": 2, "330182": 2, "330203": 2, "330205": 2, "330206": 2, "330211": 1, "330212": 3,
    "330281": 2, "330302": 2, "330303": 2, "330304": 2, "330324": 2, "330381": 3, "330382": 3,
    "330402": 1, "330411": 1, "330421": 1, "330481": 1, "330502": 1, "330503": 1, "330521": 1,
    "330602": 1, "330603": 1, "330624": 1, "330681": 2, "330702": 1, "330703": 1, "330723": 1,
    "330782": 2, "330802": 1, "330803": 1, "330881": 1, "330902": 1, "331002": 1, "331003": 1,
    "331004": 1, "331081": 2, "331102": 1, "331121": 1,
    "340121": 2, "340221": 2, "341221": 3, "341282": 2, "342401": 2, "360121": 2, "362201": 2,
    "410122": 2, "411323": 3, "412721": 3, "420117": 2, "421022": 2, "430124": 2, "431021": 2,
    "510121": 3, "511304": 3, "513021": 2, "500101": 3, "500230": 2, "520121": 2, "522121": 2,
    "450121": 1, "130124": 1, "130421": 1, "370124": 1, "320321": 1, "620121": 1,
}
SURNAMES = {
    "王": 71, "李": 70, "张": 68, "刘": 53, "陈": 45, "杨": 31, "黄": 23, "赵": 22, "吴": 20,
    "周": 19, "徐": 17, "孙": 15, "马": 14, "朱": 13, "胡": 12, "郭": 11, "何": 10, "高": 10,
    "林": 10, "罗": 9, "郑": 9, "梁": 8, "谢": 7, "宋": 7, "唐": 7, "许": 6, "韩": 6, "冯": 6,
    "邓": 6, "曹": 6, "彭": 5, "曾": 5, "肖": 5, "田": 5, "董": 5, "袁": 5, "潘": 5, "于": 5,
    "蒋": 5, "蔡": 5, "余": 4, "杜": 4, "叶": 4, "程": 4, "苏": 4, "魏": 4, "吕": 4, "丁": 4,
    "任": 4, "沈": 4, "姚": 3, "卢": 3, "姜": 3, "崔": 3, "钟": 3, "谭": 3, "陆": 3, "汪": 3,
    "范": 3, "金": 3, "石": 3, "廖": 3, "贾": 3, "夏": 3, "韦": 3, "方": 3, "邹": 2, "熊": 2,
    "孟": 2, "秦": 2, "白": 2, "江": 2, "阎": 2, "薛": 2, "尹": 2, "段": 2, "雷": 2, "黎": 2,
    "史": 2, "龙": 2, "陶": 2, "贺": 2, "顾": 2, "毛": 2, "郝": 2, "龚": 2, "邵": 2, "万": 2,
    "钱": 2, "严": 2, "覃": 1, "武": 1, "戴": 1, "莫": 1, "孔": 1, "向": 1, "汤": 1, "欧阳": 1,
    "诸葛": 1, "司马": 1,
}
GIVEN = ("伟 强 军 勇 杰 涛 明 超 刚 平 辉 华 建 国 志 海 峰 鹏 斌 林 波 飞 磊 东 亮 春 德 文 成 "
         "兵 龙 荣 新 红 宇 俊 云 金 福 生 庆 永 祥 宏 良 清 忠 民 玉 兴 家 发 立 旭 晓 冬 江 山 "
         "秀 英 芳 丽 敏 静 燕 霞 梅 娟 兰 琴 萍 丹 玲 桂 凤 洪 长 水 友 学 佳 浩 宁 安 宝 顺 "
         "晨 阳 正 振 世 小 亚 连").split()
MOBILE_SEGMENTS = ("130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
                   "166 173 176 177 180 181 182 183 185 186 187 188 189 191 198 199").split()
KINDS = ("id_exact", "id_prefix", "name_exact", "name_prefix", "mobile_exact", "mobile_prefix")
# Not in the list, measured as the tail: the 30 commonest names in the user's scope
# (张伟, 王伟, ...), the searches that match the most people; and the page before any key is
# typed (no_key: every trainee in scope matches).
TAIL_KINDS = ("name_common", "no_key")


# Seeding --------------------------------------------------------------------------------------

def bulk_insert(table, rows: list[dict]) -> None:
    """COPY on PostgreSQL, executemany elsewhere (as app.services.enrolment does)."""
    if not rows:
        return
    if db.session.get_bind().dialect.name != "postgresql":
        for start in range(0, len(rows), 50_000):
            db.session.execute(sa.insert(table), rows[start:start + 50_000])
        return
    columns = list(rows[0])
    connection = db.session.connection().connection.driver_connection  # psycopg 3
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])


def bulk_load_start() -> list:
    """PostgreSQL: no per-row foreign-key triggers during the COPYs (the rows are consistent by
    construction) and no secondary indexes on the big tables, built once by bulk_load_end()
    instead of row by row: a 1,000,000-enrolment seed in minutes. Elsewhere nothing."""
    if db.session.get_bind().dialect.name != "postgresql":
        return []
    indexes = db.session.execute(sa.text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN "
        "('person', 'enrolment', 'certificate') "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)")).all()
    for name, _ in indexes:
        db.session.execute(sa.text(f'DROP INDEX "{name}"'))
    db.session.execute(sa.text("SET session_replication_role = replica"))
    return indexes


def bulk_load_end(indexes: list) -> None:
    if db.session.get_bind().dialect.name != "postgresql":
        return
    db.session.execute(sa.text("RESET session_replication_role"))
    db.session.execute(sa.text("SET maintenance_work_mem = '256MB'"))
    for _, definition in indexes:
        db.session.execute(sa.text(definition))


def _weighted(rng: random.Random, weights: dict | list, keys: list | None = None):
    """A function drawing one of `keys` (or of the dict's keys) by weight."""
    keys = list(weights) if keys is None else keys
    values = list(weights.values()) if isinstance(weights, dict) else weights
    total, cumulative = 0.0, []
    for value in values:
        total += value
        cumulative.append(total)
    return lambda: keys[bisect.bisect_right(cumulative, rng.random() * total)]


def make_people(rng: random.Random, count: int, now: dt.datetime, educations, titles) -> list:
    """Person rows (identity only); `_snapshot` is what the person's enterprise records on each
    of its enrolments (mobile, education, title)."""
    from app.services.codes import id_check_digit

    region = _weighted(rng, BIRTH_REGIONS)
    surname = _weighted(rng, SURNAMES)
    given = _weighted(rng, [1 / (rank + 4) for rank in range(len(GIVEN))], GIVEN)
    hlr = {segment: rng.sample(range(10_000), 60) for segment in MOBILE_SEGMENTS}
    numbers, people = set(), []
    first_birth, span = dt.date(1963, 1, 1), (dt.date(2004, 12, 31) - dt.date(1963, 1, 1)).days
    while len(people) < count:
        birth = first_birth + dt.timedelta(days=rng.randrange(span))
        male = rng.random() < 0.88
        sequence = rng.randrange(0, 1000, 2) + (1 if male else 0)
        body = f"{region()}{birth:%Y%m%d}{sequence:03d}"
        number = body + id_check_digit(body)
        if number in numbers:
            continue
        numbers.add(number)
        family = surname()
        given_name = given() if rng.random() < 0.3 else given() + given()
        segment = rng.choice(MOBILE_SEGMENTS)
        mobile = f"{segment}{rng.choice(hlr[segment]):04d}{rng.randrange(10_000):04d}"
        people.append(dict(
            id=len(people) + 1, id_number=number, name=family + given_name,
            gender="男" if male else "女", birth_date=birth, updated_at=now,
            _prefix=family + given_name[0],
            _snapshot=dict(mobile=mobile, education_id=rng.choice(educations),
                           title_id=rng.choice(titles))))
    return people


def seed(args) -> dict:
    """Everything the searches need; returns the seeded rows (kept for the expected counts)."""
    from app import clock
    from app.services.codes import uscc_check_char
    from models import (
        AssessmentPlan,
        Certificate,
        Education,
        Enrolment,
        Enterprise,
        Institution,
        Occupation,
        OccupationLevel,
        Person,
        ProfessionalTitle,
        ScoreReport,
        TrainingPlan,
    )
    from models.states import EnrolmentState

    rng = random.Random(args.seed)
    now = clock.now()
    timings, started = {}, time.perf_counter()
    indexes = bulk_load_start()
    occupations = db.session.scalars(sa.select(Occupation.id)).all()
    levels = db.session.scalars(sa.select(OccupationLevel.id)).all()
    educations = db.session.scalars(sa.select(Education.id)).all()
    titles = db.session.scalars(sa.select(ProfessionalTitle.id)).all()
    city = _weighted(rng, CITIES)

    enterprises = []
    for i in range(args.enterprises):
        code = city()
        body = f"91{code}MA{i:07d}"[:17]
        enterprises.append(dict(
            id=i + 1, uscc=body + uscc_check_char(body), name=f"基准建设工程有限公司{i}",
            region_code=code, province_owned=i % 23 == 0, review_state="approved",
            contact_mobile="13800138000", created_at=now - dt.timedelta(days=400 + i)))
    bulk_insert(Enterprise.__table__, enterprises)
    institutions = [dict(id=i + 1, name=f"基准培训机构{i}", region_code=code)
                    for i, code in enumerate(c for c in CITIES for _ in range(max(1, CITIES[c] // 4)))]
    bulk_insert(Institution.__table__, institutions)

    # Plans: a few not yet reviewed or not yet open (no enrolments), then enrolling,
    # enrolment closed and (mostly, as history accumulates) training ended.
    plans = []
    for i in range(args.plans):
        institution = institutions[i % len(institutions)]
        roll = rng.random()
        if roll < 0.05:
            review, start = "submitted", now + dt.timedelta(days=rng.randint(5, 30))
        elif roll < 0.12:
            review, start = "approved", now + dt.timedelta(days=rng.randint(1, 30))
        elif roll < 0.27:
            review, start = "approved", now - dt.timedelta(days=rng.randint(1, 19))
        elif roll < 0.40:
            review, start = "approved", now - dt.timedelta(days=rng.randint(21, 40))
        else:
            review, start = "approved", now - dt.timedelta(days=rng.randint(60, 900))
        start = start.replace(hour=9, minute=0, second=0)
        plans.append(dict(
            id=i + 1, institution_id=institution["id"], occupation_id=rng.choice(occupations),
            level_id=rng.choice(levels), quota=1, fee=Decimal("680.00"), enrol_start=start,
            enrol_end=start + dt.timedelta(days=20),
            train_start=(start + dt.timedelta(days=25)).date(),
            train_end=(start + dt.timedelta(days=45)).date(), venue=f"实训基地{i}",
            region_code=institution["region_code"], review_state=review,
            created_at=start - dt.timedelta(days=10)))
    open_plans = [p for p in plans if p["review_state"] == "approved" and p["enrol_start"] <= now]
    ended = [p for p in open_plans if p["train_end"] < now.date()]
    by_city = defaultdict(list)
    for plan in open_plans:
        by_city[plan["region_code"]].append(plan)
    plan_weight = {p["id"]: rng.uniform(0.3, 1.7) for p in open_plans}
    draw_plan = {code: _weighted(rng, [plan_weight[p["id"]] for p in pool], pool)
                 for code, pool in by_city.items()}
    draw_any_plan = _weighted(rng, [plan_weight[p["id"]] for p in open_plans], open_plans)

    # People: each works for one enterprise and enrols mostly in plans of its city.
    n_people = max(1, round(args.enrolments / 1.15))
    people = make_people(rng, n_people, now, educations, titles)
    draw_enterprise = _weighted(rng, [rng.uniform(0.2, 1.8) for _ in enterprises], enterprises)
    enrolments, pairs = [], set()
    while len(enrolments) < args.enrolments:
        k = len(enrolments)
        person = people[k] if k < len(people) else rng.choice(people)
        if k < len(people):
            person["_enterprise"] = draw_enterprise()
        enterprise = person["_enterprise"]
        local = draw_plan.get(enterprise["region_code"]) if rng.random() < 0.85 else None
        plan = local() if local else draw_any_plan()
        if (person["id"], plan["id"]) in pairs:
            continue
        pairs.add((person["id"], plan["id"]))
        window = (min(plan["enrol_end"], now) - plan["enrol_start"]).total_seconds()
        enrolled = plan["enrol_start"] + dt.timedelta(seconds=int(rng.random() * window))
        enrolments.append(dict(
            id=k + 1, person_id=person["id"], plan_id=plan["id"],
            enterprise_id=enterprise["id"], occupation_id=plan["occupation_id"],
            level_id=plan["level_id"], **person["_snapshot"], status=EnrolmentState.LIVE.value,
            photo_key=f"p/{k}.jpg", photo_thumb_key=f"t/{k}.jpg", id_photo_key=f"i/{k}.jpg",
            created_at=enrolled))
    per_plan = Counter(e["plan_id"] for e in enrolments)
    plan_enrolments = defaultdict(list)
    for e in enrolments:
        plan_enrolments[e["plan_id"]].append(e)
    for plan in plans:
        plan.update(quota=max(50, per_plan[plan["id"]]), seats_reserved=0, seats_paid=0)
    timings["generate_s"] = time.perf_counter() - started
    bulk_insert(TrainingPlan.__table__, plans)
    bulk_insert(Person.__table__, [{k: v for k, v in p.items() if not k.startswith("_")}
                                   for p in people])
    bulk_insert(Enrolment.__table__, enrolments)

    # After training: assessment plans for ended plans until ~20% of enrolments have one;
    # score reports for most of the approved ones; certificates for those that passed.
    target, covered, assessments, reports, certificates = 0.2 * len(enrolments), 0, [], [], []
    for plan in rng.sample(ended, len(ended)):
        if covered >= target:
            break
        covered += per_plan[plan["id"]]
        exam = dt.datetime.combine(plan["train_end"] + dt.timedelta(days=7), dt.time(9))
        state = rng.choices(["draft", "reported", "approved", "rejected"], [1, 1, 6, 1])[0]
        assessments.append(dict(
            id=len(assessments) + 1, plan_id=plan["id"], exam_start=exam,
            exam_end=exam + dt.timedelta(hours=3), venue="考点", theory_part="理论考试",
            practical_part="实操考试", theory_pass=60, practical_pass=60, state=state,
            created_at=exam - dt.timedelta(days=5)))
        if state == "approved" and rng.random() < 0.85:
            report = rng.choices(["accepted", "approved", "rejected"], [1, 5, 1])[0]
            reports.append(dict(id=len(reports) + 1, assessment_id=assessments[-1]["id"],
                                state=report, imported_at=exam + dt.timedelta(days=3)))
            if report == "approved":
                for e in plan_enrolments[plan["id"]]:
                    if rng.random() < 0.9:
                        n = len(certificates) + 1
                        certificates.append(dict(
                            id=n, enrolment_id=e["id"], number=f"330{exam:%Y}{n:09d}",
                            issued_on=exam.date() + dt.timedelta(days=20),
                            occupation_id=e["occupation_id"], level_id=e["level_id"],
                            holder_name=people[e["person_id"] - 1]["name"],
                            state=rng.choice(["generated", "pushed", "pushed"]),
                            verify_token=f"{rng.getrandbits(128):032x}", push_attempts=0,
                            created_at=exam + dt.timedelta(days=20)))
    bulk_insert(AssessmentPlan.__table__, assessments)
    bulk_insert(ScoreReport.__table__, reports)
    bulk_insert(Certificate.__table__, certificates)
    timings["insert_s"] = time.perf_counter() - started - timings["generate_s"]
    bulk_load_end(indexes)
    db.session.commit()
    timings["index_s"] = time.perf_counter() - started - timings["generate_s"] - timings["insert_s"]

    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            for table in ("enterprise", "institution", "training_plan", "person", "enrolment",
                          "assessment_plan", "score_report", "certificate"):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE" if db.engine.dialect.name == "postgresql"
                             else "ANALYZE"))
    timings["total_s"] = time.perf_counter() - started

    assessed = {a["plan_id"] for a in assessments}
    reported = {a["plan_id"] for a in assessments if any(r["assessment_id"] == a["id"]
                                                         for r in reports)}
    return {
        "people": people, "enrolments": enrolments, "plans": plans, "enterprises": enterprises,
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "counts": {
            "enterprises": len(enterprises), "institutions": len(institutions),
            "plans": len(plans), "plans_with_enrolments": len(per_plan),
            "people": len(people), "enrolments_live": len(enrolments),
            "assessment_plans": len(assessments), "score_reports": len(reports),
            "certificates": len(certificates),
            "enrolments_with_assessment_plan": sum(per_plan[p] for p in assessed),
            "enrolments_with_score_report": sum(per_plan[p] for p in reported),
            "distinct_names": len({p["name"] for p in people}),
            "distinct_mobiles": len({e["mobile"] for e in enrolments}),
        },
    }


def make_users(world: dict) -> dict:
    """The three users measured; the enterprise is the one with the median enrolment count."""
    from flask import current_app

    from app import scope
    from models import Authority

    per_enterprise = Counter(e["enterprise_id"] for e in world["enrolments"])
    ranked = sorted(per_enterprise, key=lambda k: (per_enterprise[k], k))
    enterprise_id = ranked[len(ranked) // 2]

    def authority(code):
        return db.session.scalars(sa.select(Authority).where(Authority.region_code == code)).one()

    wanted = {
        "province": (scope.PROVINCE_REGULATOR, {"authority_id": authority("330000").id}),
        "city": (scope.CITY_REGULATOR, {"authority_id": authority(CITY).id}),
        "enterprise": (scope.ENTERPRISE, {"enterprise_id": enterprise_id}),
    }
    sm = current_app.appbuilder.sm
    users = {}
    for label, (role, links) in wanted.items():
        user = sm.add_user(f"bench-{label}", label, "", f"{label}@bench.invalid",
                           sm.find_role(role), password=PASSWORD)
        for key, value in links.items():
            setattr(user, key, value)
        users[label] = user.id
    db.session.commit()
    return users


# Expected counts, from the seeded rows -------------------------------------------------------

class Oracle:
    """What search() should count, computed without the database (codepoint order, like
    SQLite's BINARY and PostgreSQL's C collation). ID number and name belong to the person,
    the mobile to each enrolment (its enterprise's snapshot)."""

    def __init__(self, world: dict):
        region = {p["id"]: p["region_code"] for p in world["plans"]}
        # person id -> [(plan region, enterprise id, enrolment id, mobile)]
        self.enrolments = defaultdict(list)
        self.placed = {}  # enrolment id -> that tuple, what a scope looks at
        for e in world["enrolments"]:
            placed = (region[e["plan_id"]], e["enterprise_id"], e["id"], e["mobile"])
            self.enrolments[e["person_id"]].append(placed)
            self.placed[e["id"]] = placed
        self.sorted = {field: sorted((p[field], p["id"]) for p in world["people"])
                       for field in ("id_number", "name")}
        self.sorted["mobile"] = sorted((e["mobile"], e["id"]) for e in world["enrolments"])

    def _prefixed(self, field: str, text: str) -> set:
        """Ids (of people; of enrolments for the mobile) whose field starts with text."""
        rows = self.sorted[field]
        found, i = set(), bisect.bisect_left(rows, (text,))
        while i < len(rows) and rows[i][0].startswith(text):
            found.add(rows[i][1])
            i += 1
        return found

    def _equal(self, field: str, text: str) -> set:
        rows = self.sorted[field]
        found, i = set(), bisect.bisect_left(rows, (text,))
        while i < len(rows) and rows[i][0] == text:
            found.add(rows[i][1])
            i += 1
        return found

    def count(self, q: str, scope) -> int:
        from app.services.trainees import DIGITS

        enrolments = set()
        if DIGITS.match(q):
            number = q.upper()
            if len(number) == 18:
                people = self._equal("id_number", number)
            else:
                people = self._prefixed("id_number", number)
                if len(number) == 11:
                    enrolments = self._equal("mobile", number)
                elif len(number) < 11:
                    enrolments = self._prefixed("mobile", number)
        else:
            people = self._prefixed("name", q)
        enrolments |= {e[2] for p in people for e in self.enrolments[p]}
        return sum(1 for e in enrolments if scope(self.placed[e]))


# Measuring ------------------------------------------------------------------------------------

class StatementTimer:
    """Wall time of each statement at the cursor (psycopg fetches the result in execute),
    and the statements themselves, to explain them afterwards."""

    def __init__(self, engine):
        self.samples: list[float] = []
        self.statements: list[tuple] = []
        sa.event.listen(engine, "before_cursor_execute", self.before)
        sa.event.listen(engine, "after_cursor_execute", self.after)

    def clear(self):
        self.samples.clear()
        self.statements.clear()

    def before(self, conn, cursor, statement, parameters, *_):
        conn.info["bench_t0"] = time.perf_counter()
        self.statements.append((statement, parameters))

    def after(self, conn, *_):
        self.samples.append((time.perf_counter() - conn.info.pop("bench_t0")) * 1000)


def explain(statements: list[tuple]) -> list[str]:
    """The plans of the statements, as the database ran them (PostgreSQL: with timings)."""
    postgresql = db.engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgresql else "EXPLAIN QUERY PLAN "
    plans = []
    with db.engine.connect() as conn:
        for statement, parameters in statements:
            found = conn.exec_driver_sql(prefix + statement, parameters).all()
            plans.append("\n".join(str(row[0]) if postgresql else
                                   f"{row[1]:>3} {row[2]:>3} {row[3]}" for row in found))
    return plans


def keys_for(kind: str, person: dict, mobile: str) -> str:
    """A key for a person in scope; `mobile` is the one on the person's first enrolment there."""
    return {"id_exact": person["id_number"], "id_prefix": person["id_number"][:10],
            "name_exact": person["name"], "name_prefix": person["_prefix"],
            "mobile_exact": mobile, "mobile_prefix": mobile[:7]}[kind]


def quantiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2),
            "max_ms": round(ordered[-1], 2)}


def measure(world: dict, users: dict, queries: int, warmup: int, seed: int,
            explain_slowest: bool, target_ms: float) -> list[dict]:
    from app.services import trainees
    from models import Enrolment, JianpeiUser

    rng = random.Random(seed + 1)
    oracle = Oracle(world)
    timer = StatementTimer(db.engine)
    results = []
    for label, user_id in users.items():
        user = db.session.get(JianpeiUser, user_id)
        if label == "city":
            scope = lambda e: e[0] == CITY  # noqa: E731
        elif label == "enterprise":
            scope = lambda e, mine=user.enterprise_id: e[1] == mine  # noqa: E731
        else:
            scope = lambda e: True  # noqa: E731
        in_scope = [p for p in world["people"] if any(scope(e) for e in oracle.enrolments[p["id"]])]
        mobile_in_scope = {p["id"]: next(e[3] for e in oracle.enrolments[p["id"]] if scope(e))
                           for p in in_scope}
        scope_rows = db.session.scalar(sa.select(sa.func.count()).select_from(
            trainees._joined(user).with_only_columns(Enrolment.id).subquery()))
        common = [name for name, _ in Counter(p["name"] for p in in_scope).most_common(30)]
        expected_counts: dict[str, int] = {}
        db.session.remove()
        for kind in KINDS + TAIL_KINDS:
            if kind == "name_common":
                keys = [rng.choice(common) for _ in range(warmup + queries)]
            elif kind == "no_key":
                keys = [""] * (warmup + queries)
            else:
                keys = [keys_for(kind, person, mobile_in_scope[person["id"]])
                        for person in (rng.choice(in_scope) for _ in range(warmup + queries))]
            calls, counts, pages, totals, wrong, nexts = [], [], [], [], [], []
            slowest = (0.0, "", [])
            for n, q in enumerate(keys):
                user = db.session.get(JianpeiUser, user_id)
                _ = [role.name for role in user.roles], user.authority, user.enterprise_id
                timer.clear()
                t0 = time.perf_counter()
                page = trainees.search(trainees.Search(q=q), user)
                elapsed = (time.perf_counter() - t0) * 1000
                statements = list(timer.samples)
                timed = list(timer.statements)
                following = None
                if page.next and n >= warmup:  # the page after it, through its cursor
                    timer.clear()
                    t0 = time.perf_counter()
                    following = trainees.search(trainees.Search(q=q), user, page.next)
                    nexts.append((time.perf_counter() - t0) * 1000)
                db.session.remove()
                if n < warmup:
                    continue
                # The capped count, then the page: its ids, then (if any) its rows.
                assert len(statements) in (2, 3), statements
                calls.append(elapsed)
                counts.append(statements[0])
                pages.append(sum(statements[1:]))
                if elapsed > slowest[0]:
                    slowest = (elapsed, q, timed)
                totals.append(page.total + page.capped)
                if q not in expected_counts:
                    expected_counts[q] = oracle.count(q, scope)
                expected = expected_counts[q]
                shown = min(expected, trainees.COUNT_CAP)
                if ((page.total, page.capped) != (shown, expected > trainees.COUNT_CAP)
                        or len(page.rows) != min(expected, trainees.PER_PAGE)
                        or (following is not None and len(following.rows) != min(
                            expected - trainees.PER_PAGE, trainees.PER_PAGE))):
                    wrong.append({"q": q, "total": page.total_text, "expected": expected,
                                  "rows": len(page.rows)})
            call = quantiles(calls)
            plans = {}
            if explain_slowest:
                plans = {"slowest_q": slowest[1], "plans": dict(zip(
                    ("count", "page_ids", "page_rows"), explain(slowest[2])))}
            results.append({
                "user": label, "kind": kind, "tail": kind in TAIL_KINDS, "queries": queries,
                "scope_rows": scope_rows,
                "search": call, "count_statement": quantiles(counts),
                "page_statement": quantiles(pages),
                "next_page": quantiles(nexts) if nexts else None,
                "next_pages_timed": len(nexts),
                "matches_sum": sum(totals), "matches_max": max(totals),
                "capped_results": sum(1 for t in totals if t > trainees.COUNT_CAP),
                "empty_results": sum(1 for t in totals if t == 0),
                "totals_correct": not wrong, "wrong_samples": wrong[:3],
                "p95_under_target": call["p95_ms"] < target_ms, **plans})
            print(f"  {label:<10} {kind:<13} p95 {call['p95_ms']:>7} ms", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enrolments", type=int, default=200_000)
    parser.add_argument("--enterprises", type=int, default=500)
    parser.add_argument("--plans", type=int, default=200)
    parser.add_argument("--queries", type=int, default=200, help="searches per user and kind")
    parser.add_argument("--warmup", type=int, default=5, help="untimed searches before each run")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--explain", action="store_true",
                        help="explain the slowest search of each case into the JSON")
    parser.add_argument("--target-ms", type=float,
                        help="p95 target (default 25 ms up to 200,000 enrolments, else 50 ms)")
    args = parser.parse_args()
    target_ms = args.target_ms or (TARGET_MS[200_000] if args.enrolments <= 200_000
                                   else TARGET_MS[1_000_000])

    load_before = os.getloadavg()
    uri = database_uri()
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "RATELIMIT_ENABLED": False})
    try:
        with app.app_context():
            from flask_migrate import upgrade

            from app.services import roles, trainees

            upgrade()
            roles.sync_roles()
            t0 = time.perf_counter()
            world = seed(args)
            seed_s = time.perf_counter() - t0
            print(f"seeded in {seed_s:.1f} s ({world['timings']}): {world['counts']}",
                  file=sys.stderr)
            users = make_users(world)
            results = measure(world, users, args.queries, args.warmup, args.seed,
                              args.explain, target_ms)
            server = db.session.execute(sa.text(
                "SELECT version()" if uri.startswith("postgresql") else "SELECT sqlite_version()"
            )).scalar()
    finally:
        drop_database(app, uri)

    report = {
        "database": uri.split(":")[0], "server_version": server, "target_p95_ms": target_ms,
        "count_cap": trainees.COUNT_CAP, "per_page": trainees.PER_PAGE,
        "queries_per_case": args.queries, "seed": args.seed, "seed_seconds": round(seed_s, 2),
        "seed_phases_seconds": world["timings"],
        "rows": world["counts"], "cpus": os.cpu_count(),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "issue_cases_p95_under_target": all(r["p95_under_target"] for r in results
                                            if not r["tail"]),
        "tail_p95_under_target": all(r["p95_under_target"] for r in results if r["tail"]),
        "all_totals_correct": all(r["totals_correct"] for r in results),
        "results": results,
    }
    print(f"database {report['database']} ({server.split(' on ')[0]}), "
          f"{world['counts']['enrolments_live']} live enrolments, "
          f"{world['counts']['people']} people, seeded in {report['seed_seconds']} s; "
          f"{args.queries} searches per row; times in ms; {report['cpus']} CPUs, load "
          f"{report['load_average_before_after'][0]} before, "
          f"{report['load_average_before_after'][1]} after")
    print(f"{'user':<10} {'key':<13} {'in scope':>8} {'p50':>7} {'p95':>7} {'max':>7} "
          f"{'count p95':>9} {'page p95':>8} {'next p95':>8} {'matches':>8} {'max':>5} "
          f"{'capped':>6} {'empty':>5} {'totals ok':>9} {'<target':>7}")
    for r in results:
        s = r["search"]
        following = r["next_page"]["p95_ms"] if r["next_page"] else "-"
        print(f"{r['user']:<10} {r['kind']:<13} {r['scope_rows']:>8} {s['p50_ms']:>7} "
              f"{s['p95_ms']:>7} {s['max_ms']:>7} {r['count_statement']['p95_ms']:>9} "
              f"{r['page_statement']['p95_ms']:>8} {following:>8} {r['matches_sum']:>8} "
              f"{r['matches_max']:>5} {r['capped_results']:>6} {r['empty_results']:>5} "
              f"{r['totals_correct']!s:>9} {'yes' if r['p95_under_target'] else 'NO':>7}")
        for sample in r["wrong_samples"]:
            print(f"  wrong total: {sample}")
    out = ROOT / "bench" / "results" / "search.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"issue cases p95 < {target_ms:g} ms: {report['issue_cases_p95_under_target']}; "
          f"tail (name_common, no_key) p95 < {target_ms:g} ms: "
          f"{report['tail_p95_under_target']}; "
          f"totals correct: {report['all_totals_correct']}")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
