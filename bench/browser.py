"""Page load in a real browser: every page of the enterprise's menu, as a clerk sees it.

Usage: .venv/bin/python bench/browser.py [--rounds 10] [--workers 2] [--threads 4]

Sets up a demo instance on a scratch SQLite file (`flask --app run setup --demo`), starts
`gunicorn -c gunicorn.conf.py run:app` on a free port (the production server: no debug, static
files through the app, gzip from app/compression.py), and drives Debian's chromium through
Playwright (headless, as tests/e2e does). Signs in as the demo enterprise through the login
form, then loads each page of its menu (the left menu and the top bar's pages) `--rounds` times,
one user, one page after the other, in one browser context (so its cache holds the static
files after the first visit, as a clerk's browser does), after `--warmup` unrecorded rounds
(each gunicorn worker compiles a page's templates the first time it serves it). The login
page's first load, with an empty cache, shows what the files cost on the wire.

Each load is `page.goto(url, wait_until="load")`; the figure is the navigation's own
loadEventEnd (Navigation Timing: from the start of the navigation to the end of the load
event), with the time to the first byte of the page and the bytes that crossed the wire (page
and files, after compression) next to their decoded size. Prints p50/p95 per page against the
400 ms p95 target and writes bench/results/browser.json.
"""
import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    DEMO_ENTERPRISE,
    DEMO_PASSWORD,
    demo_env,
    free_port,
    load_average,
    menu_paths,
    percentile,
    setup_demo,
    start_gunicorn,
    stop,
    wait_until_up,
)
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

TARGET_P95_MS = 400.0
TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const files = performance.getEntriesByType('resource');
  const sum = (entries, key) => entries.reduce((total, e) => total + (e[key] || 0), 0);
  return {load: nav.loadEventEnd, ttfb: nav.responseStart, dom: nav.domContentLoadedEventEnd,
          page_transfer: nav.transferSize, page_decoded: nav.decodedBodySize,
          files: files.length, files_transfer: sum(files, 'transferSize'),
          files_decoded: sum(files, 'decodedBodySize')};
}"""


def sign_in(page, base: str) -> dict:
    """Through the login form; what its first, cold, load cost (the files come with it)."""
    cold = measure(page, f"{base}/login/")
    page.fill("#username", DEMO_ENTERPRISE)  # the enterprise tab is the default
    page.fill("#password", DEMO_PASSWORD)
    page.click("form[name=login] button[type=submit]")
    page.wait_for_url(f"{base}/")
    return cold


def measure(page, url: str) -> dict:
    response = page.goto(url, wait_until="load")
    page.wait_for_function(
        "() => performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
    return {"status": response.status if response else None, **page.evaluate(TIMING)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="loads of each page")
    parser.add_argument("--warmup", type=int, default=1, help="unrecorded rounds first")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: `make system-deps` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="jianpei-browser-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = demo_env(tmp / "instance", port, WEB_CONCURRENCY=str(args.workers),
                   GUNICORN_THREADS=str(args.threads), GUNICORN_ACCESS_LOG="/dev/null")
    load_before = load_average()
    setup_s = setup_demo(env)
    log = tmp / "gunicorn.log"
    server = start_gunicorn(env, log)
    samples: dict[str, list[dict]] = {}
    try:
        wait_until_up(base, server, log)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_ARGS)
            context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
            page = context.new_page()
            cold = sign_in(page, base)
            paths = menu_paths(page.content())
            for _ in range(args.warmup):
                for path in paths:
                    measure(page, base + path)
            for _ in range(args.rounds):
                for path in paths:
                    samples.setdefault(path, []).append(measure(page, base + path))
            browser.close()
    finally:
        stop(server)

    rows = []
    for path, loads in samples.items():
        times = [s["load"] for s in loads]
        rows.append({
            "page": path, "status": sorted({s["status"] for s in loads}),
            "first_ms": round(times[0], 1), "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(percentile(times, 0.95), 1),
            "ttfb_p50_ms": round(statistics.median(s["ttfb"] for s in loads), 1),
            "page_kb": round(loads[-1]["page_decoded"] / 1024, 1),
            "page_transfer_kb": round(loads[-1]["page_transfer"] / 1024, 1),
            "files": loads[0]["files"],
            "files_transfer_kb": round(loads[-1]["files_transfer"] / 1024, 1),
        })
    cold_login = {"load_ms": round(cold["load"], 1), "files": cold["files"],
                  "page_kb": round(cold["page_decoded"] / 1024, 1),
                  "page_transfer_kb": round(cold["page_transfer"] / 1024, 1),
                  "files_kb": round(cold["files_decoded"] / 1024, 1),
                  "files_transfer_kb": round(cold["files_transfer"] / 1024, 1)}
    worst = max(row["p95_ms"] for row in rows)
    report = {"command": " ".join(["bench/browser.py"] + sys.argv[1:]), "database": "sqlite",
              "server": f"gunicorn {args.workers}x{args.threads}", "browser": CHROMIUM,
              "rounds": args.rounds, "warmup_rounds": args.warmup, "cold_login": cold_login,
              "setup_seconds": round(setup_s, 1), "pages": rows,
              "target_p95_ms": TARGET_P95_MS, "worst_p95_ms": worst,
              "within_target": worst <= TARGET_P95_MS, "load_average_before": load_before,
              "load_average_after": load_average()}
    print(f"login page, empty cache: load {cold_login['load_ms']} ms; page "
          f"{cold_login['page_kb']} KB ({cold_login['page_transfer_kb']} KB on the wire), "
          f"{cold_login['files']} files {cold_login['files_kb']} KB "
          f"({cold_login['files_transfer_kb']} KB on the wire)")
    print(f"{'page (ms)':<28} {'first':>7} {'p50':>7} {'p95':>7} {'ttfb50':>7} "
          f"{'page KB':>8} {'on wire':>8} {'files':>6} {'files on wire KB':>17}")
    for row in rows:
        print(f"{row['page']:<28} {row['first_ms']:>7} {row['p50_ms']:>7} {row['p95_ms']:>7} "
              f"{row['ttfb_p50_ms']:>7} {row['page_kb']:>8} {row['page_transfer_kb']:>8} "
              f"{row['files']:>6} {row['files_transfer_kb']:>17}")
    print(f"load event p95, worst page: {worst} ms (target <= {TARGET_P95_MS:.0f} ms: "
          f"{report['within_target']}); load average {load_before} -> "
          f"{report['load_average_after']}")
    out = ROOT / "bench" / "results" / "browser.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
