"""Latency of every menu page of each role with a realistic number of rows, under row scope,
next to a bare Flask-AppBuilder list page timed in the same run (the anchor).

Usage: .venv/bin/python bench/pages.py [--enterprises 5000] [--plans 2000] [--rounds 30]
       [--anchor-rows 200000]
Seeds a fresh database (SQLite temp file, or a new PostgreSQL database on DATABASE_URL's server),
then times GET requests through the WSGI app (test client): for each role, every page of its
menu (home, the left menu, the top bar's pages; bench/common.py) and the pages of PAGES it may
open. The anchor (bench/fab_anchor.py) is a bare Flask-AppBuilder app in a process of its own on
the same kind of database (its own SQLite file or scratch PostgreSQL database): one ModelView
over `--anchor-rows` rows with three indexed columns, its admin signed in, its list page timed
the same way, `--rounds` times before each role's pages and once more at the end. Each page's
p95 is printed as a ratio to the anchor's (target <= 1.2). Writes bench/results/pages.json.
"""
import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
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
from bench.common import menu_paths  # noqa: E402

CITIES = ["330100", "330200", "330300", "330400", "330500", "330600", "330700", "330800",
          "330900", "331000", "331100"]
PASSWORD = "Bench@12345"
TARGET_RATIO = 1.2  # each page's p95 to the bare Flask-AppBuilder list page's


def database_uri(suffix: str = "") -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{TMP / f'bench{suffix}.db'}"
    server = sa.engine.make_url(normalize_database_url(url))
    name = f"jianpei_bench_{os.getpid()}{suffix}"
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


class Anchor:
    """bench/fab_anchor.py in its own process: seeded at start, timed on request."""

    def __init__(self, uri: str, rows: int):
        self.uri = uri
        self.log = TMP / "anchor.log"
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "fab_anchor.py"), "--uri", uri,
             "--rows", str(rows)], cwd=TMP, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log.open("w"), text=True)
        self.samples: list[float] = []
        self.seed_seconds = None

    def wait_ready(self) -> None:
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            sys.exit(f"the Flask-AppBuilder anchor did not start (exit {self.proc.wait()}): "
                     f"{self.log}")
        self.seed_seconds = float(line.split()[1])

    def time(self, rounds: int) -> None:
        self.proc.stdin.write(f"time {rounds}\n")
        self.proc.stdin.flush()
        self.samples += json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[int(len(ordered) * 0.95) - 1]


def role_pages(client) -> list[str]:
    """The role's menu pages, then those of PAGES it may open that its menu does not name."""
    home = client.get("/")
    paths = menu_paths(home.get_data(as_text=True)) if home.status_code == 200 else []
    return paths + [page for page in PAGES if page not in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enterprises", type=int, default=5000)
    parser.add_argument("--plans", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--anchor-rows", type=int, default=200_000,
                        help="rows of the bare Flask-AppBuilder list page")
    args = parser.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]

    uri = database_uri()
    anchor = Anchor(database_uri("_anchor"), args.anchor_rows)  # seeds while we seed
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
    anchor.wait_ready()

    results = []
    try:
        for role, username in usernames.items():
            anchor.time(args.rounds)  # a block before each role's pages, one more at the end
            client = app.test_client()
            client.post("/login/", data={"username": username, "password": PASSWORD})
            for page in role_pages(client):
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
                                "p95_ms": round(p95(samples), 1)})
        anchor.time(args.rounds)
    finally:
        anchor.close()

    anchor_p95 = p95(anchor.samples)
    for row in results:
        row["p95_ratio"] = round(row["p95_ms"] / anchor_p95, 2)
    worst = max(results, key=lambda row: row["p95_ratio"])
    report = {"database": uri.split(":")[0], "enterprises": args.enterprises,
              "plans": args.plans, "rounds": args.rounds, "seed_seconds": round(seed_s, 2),
              "anchor": {"app": "bare Flask-AppBuilder ModelView (bench/fab_anchor.py)",
                         "page": "/benchitemview/list/", "rows": args.anchor_rows,
                         "samples": len(anchor.samples),
                         "p50_ms": round(statistics.median(anchor.samples), 1),
                         "p95_ms": round(anchor_p95, 1),
                         "seed_seconds": anchor.seed_seconds},
              "target_p95_ratio": TARGET_RATIO, "worst_p95_ratio": worst["p95_ratio"],
              "within_target": worst["p95_ratio"] <= TARGET_RATIO,
              "load_average_before": load_before,
              "load_average_after": [round(x, 2) for x in os.getloadavg()],
              "pages": results}
    print(f"{'role':<18} {'page':<52} {'p50 ms':>8} {'p95 ms':>8} {'p95/FAB':>8}")
    for row in results:
        print(f"{row['role']:<18} {row['page']:<52} {row['p50_ms']:>8} {row['p95_ms']:>8} "
              f"{row['p95_ratio']:>8}")
    a = report["anchor"]
    print(f"{'FAB anchor':<18} {a['page'] + f' ({args.anchor_rows:,} rows)':<52} "
          f"{a['p50_ms']:>8} {a['p95_ms']:>8} {1.0:>8}")
    print(f"worst p95 ratio {worst['p95_ratio']} ({worst['role']} {worst['page']}); target <= "
          f"{TARGET_RATIO}; load average {load_before} -> {report['load_average_after']}")
    out = ROOT / "bench" / "results" / "pages.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"wrote {out}", file=sys.stderr)

    drop_database(app, uri)
    drop_scratch(anchor.uri)


def drop_database(app, uri: str) -> None:
    """Close the app's connections and drop the scratch PostgreSQL database (SQLite: keep)."""
    with app.app_context():
        db.engine.dispose()
    drop_scratch(uri)


def drop_scratch(uri: str) -> None:
    """Drop a scratch PostgreSQL database nobody is connected to any more (SQLite: keep)."""
    if not uri.startswith("postgresql"):
        return
    server = sa.engine.make_url(uri)
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {server.database} WITH (FORCE)"))
    admin.dispose()


if __name__ == "__main__":
    main()
