"""Order creations per second under concurrent clients (16 by default), at the service level.

Usage: .venv/bin/python bench/orders.py [--enterprises 1600] [--clients 16] [--short-quota 400]
Set DATABASE_URL to measure on PostgreSQL (a scratch database is created on that server and
dropped afterwards); without it, a temporary SQLite file is used.

Seeds (bulk inserts) N approved enterprises, one enterprise user each, and one photographed
trainee per enterprise in each of two plans, then runs two variants, each a burst of N
`orders.create_order` calls from `--clients` threads released together, every call in its own
app context (its own session and connection), as web workers would:

* enough: the plan's quota covers every attempt, so every attempt creates an order;
* short: the quota is `--short-quota` (default N/4), so most attempts are refused (SeatsShort).

Reports wall time, creations (and attempts) per second, p50/p95/max latency per creation and
per refusal, and checks the seats afterwards: seats_reserved == trainees in orders ==
enrolments holding an order, within the quota, with no database error. Prints a table and
writes bench/results/orders.json.
"""
import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import threading
import time
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

PASSWORD = "Bench@12345"


def seed(n: int, quotas: dict[str, int]) -> dict:
    """N enterprises with a user each and one trainee in each plan; returns ids."""
    from flask import current_app

    from app import clock, scope
    from app.services.codes import id_check_digit, uscc_check_char
    from models import Enterprise, Institution, Occupation, OccupationLevel, TrainingPlan
    from models.enrolment import Enrolment, Person
    from models.states import EnrolmentState
    from models.user import JianpeiUser

    now = clock.now()
    occupation = db.session.scalars(sa.select(Occupation).where(Occupation.name == "钢筋工")).one()
    level = db.session.scalars(sa.select(OccupationLevel)
                               .where(OccupationLevel.name == "五级/初级工")).one()
    institution = Institution(name="基准培训机构", region_code="330100")
    db.session.add(institution)
    db.session.flush()
    plans = {}
    for name, quota in quotas.items():
        plan = TrainingPlan(
            institution_id=institution.id, occupation_id=occupation.id, level_id=level.id,
            quota=quota, fee=Decimal("680.00"), enrol_start=now - dt.timedelta(days=1),
            enrol_end=now + dt.timedelta(days=9), train_start=now.date() + dt.timedelta(days=10),
            train_end=now.date() + dt.timedelta(days=20), venue="实训基地",
            region_code="330100", review_state="approved", created_at=now)
        db.session.add(plan)
        db.session.flush()
        plans[name] = plan.id

    rows = []
    for i in range(n):
        body = f"91330100MA{i:07d}"
        rows.append(dict(uscc=body + uscc_check_char(body), name=f"基准建设有限公司{i}",
                         region_code="330100", province_owned=False, review_state="approved",
                         contact_mobile="13800138000", created_at=now))
    db.session.execute(sa.insert(Enterprise), rows)
    enterprise_ids = db.session.scalars(sa.select(Enterprise.id).order_by(Enterprise.id)).all()

    sm = current_app.appbuilder.sm
    role = sm.find_role(scope.ENTERPRISE)
    first = sm.add_user("bench0", "bench0", "", "bench0@bench.invalid", role, password=PASSWORD)
    first.enterprise_id = enterprise_ids[0]
    db.session.flush()
    db.session.execute(sa.insert(JianpeiUser), [dict(
        username=f"bench{i}", first_name=f"bench{i}", last_name="",
        email=f"bench{i}@bench.invalid", active=True, password=first.password,
        enterprise_id=enterprise_ids[i], session_version=0, created_on=now, changed_on=now)
        for i in range(1, n)])
    users = db.session.execute(sa.select(JianpeiUser.id, JianpeiUser.enterprise_id)
                               .where(JianpeiUser.username.like("bench%"))).all()
    user_roles = JianpeiUser.__mapper__.relationships["roles"].secondary
    db.session.execute(sa.insert(user_roles), [dict(user_id=u.id, role_id=role.id)
                                               for u in users if u.id != first.id])

    people, k = [], 0
    for name in plans:
        for i in range(n):
            birth = dt.date(1970, 1, 1) + dt.timedelta(days=k // 100)
            body = f"330106{birth:%Y%m%d}{k % 100:02d}{k % 10}"
            people.append(dict(id_number=body + id_check_digit(body), name=f"学员{k}",
                               gender="男", birth_date=birth, updated_at=now))
            k += 1
    db.session.execute(sa.insert(Person), people)
    person_ids = db.session.scalars(sa.select(Person.id).order_by(Person.id)).all()
    enrolments = []
    for p, name in enumerate(plans):
        for i in range(n):
            enrolments.append(dict(
                person_id=person_ids[p * n + i], plan_id=plans[name],
                enterprise_id=enterprise_ids[i], occupation_id=occupation.id,
                level_id=level.id, mobile="13800138000", education_id=1, title_id=1,
                status=EnrolmentState.LIVE.value, photo_key=f"bench-photo-{p}-{i}.jpg",
                photo_thumb_key=f"bench-thumb-{p}-{i}.jpg", id_photo_key=f"bench-id-{p}-{i}.jpg",
                created_at=now))
    db.session.execute(sa.insert(Enrolment), enrolments)
    db.session.commit()
    return {"plans": plans, "users": sorted(u.id for u in users)}


def burst(app, plan_id: int, user_ids: list[int], clients: int) -> dict:
    """Every user orders once, from `clients` threads released together; returns samples."""
    from app.services import DomainError, orders
    from models.user import JianpeiUser

    todo = iter(user_ids)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1, timeout=120)
    created, refused, errors = [], [], []
    reasons: dict[str, int] = {}

    def client():
        start.wait()
        while True:
            with lock:
                user_id = next(todo, None)
            if user_id is None:
                return
            with app.app_context():
                try:
                    user = db.session.get(JianpeiUser, user_id)
                    _ = user.enterprise_id
                    t0 = time.perf_counter()
                    try:
                        orders.create_order(plan_id, user)
                        created.append(time.perf_counter() - t0)
                    except DomainError as refusal:
                        refused.append(time.perf_counter() - t0)
                        with lock:
                            key = type(refusal).__name__
                            reasons[key] = reasons.get(key, 0) + 1
                except Exception as error:  # noqa: BLE001 (counted: a bench must not hide it)
                    errors.append(repr(error))
                finally:
                    db.session.remove()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    return {"wall": wall, "created": created, "refused": refused, "errors": errors,
            "reasons": reasons}


def quantiles(samples: list[float]) -> dict:
    if not samples:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


def check_seats(plan_id: int) -> dict:
    """The seat invariants, read fresh from the database."""
    from models.enrolment import Enrolment
    from models.orders import Order
    from models.training import TrainingPlan

    plan = db.session.get(TrainingPlan, plan_id)
    orders_n, trainees = db.session.execute(
        sa.select(sa.func.count(Order.id), sa.func.coalesce(sa.func.sum(Order.trainees), 0))
        .where(Order.plan_id == plan_id)).one()
    held = db.session.scalar(sa.select(sa.func.count(Enrolment.id)).where(
        Enrolment.plan_id == plan_id, Enrolment.order_id.is_not(None)))
    ok = (plan.seats_reserved == trainees == held and plan.seats_paid == 0
          and plan.seats_reserved + plan.seats_paid <= plan.quota)
    return {"quota": plan.quota, "seats_reserved": plan.seats_reserved,
            "seats_paid": plan.seats_paid, "orders": orders_n, "trainees_in_orders": trainees,
            "enrolments_held": held, "invariants_ok": ok}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enterprises", type=int, default=1600,
                        help="order attempts per variant (one enterprise, one trainee each)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads")
    parser.add_argument("--short-quota", type=int, default=None,
                        help="quota of the plan in the refusal variant (default N/4)")
    args = parser.parse_args()
    n, short = args.enterprises, args.short_quota or max(1, args.enterprises // 4)

    uri = database_uri()
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "RATELIMIT_ENABLED": False,
                      "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": args.clients + 4,
                                                    "max_overflow": 4}})
    try:
        with app.app_context():
            from flask_migrate import upgrade

            from app.services import roles

            upgrade()
            roles.sync_roles()
            t0 = time.perf_counter()
            ids = seed(n, {"enough": n, "short": short})
            seed_s = time.perf_counter() - t0

        variants = []
        for name in ("enough", "short"):
            plan_id = ids["plans"][name]
            run = burst(app, plan_id, ids["users"], args.clients)
            with app.app_context():
                seats = check_seats(plan_id)
            expected = min(n, seats["quota"])
            seats["invariants_ok"] = (seats["invariants_ok"] and not run["errors"]
                                      and len(run["created"]) == seats["orders"] == expected)
            variants.append({
                "variant": name, "attempts": n, "quota": seats["quota"],
                "created": len(run["created"]), "refused": len(run["refused"]),
                "refusals": run["reasons"], "errors": len(run["errors"]),
                "error_samples": run["errors"][:3], "wall_s": round(run["wall"], 2),
                "creations_per_s": round(len(run["created"]) / run["wall"], 1),
                "attempts_per_s": round(n / run["wall"], 1),
                "created_latency": quantiles(run["created"]),
                "refused_latency": quantiles(run["refused"]),
                "seats": seats})
    finally:
        drop_database(app, uri)

    report = {"database": uri.split(":")[0], "clients": args.clients, "enterprises": n,
              "cpus": os.cpu_count(), "seed_seconds": round(seed_s, 2), "variants": variants}
    print(f"database {report['database']}, {args.clients} clients, {n} attempts per variant, "
          f"{report['cpus']} CPUs, seeded in {report['seed_seconds']} s")
    print(f"{'variant':<8} {'quota':>6} {'created':>8} {'refused':>8} {'errors':>7} "
          f"{'wall s':>7} {'orders/s':>9} {'tries/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'max ms':>7} {'refused p50/p95 ms':>19} {'seats ok':>8}")
    for v in variants:
        c, r = v["created_latency"], v["refused_latency"]
        refused = f"{r['p50_ms']}/{r['p95_ms']}" if v["refused"] else "-"
        print(f"{v['variant']:<8} {v['quota']:>6} {v['created']:>8} {v['refused']:>8} "
              f"{v['errors']:>7} {v['wall_s']:>7} {v['creations_per_s']:>9} "
              f"{v['attempts_per_s']:>8} {c['p50_ms']!s:>7} {c['p95_ms']!s:>7} "
              f"{c['max_ms']!s:>7} {refused:>19} {v['seats']['invariants_ok']!s:>8}")
        for sample in v["error_samples"]:
            print(f"  error: {sample}")
    out = ROOT / "bench" / "results" / "orders.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"wrote {out}", file=sys.stderr)
    if not all(v["seats"]["invariants_ok"] for v in variants):
        sys.exit("seat invariants violated (see bench/results/orders.json)")


if __name__ == "__main__":
    main()
