"""The 报名 page of one enterprise's plan as its trainees grow: 100 to 20,000 (a roster's limit).

Usage: .venv/bin/python bench/plan_page.py [--sizes 100,1000,5000,20000] [--rounds 20]
Set DATABASE_URL to measure on PostgreSQL (a scratch database on that server); without it, a
temporary SQLite file.

Seeds (with the tests' factories) a plan open for enrolment and one approved enterprise, signs
its clerk in (test client, the real login form), then for each size adds trainees up to it (one
in ten without photos, a photo check queued for one in fifty, so the order panel and the
progress bar have something to say) and times, `--rounds` times each after one warm-up: the page's first page, its last page,
and the photo-check poll. Prints p50/p95 per size and request, the bytes of each answer and the
SQL statements one request runs; writes bench/results/plan_page.json with the load average.
"""
import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="jianpei-bench-"))
os.environ.setdefault("JIANPEI_INSTANCE", str(TMP))

from sqlalchemy import event  # noqa: E402

from app import create_app, scope  # noqa: E402
from app.extensions import db  # noqa: E402
from bench.common import load_average, percentile  # noqa: E402
from bench.pages import database_uri, drop_database  # noqa: E402

NOW = dt.datetime(2026, 11, 28, 10, 0)


def _statements(call) -> int:
    seen = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def _timed(client, url: str, rounds: int, headers=None) -> dict:
    answer = client.get(url, headers=headers)  # warm-up
    assert answer.status_code == 200, (url, answer.status_code)
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        client.get(url, headers=headers)
        samples.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(statistics.median(samples), 1),
            "p95_ms": round(percentile(sorted(samples), 0.95), 1),
            "bytes": len(answer.data),
            "statements": _statements(lambda: client.get(url, headers=headers))}


def _seed_to(enterprise, plan, have: int, size: int) -> None:
    """Trainees from `have` up to `size`: one in ten without photos, a check queued for one in
    fifty of the others."""
    from models.enrolment import PhotoCheck
    from tests.order_factories import gen_trainees

    while have < size:
        batch = min(1000, size - have)
        with_photos = gen_trainees(enterprise, plan, batch - batch // 10)
        gen_trainees(enterprise, plan, batch // 10, photos=False)
        db.session.add_all(PhotoCheck(enrolment_id=trainee.id, kind="id_photo",
                                      photo_key=trainee.id_photo_key, state="queued",
                                      queued_at=NOW) for trainee in with_photos[::50])
        db.session.commit()
        have += batch


def measure(app, sizes: list[int], rounds: int) -> list[dict]:
    from flask_migrate import upgrade

    from app.services import roles
    from app.services.enrolment import PAGE_SIZE
    from tests.conftest import FreshContextClient
    from tests.factories import PASSWORD, gen_enterprise, gen_institution, gen_plan, gen_user

    results = []
    with app.app_context():
        upgrade()
        roles.sync_roles()
        plan = gen_plan(gen_institution("330100"), enrol_start=NOW - dt.timedelta(days=8),
                        enrol_end=NOW + dt.timedelta(days=12), quota=100_000)
        enterprise = gen_enterprise("330100")
        user = gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id)
        # each request in its own app context and database session, as served (the seeding's
        # context stays open around them)
        app.test_client_class = FreshContextClient
        client = app.test_client()
        assert client.post("/login/", data={"username": user.username,
                                            "password": PASSWORD}).status_code == 302
        have = 0
        for size in sizes:
            t0 = time.perf_counter()
            _seed_to(enterprise, plan, have, size)
            have = size
            last = -(-size // PAGE_SIZE)
            row = {"trainees": size, "seed_seconds": round(time.perf_counter() - t0, 1),
                   "first_page": _timed(client, f"/enrol/{plan.id}/", rounds),
                   "last_page": _timed(client, f"/enrol/{plan.id}/?page={last}", rounds),
                   "poll": _timed(client, f"/enrol/{plan.id}/checks", rounds,
                                  headers={"Accept": "application/json"})}
            results.append(row)
            print(f"{size:>6} trainees  " + "  ".join(
                f"{name}: p50 {row[name]['p50_ms']:>7} ms p95 {row[name]['p95_ms']:>7} ms "
                f"{row[name]['bytes'] / 1024:>8.1f} KB {row[name]['statements']:>3} SQL"
                for name in ("first_page", "last_page", "poll")), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,5000,20000")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    load_before = load_average()

    uri = database_uri()
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "RATELIMIT_ENABLED": False,
                      "WTF_CSRF_ENABLED": False, "CLOCK_FROZEN_AT": NOW, "PHOTO_CHECKS": False})
    try:
        results = measure(app, sizes, args.rounds)
    finally:
        drop_database(app, uri)  # a scratch PostgreSQL database (SQLite: kept)

    report = {"database": uri.split(":")[0],
              "rounds": args.rounds, "results": results,
              "load_average": {"before": load_before, "after": load_average()}}
    out = ROOT / "bench" / "results" / "plan_page.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
