"""The printed report of a run (bench/load.py writes its JSON)."""
import json


def print_report(r: dict) -> None:
    print(f"{r['users']} users in {r['client']['processes']} client processes, "
          f"{r['measured_s']} s, think {r['think_s']} s, gunicorn "
          f"{r['gunicorn']['workers']}x{r['gunicorn']['threads']}, {r['cores']} cores, load "
          f"{r['load_average_before']} -> {r['load_average_after']}")
    per_worker = r["gunicorn"]["client_connections_per_worker"]
    print(f"client connections per gunicorn worker: {per_worker['start']} at the start, "
          f"{per_worker['middle']} half-way")
    server = r["server_side"]
    print(f"{'kind':<13} {'count':>6} {'req/s':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7} {'errors':>6}   {'server p50/p95 ms':>17}")
    rows = list(r["kinds"].items()) + [("pages", r["pages"]), ("all", r["overall"])]
    for kind, k in rows:
        s = server.get(kind)
        side = f"{s['p50_ms']}/{s['p95_ms']}" if s else ""
        print(f"{kind:<13} {k['count']:>6} {k['req_per_s'] if k['req_per_s'] is not None else '-':>6} "
              f"{k['p50_ms']!s:>7} {k['p95_ms']!s:>7} {k['p99_ms']!s:>7} {k['max_ms']!s:>7} "
              f"{k['errors']:>6}   {side:>17}")
    print(f"throughput {r['overall']['req_per_s']} req/s ({r['pages']['req_per_s']} pages/s); "
          f"errors {r['errors']['total']} {r['errors']['by_phase']}; CPU in the window "
          f"{r['cpu_during_window']}")
    pair = r["pages_client_vs_server"]
    print(f"pages, each request client-side next to gunicorn's time for it ({pair['requests']} "
          f"matched, {pair['unmatched_requests']} not): client p50/p95 {pair['client_p50_ms']}/"
          f"{pair['client_p95_ms']} ms, server {pair['server_p50_ms']}/{pair['server_p95_ms']} ms, "
          f"gap {pair['gap_p50_ms']}/{pair['gap_p95_ms']} ms; slowest 5 %: "
          f"{pair['slowest_5pct']}; client CPU {r['client']['cpu_ms_per_request']} ms/request")
    print("orders:", json.dumps(r["orders"], ensure_ascii=False))
    for s in r["seats"]:
        print(f"  plan {s['plan']}: quota {s['quota']} reserved {s['seats_reserved']} paid "
              f"{s['seats_paid']} pending-order trainees {s['trainees_in_pending_orders']} "
              f"held {s['enrolments_held_by_pending']} -> {'ok' if s['invariants_ok'] else 'BROKEN'}")
    for sample in r["errors"]["samples"][:5]:
        print("  error:", {k: v for k, v in sample.items() if k != "body"})
    for name, found in r["server_logs"].items():
        print(f"  {name} log: {found['problem_lines']} problem lines, workers booted "
              f"{found['workers_booted']}, recycled {found['workers_recycled']} "
              f"{found['worker_events'] if found['workers_recycled'] else ''}")
    prof = r.get("in_process_profile")
    if prof and "cprofile" in prof:
        print("in-process (one user, quiet server):", {k: (v["p50_ms"], v["sql_p50_ms"],
                                                             v["sql_statements"])
                                                         for k, v in prof.items()
                                                         if k != "cprofile"},
              "(p50 ms, SQL p50 ms, statements)")
        print(f"  cProfile of {prof['cprofile']['page']}: self time by package",
              prof["cprofile"]["self_time_by_package_pct"])
    print("targets:", r["targets"])
