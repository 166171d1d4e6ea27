"""What a hostile or careless roster costs before it is refused, and what a large wrong one costs.

Usage: .venv/bin/python bench/roster_bounds.py [--rows 20000] [--columns 100] [--no-baseline]
Cases, each in a fresh child process (peak resident memory: VmHWM, reset just before the call,
minus the resident memory before it):
- the audit's file: 20,000 rows × 100 columns, every row wrong: roster.check, refused;
- 2,000 such rows (small enough in bytes): refused for its width;
- the same rows in the template's 9 columns, every row wrong: check and marked copy (too many
  cells to mark: the page lists the first errors);
- 5,000 such rows: check and marked copy (made);
- baseline: one openpyxl read-only pass over the audit's file, the least the check did before.
Prints a table and writes bench/results/roster_bounds.json.
"""
import argparse
import io
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="jianpei-bench-"))
os.environ.setdefault("JIANPEI_INSTANCE", str(TMP))

HEADERS = ["序号", "姓名", "性别", "身份证号码", "手机号码", "文化程度", "职称", "职业(工种)名称",
           "职业等级"]


def wrong_roster(rows: int, columns: int) -> bytes:
    """The template's header, then `rows` rows with every cell wrong, `columns` wide."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("报名人员信息表")
    sheet.append(HEADERS + [f"备注{i}" for i in range(columns - len(HEADERS))])
    for n in range(rows):
        sheet.append([n + 1, f"x{n}", "?", f"1{n}", f"2{n}", "博士后", "院士", "木 工", "特级"]
                     + [f"v{n % 97}-{i}" for i in range(columns - len(HEADERS))])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])  # kB
    raise RuntimeError(field)


def check_and_mark(uri: str):
    def run(data: bytes) -> dict:
        from app import create_app
        from app.services import roster

        app = create_app({"SQLALCHEMY_DATABASE_URI": uri})
        with app.app_context():
            start = time.perf_counter()
            try:
                report = roster.check(data)
            except roster.RosterRefused as refused:
                return {"outcome": f"refused: {refused}", "seconds": time.perf_counter() - start}
            checked = time.perf_counter()
            marked = roster.annotated_workbook(data, report, roster.SHEET)
            return {"outcome": f"{len(report.errors)} errors; marked copy "
                               f"{'made' if marked else 'not made (too large)'}",
                    "check_s": checked - start, "mark_s": time.perf_counter() - checked,
                    "seconds": time.perf_counter() - start}
    return run


def bare_read(data: bytes) -> dict:
    from openpyxl import load_workbook

    start = time.perf_counter()
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    rows = sum(1 for _ in workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    return {"outcome": f"{rows} rows read", "seconds": time.perf_counter() - start}


def _child(fn, data: bytes, queue) -> None:
    import openpyxl  # noqa: F401  (imported before measuring, as in a running worker)

    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    result = fn(data)
    result["peak_mb"] = (_status("VmHWM") - before) / 1024
    result["rss_after_mb"] = (_status("VmRSS") - before) / 1024
    queue.put(result)


def measure(fn, data: bytes) -> dict:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(fn, data, queue))
    child.start()
    result = queue.get(timeout=1800)
    child.join()
    return {key: round(value, 3) if isinstance(value, float) else value
            for key, value in result.items()}


def prepare_database() -> str:
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    uri = f"sqlite:///{TMP / 'bench.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri})
    with app.app_context():
        upgrade()  # the dictionaries the check looks values up in
        db.engine.dispose()
    return uri


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--columns", type=int, default=100)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()

    uri = prepare_database()
    files = {
        "audit": wrong_roster(args.rows, args.columns),
        "wide": wrong_roster(2000, args.columns),
        "template_width": wrong_roster(args.rows, len(HEADERS)),
        "markable": wrong_roster(5000, len(HEADERS)),
    }
    cases = [
        (f"{args.rows} x {args.columns}, all wrong: check", check_and_mark(uri), "audit"),
        (f"2000 x {args.columns}, all wrong: check", check_and_mark(uri), "wide"),
        (f"{args.rows} x {len(HEADERS)}, all wrong: check + mark", check_and_mark(uri),
         "template_width"),
        (f"5000 x {len(HEADERS)}, all wrong: check + mark", check_and_mark(uri), "markable"),
    ]
    if not args.no_baseline:
        cases.append((f"baseline: openpyxl read of {args.rows} x {args.columns}", bare_read,
                      "audit"))
    results = []
    for name, fn, file in cases:
        figures = measure(fn, files[file])
        results.append({"case": name, "file_mb": round(len(files[file]) / 1024 / 1024, 2),
                        **figures})
        print(f"{name:<46} {results[-1]['file_mb']:>5} MB  {figures['seconds']:>6.2f} s  "
              f"peak +{figures['peak_mb']:>7.1f} MB  after +{figures['rss_after_mb']:>6.1f} MB  "
              f"{figures['outcome']}")
    out = ROOT / "bench" / "results" / "roster_bounds.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
