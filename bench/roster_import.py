"""Roster check and import of a 10,000-row 《报名人员信息表》, and a 500-photo batch check.

Usage: .venv/bin/python bench/roster_import.py [--rows 10000] [--photos 500]
Set DATABASE_URL to import into PostgreSQL (a scratch database is created and dropped).
Each figure sits next to its baseline measured in the same run: a bare openpyxl read-only
read of the same file (the two timed in turns, best of five each), and a bare Pillow decode +
re-encode loop over the same photos.
Prints a table and writes bench/results/roster_import.json.
"""
import argparse
import datetime as dt
import io
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="jianpei-bench-"))
os.environ.setdefault("JIANPEI_INSTANCE", str(TMP))

from bench.pages import database_uri, drop_database  # noqa: E402


def make_roster(rows: int) -> bytes:
    from app.services.codes import id_check_digit
    from app.services.roster_template import build

    workbook = build()
    sheet = workbook.active
    for n in range(rows):
        birth = dt.date(1970, 1, 1) + dt.timedelta(days=n // 50)
        body = f"330106{birth:%Y%m%d}{n % 50:02d}{n % 10}"
        number = body + id_check_digit(body)
        sheet.append([n + 1, "张三丰", "男" if n % 10 % 2 else "女", number,
                      f"138{n:08d}", "初中", "无", "钢筋工", "五级/初级工"])
        # append() writes below the template's formatted rows; move them up instead
    out = io.BytesIO()
    workbook.save(out)
    return _compact(out.getvalue())


def _compact(data: bytes) -> bytes:
    """Rewrite so data rows start at row 2 (the template pre-formats 5000 empty rows)."""
    from openpyxl import load_workbook

    source = load_workbook(io.BytesIO(data))
    sheet = source.active
    values = [r for r in sheet.iter_rows(min_row=2, values_only=True) if any(v is not None for v in r)]
    from app.services.roster_template import build

    workbook = build()
    target = workbook.active
    for i, row in enumerate(values, start=2):
        for j, value in enumerate(row, start=1):
            target.cell(row=i, column=j, value=value)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def bare_read(data: bytes) -> int:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True)
    count = sum(1 for _ in workbook.active.iter_rows(values_only=True))
    workbook.close()
    return count


def timed(fn, *args, repeat: int = 3):
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def timed_in_turns(*calls, repeat: int = 5):
    """(best seconds, result) of each (fn, arg), the calls run one after the other each round."""
    best: list = [None] * len(calls)
    results: list = [None] * len(calls)
    for _ in range(repeat):
        for i, (fn, arg) in enumerate(calls):
            start = time.perf_counter()
            results[i] = fn(arg)
            elapsed = time.perf_counter() - start
            best[i] = elapsed if best[i] is None else min(best[i], elapsed)
    return list(zip(best, results))


def _import_child(uri: str, data: bytes, queue) -> None:
    from app import create_app
    from app.extensions import db
    from app.services import enrolment
    from models import JianpeiUser

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri})
    with app.app_context():
        user = db.session.scalars(db.select(JianpeiUser).where(JianpeiUser.username == "bench")).one()
        start = time.perf_counter()
        report = enrolment.import_roster(1, user, data, "bench.xlsx")
        elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"seconds": elapsed, "ok": report.ok, "rows": report.rows, "peak_rss_mb": peak_mb})


def prepare_database(uri: str, rows: int) -> None:
    from decimal import Decimal

    from flask_migrate import upgrade

    from app import clock, create_app
    from app.extensions import db
    from app.services import roles
    from models import Enterprise, Institution, Occupation, OccupationLevel, TrainingPlan

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri})
    with app.app_context():
        upgrade()
        roles.sync_roles()
        now = clock.now()
        institution = Institution(name="基准培训机构", region_code="330100")
        enterprise = Enterprise(uscc="91330100MA27XK001P", name="基准企业", region_code="330100",
                                review_state="approved", created_at=now)
        db.session.add_all([institution, enterprise])
        db.session.flush()
        occupation = db.session.scalars(db.select(Occupation).where(Occupation.name == "钢筋工")).one()
        level = db.session.scalars(db.select(OccupationLevel)
                                   .where(OccupationLevel.name == "五级/初级工")).one()
        db.session.add(TrainingPlan(
            institution_id=institution.id, occupation_id=occupation.id, level_id=level.id,
            quota=rows, fee=Decimal("600"), enrol_start=now - dt.timedelta(days=1),
            enrol_end=now + dt.timedelta(days=9), train_start=now.date() + dt.timedelta(days=10),
            train_end=now.date() + dt.timedelta(days=20), venue="基地", region_code="330100",
            review_state="approved", created_at=now))
        sm = app.appbuilder.sm
        user = sm.add_user("bench", "bench", "", "bench@bench.invalid", sm.find_role("Enterprise"),
                           password="Bench@12345")
        user.enterprise_id = enterprise.id
        db.session.commit()
        db.engine.dispose()


def photo_files(count: int) -> list[bytes]:
    from PIL import Image, ImageDraw

    files = []
    for i in range(count):
        width = 330 + i % 30
        image = Image.new("RGB", (width, width * 4 // 3), (240, 240, 255))
        draw = ImageDraw.Draw(image)
        draw.ellipse((100, 80, 260, 260), fill=(200, 160, 140))
        draw.rectangle((70, 280, 290, 441), fill=(40, 60, 120))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90)
        files.append(out.getvalue())
    return files


def bare_photo_loop(files: list[bytes]) -> int:
    from PIL import Image

    for data in files:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
    return len(files)


def checked_photo_loop(files: list[bytes]) -> int:
    from app.services import photos

    for data in files:
        photos.check(photos.PHOTO, data)
    return len(files)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--photos", type=int, default=500)
    args = parser.parse_args()

    from app import create_app
    from app.services import roster

    uri = database_uri()
    prepare_database(uri, args.rows)
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri})
    with app.app_context():
        data = make_roster(args.rows)
        # In turns, so that a busy moment of this shared machine falls on both alike.
        (bare_s, counted), (check_s, report) = timed_in_turns(
            (bare_read, data), (roster.check, data), repeat=5)
        assert report.ok and report.rows == args.rows, report.as_dict()
        files = photo_files(args.photos)
        bare_photos_s, _ = timed(bare_photo_loop, files, repeat=2)
        checked_photos_s, _ = timed(checked_photo_loop, files, repeat=2)

    queue = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(target=_import_child,
                                                        args=(uri, data, queue))
    child.start()
    imported = queue.get(timeout=600)
    child.join()
    assert imported["ok"], imported

    result = {
        "database": uri.split(":")[0],
        "rows": args.rows,
        "file_mb": round(len(data) / 1024 / 1024, 2),
        "bare_openpyxl_read_s": round(bare_s, 3),
        "roster_check_s": round(check_s, 3),
        "check_ratio": round(check_s / bare_s, 2),
        "import_s": round(imported["seconds"], 3),
        "import_ratio": round(imported["seconds"] / bare_s, 2),
        "import_peak_rss_mb": round(imported["peak_rss_mb"], 1),
        "photos": args.photos,
        "bare_pillow_loop_s": round(bare_photos_s, 3),
        "photo_check_s": round(checked_photos_s, 3),
        "photo_ratio": round(checked_photos_s / bare_photos_s, 2),
        "targets": {"check_ratio": 1.3, "import_ratio": 3.0, "photo_ratio": 1.3,
                    "import_peak_rss_mb": 300},
    }
    for key, value in result.items():
        print(f"{key:<24} {value}")
    out = ROOT / "bench" / "results" / "roster_import.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    print(f"wrote {out}", file=sys.stderr)
    drop_database(app, uri)


if __name__ == "__main__":
    main()
