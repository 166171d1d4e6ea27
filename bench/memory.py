"""Memory of the web workers, and where the OCR engine lives.

Usage: .venv/bin/python bench/memory.py [--workers 2] [--rounds 5] [--no-consumer]

Sets up a demo instance on a scratch SQLite file (`flask --app run setup --demo`), starts
`gunicorn -c gunicorn.conf.py run:app` on a free port as deploy/serve-prod.sh does (no preload:
each worker builds its own app), signs in as the demo enterprise and requests each page of its
menu `--rounds` times (a new connection each time, so that every worker gets some). Then, for
each web worker: RSS and peak RSS (/proc/<pid>/status VmRSS, VmHWM) and whether onnxruntime or
OpenCV is mapped into it (/proc/<pid>/maps). Unless --no-consumer, a `huey_consumer tasks.huey`
is started beside it and measured the same way once it has warmed the OCR engine, to show where
the engine is. Target: every web worker <= 200 MB, the engine in task workers only.
Prints a table and writes bench/results/memory.json.
"""
import argparse
import html
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.common import (  # noqa: E402
    BIN,
    CSRF,
    DEMO_ENTERPRISE,
    DEMO_PASSWORD,
    children,
    demo_env,
    free_port,
    load_average,
    menu_paths,
    setup_demo,
    start_gunicorn,
    stop,
    wait_until_up,
)

TARGET_MB = 200
OCR_LIBRARIES = ("onnxruntime", "cv2")  # as their shared objects are named in /proc/<pid>/maps


def memory_of(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {"pid": pid,
            "rss_mb": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
            "peak_rss_mb": round(int(fields["VmHWM"].split()[0]) / 1024, 1),
            **{f"{name}_loaded": name in maps for name in OCR_LIBRARIES}}


def sign_in(base: str) -> requests.Session:
    session = requests.Session()
    session.headers["Connection"] = "close"  # a new connection per request: any worker takes it
    token = CSRF.search(session.get(f"{base}/login/").text)
    answer = session.post(f"{base}/login/", data={
        "username": DEMO_ENTERPRISE, "password": DEMO_PASSWORD,
        "csrf_token": html.unescape(token.group(1)) if token else ""}, allow_redirects=False)
    if answer.status_code != 302 or answer.headers.get("Location") not in ("/", f"{base}/"):
        sys.exit(f"sign-in failed: {answer.status_code} {answer.headers.get('Location')}")
    return session


def wait_for_ocr(pid: int, seconds: float = 90) -> float:
    """Until onnxruntime is mapped into the consumer (its warm-up thread), at most `seconds`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if memory_of(pid)["onnxruntime_loaded"]:
            time.sleep(3)  # the models load and run once after the library is mapped
            return time.monotonic() - t0
        time.sleep(0.5)
    return -1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process")
    parser.add_argument("--rounds", type=int, default=5, help="requests of each page")
    parser.add_argument("--no-consumer", dest="consumer", action="store_false",
                        help="do not start a huey consumer beside gunicorn")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="jianpei-memory-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = demo_env(tmp / "instance", port, WEB_CONCURRENCY=str(args.workers),
                   GUNICORN_THREADS=str(args.threads))
    load_before = load_average()
    setup_s = setup_demo(env)
    log = tmp / "gunicorn.log"
    server = start_gunicorn(env, log)
    consumer = None
    try:
        wait_until_up(base, server, log)
        workers = children(server.pid)
        booted = {pid: memory_of(pid) for pid in workers}
        session = sign_in(base)
        paths = menu_paths(session.get(f"{base}/").text)
        statuses = {}
        for _ in range(args.rounds):
            for path in paths:
                statuses[path] = session.get(base + path).status_code
        after = {pid: memory_of(pid) for pid in children(server.pid)}
        if args.consumer:
            consumer_log = tmp / "consumer.log"
            with consumer_log.open("w") as out:
                consumer = subprocess.Popen(
                    [str(BIN / "huey_consumer"), "tasks.huey", "-k", "thread", "-w", "2"],
                    cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True)
            warm_s = wait_for_ocr(consumer.pid)
            consumer_memory = {**memory_of(consumer.pid), "ocr_warm_seconds": round(warm_s, 1)}
            after = {pid: memory_of(pid) for pid in children(server.pid)}  # still without OCR
    finally:
        if consumer is not None:
            stop(consumer)
        stop(server)

    rows = [{"process": "web worker", **booted.get(pid, {}), **{
        f"after_{key}": value for key, value in memory.items() if key != "pid"}, "pid": pid}
        for pid, memory in after.items()]
    report = {
        "command": " ".join(["bench/memory.py"] + sys.argv[1:]),
        "database": "sqlite", "workers": args.workers, "threads": args.threads,
        "rounds": args.rounds, "pages": statuses, "setup_seconds": round(setup_s, 1),
        "web_workers": rows,
        "consumer": consumer_memory if args.consumer else None,
        "target_mb": TARGET_MB,
        "web_max_rss_mb": max(row["after_rss_mb"] for row in rows),
        "web_workers_within_target": all(row["after_rss_mb"] <= TARGET_MB for row in rows),
        "ocr_in_web_workers": any(row[f"after_{name}_loaded"] for row in rows
                                  for name in OCR_LIBRARIES),
        "load_average_before": load_before, "load_average_after": load_average(),
    }
    print(f"pages requested {args.rounds}x each: "
          + ", ".join(f"{path} {status}" for path, status in statuses.items()))
    print(f"{'process':<16} {'pid':>7} {'RSS booted':>11} {'RSS after':>10} {'peak':>8} "
          f"{'onnxruntime':>12} {'cv2':>5}")
    for row in rows:
        print(f"{'web worker':<16} {row['pid']:>7} {row.get('rss_mb', '-'):>11} "
              f"{row['after_rss_mb']:>10} {row['after_peak_rss_mb']:>8} "
              f"{str(row['after_onnxruntime_loaded']):>12} {str(row['after_cv2_loaded']):>5}")
    if args.consumer:
        c = consumer_memory
        print(f"{'huey consumer':<16} {c['pid']:>7} {'':>11} {c['rss_mb']:>10} "
              f"{c['peak_rss_mb']:>8} {str(c['onnxruntime_loaded']):>12} "
              f"{str(c['cv2_loaded']):>5}   (OCR warmed after {c['ocr_warm_seconds']} s)")
    print(f"web workers <= {TARGET_MB} MB: {report['web_workers_within_target']}; "
          f"OCR in a web worker: {report['ocr_in_web_workers']}; "
          f"load average {load_before} -> {report['load_average_after']}")
    out = ROOT / "bench" / "results" / "memory.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
