"""Measuring: latency figures, gunicorn's access log, CPU use, the seat invariants and an
in-process profile of the pages."""
import cProfile
import datetime as dt
import math
import os
import pstats
import re
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from pathlib import Path

import sqlalchemy as sa

from app.extensions import db
from bench.loadtest.settings import PASSWORD, ROOT


def pct(ordered: list[float], p: float):
    if not ordered:
        return None
    return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 1)


def summary(latencies: list[float], seconds: float, errors: int = 0) -> dict:
    ordered = sorted(latencies)
    return {"count": len(ordered), "req_per_s": round(len(ordered) / seconds, 1),
            "p50_ms": pct(ordered, 50), "p95_ms": pct(ordered, 95), "p99_ms": pct(ordered, 99),
            "max_ms": round(ordered[-1], 1) if ordered else None, "errors": errors}


def kind_of(method: str, path: str) -> str:
    path = urllib.parse.urlsplit(path).path
    for pattern, kind in ((r"/", "home"), (r"/login/", "login"),
                          (r"/openplanview/list/", "open_plans"), (r"/enrol/\d+/", "enrol"),
                          (r"/photos/.*", "photo"), (r"/trainees/", "trainees"),
                          (r"/orders/list/", "orders"), (r"/orders/show/\d+", "order_show"),
                          (r"/orders/create/\d+", "order_create"),
                          (r"/orders/cancel/\d+", "order_cancel"),
                          (r"/alipay-sim/.*", "alipay_sim")):
        if re.fullmatch(pattern, path):
            return kind
    return "other"


ACCESS = re.compile(r'\[([^\]]+)\] "(\w+) (\S+) HTTP/[\d.]+" (\d{3}) \S+ ".*" ".*" (\d+)ms$')


def server_times(log: Path, start: float, end: float) -> dict:
    """Per kind, the time gunicorn's worker spent on each request of the window (access log)."""
    times = defaultdict(list)
    for line in log.read_text(errors="replace").splitlines():
        found = ACCESS.search(line)
        if not found:
            continue
        at = dt.datetime.strptime(found.group(1), "%d/%b/%Y:%H:%M:%S %z").timestamp()
        if start - 1 <= at <= end + 1:
            times[kind_of(found.group(2), found.group(3))].append(float(found.group(5)))
    return {kind: {"count": len(v), "p50_ms": pct(sorted(v), 50), "p95_ms": pct(sorted(v), 95),
                   "p99_ms": pct(sorted(v), 99)} for kind, v in times.items()}


ACCESS_CLIENT = re.compile(r'^(\S+) \S+ \S+ \[[^\]]+\] "(\w+) (\S+) HTTP/[\d.]+" \d{3} .* (\d+)ms$')


def client_and_server(log: Path, browsers: list, kinds: tuple) -> dict:
    """Each measured request of `kinds` next to the time gunicorn's worker took for it.

    A user's requests are one after another and carry its own address (X-Forwarded-For,
    the first field of the access log), so its n-th request is the n-th line with that address.
    What the client saw beyond the worker's time (the gap) is the wait in gunicorn before a
    thread took the request, the network stack, and the client's own wait to run and read.
    """
    served = defaultdict(list)
    for line in log.read_text(errors="replace").splitlines():
        found = ACCESS_CLIENT.match(line)
        if found:
            served[found.group(1)].append((found.group(2), found.group(3), float(found.group(4))))
    client, server, gap, unmatched = [], [], [], 0
    for browser in browsers:
        lines = served.get(browser.user["address"], [])
        if len(lines) != len(browser.samples):
            unmatched += len(browser.samples)
            continue
        for (phase, kind, _t, ms, _status, _problem), (_m, _path, server_ms) in zip(
                browser.samples, lines):
            if phase == "run" and kind in kinds:
                client.append(ms)
                server.append(server_ms)
                gap.append(ms - server_ms)
    ordered = sorted(range(len(client)), key=client.__getitem__)
    slowest = ordered[len(ordered) * 95 // 100:]  # the requests at or above the client's p95
    return {"requests": len(client), "unmatched_requests": unmatched,
            "client_p50_ms": pct(sorted(client), 50), "client_p95_ms": pct(sorted(client), 95),
            "server_p50_ms": pct(sorted(server), 50), "server_p95_ms": pct(sorted(server), 95),
            "gap_p50_ms": pct(sorted(gap), 50), "gap_p95_ms": pct(sorted(gap), 95),
            "slowest_5pct": {"requests": len(slowest),
                             "mean_client_ms": _mean(client[i] for i in slowest),
                             "mean_server_ms": _mean(server[i] for i in slowest),
                             "mean_gap_ms": _mean(gap[i] for i in slowest)}}


def _mean(values) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 1) if values else None


def log_findings(log: Path, start: float) -> dict:
    text = log.read_text(errors="replace")
    lines = text.splitlines()
    events = []  # gunicorn's worker restarts, in seconds from the start of the window
    for line in lines:
        found = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4})\] \[(\d+)\] \[INFO\] "
                         r"(Autorestarting worker|Worker exiting|Booting worker)", line)
        if found:
            at = dt.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S %z").timestamp()
            events.append(f"{at - start:+.0f}s {found.group(3)} {found.group(2)}")
    bad = [ln for ln in lines if re.search(r"Traceback|\bERROR\b|CRITICAL|WORKER TIMEOUT|"
                                           r"Exception|PAYMENT ALERT", ln)]
    return {"lines": len(lines), "problem_lines": len(bad), "problem_samples": bad[:15],
            "workers_booted": len(re.findall(r"Booting worker with pid", text)),
            "workers_recycled": len(re.findall(r"Autorestarting worker", text)),
            "worker_events": events}


TICKS = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> tuple[float, float, int]:
    """(own cpu s, reaped children's cpu s, ppid) of a process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0, 0.0, -1
    return ((int(fields[11]) + int(fields[12])) / TICKS, (int(fields[13]) + int(fields[14])) / TICKS,
            int(fields[1]))


def tree_cpu(root: int) -> float:
    """CPU seconds of a process, its children (alive or reaped) and theirs."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parents[int(entry.name)] = _proc_cpu(int(entry.name))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        own, reaped, _ = parents.get(pid, (0.0, 0.0, -1))
        total += own + reaped
        todo.extend(p for p, (_, _, ppid) in parents.items() if ppid == pid)
    return total


def client_cpu(clients) -> float:
    """CPU seconds of this process and its client processes (alive, or ended but not reaped)."""
    return _proc_cpu(os.getpid())[0] + sum(_proc_cpu(c.pid)[0] for c in clients)


def connections_per_worker(master: int, port: int) -> list[int]:
    """Established client connections to `port` held by each of gunicorn's workers (from /proc),
    most first: a kept-alive connection stays with the worker that accepted it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    counts = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or _proc_cpu(int(entry.name))[2] != master:
            continue
        try:
            links = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except (FileNotFoundError, PermissionError):
            continue
        counts.append(sum(link[8:-1] in inodes for link in links if link.startswith("socket:[")))
    return sorted(counts, reverse=True)


def postgres_cpu(app) -> dict:
    """CPU seconds of the PostgreSQL backends serving the scratch database, by pid."""
    with app.app_context():
        pids = db.session.scalars(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")).all()
        db.session.remove()
    return {pid: _proc_cpu(pid)[0] for pid in pids}


def machine_busy() -> tuple[float, float]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def check_seats(plan_ids: list[int]) -> list[dict]:
    from models.enrolment import Enrolment
    from models.orders import Order
    from models.training import TrainingPlan

    rows = []
    for plan_id in plan_ids:
        plan = db.session.get(TrainingPlan, plan_id)
        by_state = dict(db.session.execute(
            sa.select(Order.state, sa.func.coalesce(sa.func.sum(Order.trainees), 0))
            .where(Order.plan_id == plan_id).group_by(Order.state)).all())
        counts = dict(db.session.execute(
            sa.select(Order.state, sa.func.count(Order.id))
            .where(Order.plan_id == plan_id).group_by(Order.state)).all())
        held = db.session.scalar(sa.select(sa.func.count(Enrolment.id)).join(
            Order, Order.id == Enrolment.order_id).where(Enrolment.plan_id == plan_id,
                                                         Order.state == "pending"))
        pending, paid = int(by_state.get("pending", 0)), int(by_state.get("paid", 0))
        oversold = plan.seats_reserved + plan.seats_paid > plan.quota
        ok = (not oversold and plan.seats_reserved == pending == held and plan.seats_paid == paid)
        rows.append({"plan": plan_id, "quota": plan.quota, "seats_reserved": plan.seats_reserved,
                     "seats_paid": plan.seats_paid, "trainees_in_pending_orders": pending,
                     "enrolments_held_by_pending": held, "trainees_in_paid_orders": paid,
                     "orders_by_state": counts, "oversold": oversold, "invariants_ok": ok})
    return rows


def profile_pages(app, user: dict, slowest: str, rounds: int) -> dict:
    """In-process timing of each page (SQL time apart) and a cProfile of the slowest."""
    from sqlalchemy import event

    local = threading.local()

    def before(conn, cursor, statement, parameters, context, executemany):
        local.t = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        local.sql_s += time.perf_counter() - local.t
        local.sql_n += 1

    client = app.test_client()
    answer = client.post("/login/", data={"username": user["username"], "password": PASSWORD})
    if answer.status_code != 302:
        return {"error": f"in-process sign-in answered {answer.status_code}"}
    plan = user["plan_id"]
    q = user["queries"][0]
    paths = {"home": "/", "open_plans": "/openplanview/list/", "enrol": f"/enrol/{plan}/",
             "trainees": "/trainees/?" + urllib.parse.urlencode({"q": q}),
             "orders": "/orders/list/"}
    with app.app_context():
        engine = db.engine
    local.sql_s, local.sql_n = 0.0, 0
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    result = {}
    try:
        for kind, path in paths.items():
            for _ in range(2):
                client.get(path)
            totals, sqls, counts = [], [], []
            for _ in range(rounds):
                local.sql_s, local.sql_n = 0.0, 0
                t0 = time.perf_counter()
                status = client.get(path).status_code
                totals.append((time.perf_counter() - t0) * 1000)
                sqls.append(local.sql_s * 1000)
                counts.append(local.sql_n)
            totals.sort(), sqls.sort()
            result[kind] = {"path": path, "status": status, "p50_ms": pct(totals, 50),
                            "p95_ms": pct(totals, 95), "sql_p50_ms": pct(sqls, 50),
                            "sql_statements": max(counts),
                            "python_p50_ms": round(pct(totals, 50) - pct(sqls, 50), 1)}
        target = slowest if slowest in paths else max(result, key=lambda k: result[k]["p50_ms"])
        local.sql_s, local.sql_n = 0.0, 0
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(rounds):
            client.get(paths[target])
        profiler.disable()
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    stats = pstats.Stats(profiler)
    by_package, total = Counter(), 0.0
    functions = []
    for (filename, line, name), (_, _, tottime, cumtime, _) in stats.stats.items():
        total += tottime
        by_package[package_of(filename)] += tottime
        functions.append((tottime, cumtime, f"{package_of(filename)}:{Path(filename).name}:"
                                             f"{line}({name})"))
    functions.sort(reverse=True)
    result["cprofile"] = {
        "page": target, "requests": rounds, "profiled_s": round(total, 3),
        "self_time_by_package_pct": {k: round(100 * v / total, 1)
                                     for k, v in by_package.most_common(12)},
        "top_self_time": [{"fn": f, "self_ms_per_request": round(1000 * t / rounds, 2),
                           "cum_ms_per_request": round(1000 * c / rounds, 2)}
                          for t, c, f in functions[:12]]}
    return result


def package_of(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if filename.startswith(str(ROOT)):
        return "jianpei/" + Path(filename).relative_to(ROOT).parts[0]
    if filename.startswith("<"):
        return filename.strip("<>").split(" ")[0] or "builtins"
    return "stdlib"
