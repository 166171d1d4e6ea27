"""Latency of each role's main pages with a realistic number of rows, under row scope.

Usage: .venv/bin/python bench/pages.py [--enterprises 5000] [--plans 2000] [--rounds 30]
Seeds a fresh database (SQLite temp file, or a new PostgreSQL database on DATABASE_URL's server),
then times GET requests through the WSGI app. Prints a table and writes bench/results/pages.json.
"""
import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="jianpei-bench-"))
os.environ.setdefault("JIANPEI_INSTANCE", str(TMP))

import sqlalchemy as sa  # noqa: E402

from app import create_app  # noqa: E402
from app.config_loader import normalize_database_url  # noqa: E402
from app.extensions import db  # noqa: E402

CITIES = ["330100", "330200", "330300", "330400", "330500", "330600", "330700", "330800",
          "330900", "331000", "331100"]
PASSWORD = "Bench@12345"


def database_uri() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{TMP / 'bench.db'}"
    server = sa.engine.make_url(normalize_database_url(url))
    name = f"jianpei_bench_{os.getpid()}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def seed(n_enterprises: int, n_plans: int) -> dict:
    from app import clock
    from app.services.codes import uscc_check_char
    from models import Enterprise, Institution, Occupation, OccupationLevel, TrainingPlan

    rng = random.Random(7)
    now = clock.now()
    occupations = db.session.scalars(sa.select(Occupation.id)).all()
    levels = db.session.scalars(sa.select(OccupationLevel.id)).all()
    enterprises = []
    for i in range(n_enterprises):
        body = f"91{CITIES[i % 11][:4]}00MA{i:07d}"
        enterprises.append(dict(
            uscc=body + uscc_check_char(body), name=f"基准建设有限公司{i}",
            region_code=CITIES[i % 11], province_owned=i % 17 == 0,
            review_state=rng.choice(["pending", "approved", "approved", "rejected"]),
            created_at=now - dt.timedelta(minutes=i)))
    db.session.execute(sa.insert(Enterprise), enterprises)
    institutions = [dict(name=f"基准培训机构{i}", region_code=CITIES[i % 11]) for i in range(50)]
    db.session.execute(sa.insert(Institution), institutions)
    inst_ids = db.session.scalars(sa.select(Institution.id)).all()
    plans = []
    for i in range(n_plans):
        start = now + dt.timedelta(days=rng.randint(-200, 60))
        inst = inst_ids[i % len(inst_ids)]
        plans.append(dict(
            institution_id=inst, occupation_id=rng.choice(occupations),
            level_id=rng.choice(levels), quota=50, fee=Decimal("600.00"), enrol_start=start,
            enrol_end=start + dt.timedelta(days=20),
            train_start=(start + dt.timedelta(days=25)).date(),
            train_end=(start + dt.timedelta(days=40)).date(), venue=f"基地{i}",
            region_code=CITIES[inst % 11], review_state=rng.choice(["approved", "submitted"]),
            created_at=now))
    db.session.execute(sa.insert(TrainingPlan), plans)
    db.session.commit()
    first_enterprise = db.session.scalar(sa.select(Enterprise.id).limit(1))
    return {"enterprise_id": first_enterprise, "institution_id": inst_ids[0]}


def make_users(ids: dict) -> dict:
    from app import scope
    from models import Authority

    def authority_of(code):
        return db.session.scalars(sa.select(Authority).where(Authority.region_code == code)).one()

    users = {
        scope.ADMIN: {},
        scope.ENTERPRISE: {"enterprise_id": ids["enterprise_id"]},
        scope.INSTITUTION: {"institution_id": ids["institution_id"]},
        scope.CITY_REGULATOR: {"authority_id": authority_of("330100").id},
        scope.PROVINCE_REGULATOR: {"authority_id": authority_of("330000").id},
    }
    from flask import current_app

    sm = current_app.appbuilder.sm
    for role, links in users.items():
        user = sm.add_user(role.lower(), role, "", f"{role.lower()}@bench.invalid",
                           sm.find_role(role), password=PASSWORD)
        for key, value in links.items():
            setattr(user, key, value)
    db.session.commit()
    return {role: role.lower() for role in users}


PAGES = ["/", "/enterpriseview/list/", "/trainingplanview/list/", "/institutionview/list/",
         "/auditlogview/list/", "/enterpriseview/list/?_flt_0_name=基准建设有限公司12"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enterprises", type=int, default=5000)
    parser.add_argument("--plans", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    uri = database_uri()
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "RATELIMIT_ENABLED": False,
                      "WTF_CSRF_ENABLED": False})
    with app.app_context():
        from flask_migrate import upgrade

        from app.services import roles

        upgrade()
        roles.sync_roles()
        t0 = time.perf_counter()
        ids = seed(args.enterprises, args.plans)
        seed_s = time.perf_counter() - t0
        usernames = make_users(ids)

    results = []
    for role, username in usernames.items():
        client = app.test_client()
        client.post("/login/", data={"username": username, "password": PASSWORD})
        for page in PAGES:
            if client.get(page).status_code != 200:
                continue
            samples = []
            for _ in range(args.rounds):
                t = time.perf_counter()
                client.get(page)
                samples.append((time.perf_counter() - t) * 1000)
            samples.sort()
            results.append({"role": role, "page": page,
                            "p50_ms": round(statistics.median(samples), 1),
                            "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 1)})

    report = {"database": uri.split(":")[0], "enterprises": args.enterprises,
              "plans": args.plans, "rounds": args.rounds, "seed_seconds": round(seed_s, 2),
              "pages": results}
    print(f"{'role':<18} {'page':<52} {'p50 ms':>8} {'p95 ms':>8}")
    for row in results:
        print(f"{row['role']:<18} {row['page']:<52} {row['p50_ms']:>8} {row['p95_ms']:>8}")
    out = ROOT / "bench" / "results" / "pages.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"wrote {out}", file=sys.stderr)

    drop_database(app, uri)


def drop_database(app, uri: str) -> None:
    """Close the app's connections and drop the scratch PostgreSQL database (SQLite: keep)."""
    with app.app_context():
        db.engine.dispose()
    if not uri.startswith("postgresql"):
        return
    server = sa.engine.make_url(uri)
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {server.database} WITH (FORCE)"))
    admin.dispose()


if __name__ == "__main__":
    main()
