"""Load test: N enterprise users browse, search and order through gunicorn, on PostgreSQL + Redis.

Usage: .venv/bin/python bench/load.py [--users 50] [--seconds 60] [--think 1.0] [--processes 5]
       [--workers N] [--threads N] [--out bench/results/load.json] [--no-photos] [--no-profile]

This file is the run (its steps and its figures); its parts are in bench/loadtest/: settings
(the environment, set before the app is imported), servers, seed, users (the simulated
browsers), measure and report.

What it does, all on loopback:

1. A scratch PostgreSQL database on DATABASE_URL's server (default
   postgresql://postgres@127.0.0.1:5432/test; `database_uri()` of bench/pages.py) and a Redis
   database: REDIS_URL if set (flushed first), else the highest empty numbered database at or
   below 12 of redis://127.0.0.1:6379 (claimed with a marker key, flushed at the end).
2. `flask --app run setup` against them, then seeds in-process with bulk inserts: N approved
   enterprises, each with a user (username = its credit code, password Bench@12345) and 2-4
   photographed trainees (real JPEGs in the instance's upload folder) in one of five plans open
   for enrolment whose quotas add up to about 60 % of the trainees (so some orders are refused),
   plus `--background` past enrolments per enterprise in plans whose training has ended, with
   common Chinese names, so that 报名人员查询 has something to find.
3. `gunicorn -c gunicorn.conf.py run:app` (HOST/PORT on a free local port, JIANPEI_PROXY_COUNT=1,
   every other setting at its production default: processes and threads too, unless --workers
   (WEB_CONCURRENCY) or --threads (GUNICORN_THREADS) say otherwise) and a separate
   `huey_consumer tasks.huey`; waits until every gunicorn worker has built the app ("Worker
   ready" in its log). Users let in earlier would all sign in on the first worker ready, and a
   kept-alive connection stays with its worker for the whole run.
4. N simulated users, as threads shared among `--processes` client processes (forked; 5 by
   default, as 50 browsers would not share one interpreter lock; at 50 users the client's
   own delay after gunicorn's answer was about 5 ms at p95 with 1 process or 5), each with
   its own requests.Session and its own client address (X-Forwarded-For,
   as behind a load balancer, so the per-address login limit applies per user as in
   production): sign in through the real form (CSRF token from /login/), one unrecorded warm-up
   round of the pages, then for `--seconds`: home, 报名 list, the plan's 报名 page (and its photo
   thumbnails, as a browser loads them, unless --no-photos), 报名人员查询 by a name prefix, the
   order list; then, if the 报名 page offers 生成订单, POST it half of the time (following the
   redirect: the new order, or the 报名 page with the refusal); holding an order, cancel it 30 % of
   the time. `--think` seconds (mean; uniformly 0.5x-1.5x) pass between page views; 0 makes it a
   closed loop with no pauses (a saturation test).
5. Errors: any connection error or timeout, any 5xx, any other unexpected status or redirect
   (a redirect to the sign-in page included). Refused orders (flash messages) are not errors.
6. Stops both servers, checks the seats of every plan in the database (seats_reserved +
   seats_paid <= quota; seats_reserved == trainees in pending orders == enrolments they hold;
   seats_paid == trainees in paid orders), parses gunicorn's access log for the server-side
   time of each kind, and (unless --no-profile) times each page in-process with the SQL time
   separated, plus a cProfile of the slowest page, to show what dominates.
7. Where the client-side time went: each page request next to the time gunicorn's worker took
   for it (a user's requests are sequential and carry its address, the access log's first
   field); the gap is the wait for a thread of the worker holding the connection, plus the
   network stack and the client reading the answer. Also the client connections each worker
   holds (from /proc, at the start and half-way) and the client's CPU per request.

Prints a table per kind (count, req/s, p50/p95/p99/max ms, errors) and writes the figures, the
load average before and after, CPU use (gunicorn, huey, PostgreSQL, the client, other
processes), error samples and the target checks (zero errors, p95 of every page kind under
150 ms, zero oversold) to bench/results/load.json. Drops the scratch database. Exits non-zero
on an error or an oversold seat; the latency target is reported only. Other people's jobs on
the machine show in cpu_during_window.other_processes_s: a run with more than a few CPU seconds
there measured them too.
"""
import argparse
import datetime as dt
import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.loadtest.settings import (  # noqa: E402 - sets the environment before the app
    BIN,
    DEFAULT_CLIENT_PROCESSES,
    KIND_ORDER,
    PAGE_KINDS,
    ROOT,
    TARGET_P95_MS,
    TMP,
)

# isort: split
import redis  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from bench.loadtest.measure import (  # noqa: E402
    check_seats,
    client_and_server,
    client_cpu,
    connections_per_worker,
    log_findings,
    machine_busy,
    pct,
    postgres_cpu,
    profile_pages,
    server_times,
    summary,
    tree_cpu,
)
from bench.loadtest.report import print_report  # noqa: E402
from bench.loadtest.seed import seed  # noqa: E402
from bench.loadtest.servers import (  # noqa: E402
    free_port,
    gunicorn_settings,
    redis_database,
    server_env,
    start,
    stop,
    wait_for_login_page,
    wait_for_workers,
)
from bench.loadtest.users import run_users  # noqa: E402
from bench.pages import database_uri, drop_database  # noqa: E402

# Main -------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean pause between page views, s (0: no pauses)")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn worker processes (default: gunicorn.conf.py's)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per gunicorn worker (default: gunicorn.conf.py's)")
    parser.add_argument("--processes", type=int, default=DEFAULT_CLIENT_PROCESSES,
                        help="client processes the users are shared among (threads in each)")
    parser.add_argument("--background", type=int, default=200,
                        help="past enrolments per enterprise, for the search")
    parser.add_argument("--max-requests", type=int, default=None,
                        help="GUNICORN_MAX_REQUESTS (default: gunicorn.conf.py's; 0: never "
                             "recycle workers)")
    parser.add_argument("--timeout", type=float, default=30, help="client timeout per request")
    parser.add_argument("--no-photos", dest="photos", action="store_false",
                        help="do not load the thumbnails of the 报名 page")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "load.json"))
    args = parser.parse_args()
    if not os.environ["DATABASE_URL"].startswith("postgres"):
        sys.exit("bench/load.py runs on PostgreSQL: DATABASE_URL must be a postgresql:// URL")

    load_before = os.getloadavg()
    redis_url, redis_explicit = redis_database()
    uri = database_uri()
    app = None
    procs, report = {}, {}
    try:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = server_env(uri, redis_url, port, args)
        served = gunicorn_settings(env)
        setup = subprocess.run([str(BIN / "flask"), "--app", "run", "setup"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=300)
        if setup.returncode:
            sys.exit(f"flask setup failed:\n{setup.stderr[-4000:]}")
        app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "RATELIMIT_ENABLED": False,
                          "WTF_CSRF_ENABLED": False})
        t0 = time.perf_counter()
        with app.app_context():
            world = seed(args.users, args.background)
            db.session.remove()
            db.engine.dispose()
        seed_s = time.perf_counter() - t0
        print(f"seeded {args.users} enterprises, {world['enrolments']} enrolments in "
              f"{seed_s:.1f} s; plans {world['open_plans']} quotas {world['quotas']} for "
              f"{world['demand']} trainees", file=sys.stderr)

        logs = {"gunicorn": TMP / "gunicorn.log", "huey": TMP / "huey.log"}
        procs["gunicorn"] = start([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "run:app"],
                                  env, logs["gunicorn"])
        procs["huey"] = start([str(BIN / "huey_consumer"), "tasks.huey", "-k", "thread", "-w", "4",
                               "-g", "TERM", "-t", "30"], env, logs["huey"])
        ready_s = wait_for_login_page(base, list(procs.values()), list(logs.values()))
        ready_s += wait_for_workers(served["workers"], procs["gunicorn"], logs["gunicorn"])

        users = world["users"]
        n_proc = max(1, min(args.processes, len(users)))
        # Forked client processes, each with its share of the users as threads. Every user and
        # this process meet at a barrier after signing in, after the warm-up (this process
        # then starts the clock) and once more when the deadline is set.
        ctx = multiprocessing.get_context("fork")
        shared = {"t0": time.perf_counter(), "deadline": ctx.Value("d", 0.0, lock=False),
                  "barrier": ctx.Barrier(len(users) + 1, timeout=600)}
        clients, pipes = [], []
        for k in range(n_proc):
            first, last = k * len(users) // n_proc, (k + 1) * len(users) // n_proc
            receive, send = ctx.Pipe(duplex=False)
            client = ctx.Process(target=run_users, name=f"load-client-{k}", daemon=True,
                                 args=(first, users[first:last], base, shared, args, send))
            client.start()
            send.close()
            clients.append(client)
            pipes.append(receive)
        window = {}
        barrier = shared["barrier"]
        barrier.wait()  # signed in
        barrier.wait()  # warmed up
        window["cpu_web"] = tree_cpu(procs["gunicorn"].pid)
        window["cpu_huey"] = tree_cpu(procs["huey"].pid)
        window["cpu_pg"] = postgres_cpu(app)
        window["cpu_client"] = client_cpu(clients)
        window["busy"] = machine_busy()
        window["connections"] = connections_per_worker(procs["gunicorn"].pid, port)
        window["wall"] = time.time()
        window["start"] = time.monotonic()
        shared["deadline"].value = window["start"] + args.seconds
        shared["t_start"] = time.perf_counter()
        barrier.wait()  # go
        time.sleep(args.seconds / 2)
        connections_middle = connections_per_worker(procs["gunicorn"].pid, port)
        browsers = []
        for receive in pipes:  # each client sends its users' figures once they have stopped
            try:
                if receive.poll(900):
                    browsers.extend(receive.recv())
            except EOFError:  # the client process died: counted below
                pass
        end = time.monotonic()
        wall_end = time.time()
        elapsed = end - window["start"]
        cpu_client_end = client_cpu(clients)  # ended or not, they are not reaped yet
        busy_end = machine_busy()
        for client in clients:
            client.join(30)
        if len(browsers) != len(users):
            sys.exit(f"{len(users) - len(browsers)} simulated users did not report (exit codes "
                     f"{[c.exitcode for c in clients]})")
        cpu = {"web_s": round(tree_cpu(procs["gunicorn"].pid) - window["cpu_web"], 1),
               "huey_s": round(tree_cpu(procs["huey"].pid) - window["cpu_huey"], 1),
               "postgres_backends_s": round(sum(
                   v - window["cpu_pg"].get(pid, 0.0) for pid, v in postgres_cpu(app).items()), 1),
               "client_s": round(cpu_client_end - window["cpu_client"], 1)}
        busy = (busy_end[0] - window["busy"][0]) / max(busy_end[1] - window["busy"][1], 1)
        cpu["machine_busy_pct"] = round(100 * busy, 1)
        # What the rest of the machine (other people's tests, ...) used meanwhile, roughly.
        cpu["other_processes_s"] = round(busy * elapsed * os.cpu_count() - sum(
            cpu[k] for k in ("web_s", "huey_s", "postgres_backends_s", "client_s")), 1)
        cpu["cores"] = os.cpu_count()
        codes = {name: stop(proc) for name, proc in procs.items()}
        load_after = os.getloadavg()

        # Figures ------------------------------------------------------------------------
        by_kind, errors_by_kind = defaultdict(list), Counter()
        phase_errors, timeline = Counter(), defaultdict(lambda: [0, 0, []])
        for browser in browsers:
            for phase, kind, t, ms, status, problem in browser.samples:
                if problem:
                    phase_errors[phase] += 1
                if phase == "login":
                    by_kind["login"].append(ms)
                    errors_by_kind["login"] += bool(problem)
                if phase != "run":
                    continue
                by_kind[kind].append(ms)
                if problem:
                    errors_by_kind[kind] += 1
                second = int(t - (shared["t_start"] - shared["t0"])) // 5 * 5
                timeline[second][0] += 1
                timeline[second][1] += bool(problem)
                if kind in PAGE_KINDS:
                    timeline[second][2].append(ms)
        other_errors = [e for b in browsers for e in b.errors if "kind" not in e]
        kinds = {k: summary(by_kind[k], elapsed if k != "login" else max(elapsed, 1),
                            errors_by_kind[k]) for k in KIND_ORDER if by_kind.get(k)}
        if "login" in kinds:
            kinds["login"]["req_per_s"] = None  # before the window, not part of it
        run_latencies = [ms for k, v in by_kind.items() if k != "login" for ms in v]
        page_latencies = [ms for k in PAGE_KINDS for ms in by_kind.get(k, [])]
        total_errors = sum(len(b.errors) for b in browsers)  # every problem, every phase
        overall = summary(run_latencies, elapsed, sum(errors_by_kind.values()))
        pages = summary(page_latencies, elapsed, sum(errors_by_kind[k] for k in PAGE_KINDS))
        events = Counter()
        for browser in browsers:
            events.update(browser.events)

        with app.app_context():
            seats = check_seats(world["open_plans"])
            db.session.remove()
        slowest = max((k for k in PAGE_KINDS if k in kinds), key=lambda k: kinds[k]["p95_ms"])
        profile = None
        if args.profile:
            print("profiling the pages in-process ...", file=sys.stderr)
            profile = profile_pages(app, users[0], slowest, rounds=20)

        page_p95_ok = all(kinds[k]["p95_ms"] < TARGET_P95_MS for k in PAGE_KINDS if k in kinds)
        targets = {"zero_errors": total_errors == 0,
                   "page_p95_under_target_ms": page_p95_ok,
                   "zero_oversold": all(s["invariants_ok"] for s in seats)}
        targets["met"] = all(targets.values())
        samples = [e for b in browsers for e in b.errors][:20]
        report = {
            "database": "postgresql", "redis": redis_url, "started": dt.datetime.fromtimestamp(
                window["wall"]).isoformat(timespec="seconds"),
            "users": args.users, "seconds": args.seconds, "measured_s": round(elapsed, 2),
            "think_s": args.think, "photos": args.photos,
            "gunicorn": {"workers": served["workers"], "threads": served["threads"],
                         "max_requests": served["max_requests"],
                         "ready_s": round(ready_s, 1), "exit": codes["gunicorn"],
                         "client_connections_per_worker": {"start": window["connections"],
                                                           "middle": connections_middle}},
            "huey_exit": codes["huey"], "cores": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
            "cpu_during_window": cpu,
            "seed": {"seconds": round(seed_s, 1), "enterprises": args.users,
                     "open_plans": world["open_plans"], "quotas": world["quotas"],
                     "trainees_per_plan": world["demand"], "people": world["people"],
                     "enrolments": world["enrolments"], "past_plans": world["past_plans"]},
            "overall": overall, "pages": pages, "kinds": kinds,
            "server_side": server_times(logs["gunicorn"], window["wall"], wall_end),
            "client": {"processes": n_proc, "users_per_process": [
                           (k + 1) * len(users) // n_proc - k * len(users) // n_proc
                           for k in range(n_proc)],
                       "cpu_ms_per_request": round(1000 * cpu["client_s"]
                                                   / max(overall["count"], 1), 2)},
            "pages_client_vs_server": client_and_server(logs["gunicorn"], browsers, PAGE_KINDS),
            "timeline_5s": {s: {"requests": v[0], "errors": v[1],
                                "page_p95_ms": pct(sorted(v[2]), 95)}
                            for s, v in sorted(timeline.items())},
            "errors": {"total": total_errors, "by_phase": dict(phase_errors),
                       "by_kind": dict(errors_by_kind), "samples": samples + other_errors[:5]},
            "orders": dict(events), "seats": seats,
            "server_logs": {name: {**log_findings(path, window["wall"]), "path": str(path)}
                            for name, path in logs.items()},
            "in_process_profile": profile, "targets": targets}
    finally:
        for proc in procs.values():
            stop(proc)
        if app is not None:
            drop_database(app, uri)
        conn = redis.Redis.from_url(redis_url)
        if not redis_explicit:
            conn.flushdb()  # our claimed database: the queue, the rate-limit counters, the claim
        conn.close()

    print_report(report)
    out = Path(args.out)
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    print(f"wrote {out}", file=sys.stderr)
    if not (report["targets"]["zero_errors"] and report["targets"]["zero_oversold"]):
        sys.exit("errors or oversold seats (see the JSON)")  # latency is reported, not asserted


if __name__ == "__main__":
    main()
