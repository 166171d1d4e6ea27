"""The anchor of bench/pages.py: a bare Flask-AppBuilder app, timed the way our pages are.

One model of its own (200,000 rows, three indexed columns), one `ModelView` over it with
Flask-AppBuilder's defaults (25 rows a page, its own templates, its own security manager), and
its admin signed in through the test client. It runs in a process of its own, so that nothing
of ours (models, views, hooks, configuration) is imported into it; bench/pages.py starts it:

    python bench/fab_anchor.py --uri DATABASE_URI [--rows 200000]

It seeds, prints `ready <seconds>`, then answers each line `time N` on stdin with one JSON line:
the milliseconds of N GETs of its list page (each one timed as bench/pages.py times ours).
"""
import argparse
import datetime as dt
import json
import sys
import time

import sqlalchemy as sa
from flask import Flask
from flask_appbuilder import AppBuilder, Model, ModelView
from flask_appbuilder.const import AUTH_DB
from flask_appbuilder.models.sqla.base import SQLA
from flask_appbuilder.models.sqla.interface import SQLAInterface

PASSWORD = "Anchor@12345"
LIST_PAGE = "/benchitemview/list/"
CHUNK = 10_000


class BenchItem(Model):
    __tablename__ = "bench_item"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(100), nullable=False, index=True)
    code = sa.Column(sa.String(20), nullable=False, index=True)
    created_at = sa.Column(sa.DateTime, nullable=False, index=True)
    amount = sa.Column(sa.Numeric(10, 2))
    note = sa.Column(sa.String(200))


class BenchItemView(ModelView):
    datamodel = SQLAInterface(BenchItem)
    list_columns = ["name", "code", "created_at", "amount", "note"]
    search_columns = ["name", "code", "created_at"]


def make_app(uri: str) -> Flask:
    db = SQLA(metadata=Model.metadata)
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI=uri, SECRET_KEY="bench-anchor-" + "x" * 32,
                      AUTH_TYPE=AUTH_DB, WTF_CSRF_ENABLED=False, APP_NAME="Anchor")
    db.init_app(app)
    with app.app_context():
        appbuilder = AppBuilder(app, db.session)
        appbuilder.add_view(BenchItemView, "Items", category="Bench")
        db.create_all()
    app.extensions["bench_db"] = db
    return app


def seed(app: Flask, rows: int) -> None:
    db = app.extensions["bench_db"]
    start = dt.datetime(2026, 1, 1)
    with app.app_context():
        for first in range(0, rows, CHUNK):
            db.session.execute(sa.insert(BenchItem), [
                {"name": f"基准条目{i}", "code": f"C{i:09d}",
                 "created_at": start + dt.timedelta(minutes=i), "amount": i % 1000,
                 "note": f"备注 {i % 97}"} for i in range(first, min(first + CHUNK, rows))])
        sm = app.appbuilder.sm
        sm.add_user("admin", "Admin", "Bench", "admin@anchor.invalid", sm.find_role("Admin"),
                    password=PASSWORD)
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uri", required=True)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    app = make_app(args.uri)
    seed(app, args.rows)
    client = app.test_client()
    answer = client.post("/login/", data={"username": "admin", "password": PASSWORD})
    if answer.status_code != 302 or client.get(LIST_PAGE).status_code != 200:
        sys.exit(f"the anchor's admin cannot open {LIST_PAGE}")
    print(f"ready {time.perf_counter() - t0:.2f}", flush=True)
    for line in sys.stdin:
        command, _, count = line.partition(" ")
        if command != "time":
            break
        samples = []
        for _ in range(int(count)):
            t = time.perf_counter()
            client.get(LIST_PAGE)
            samples.append((time.perf_counter() - t) * 1000)
        print(json.dumps(samples), flush=True)
    with app.app_context():
        app.extensions["bench_db"].engine.dispose()


if __name__ == "__main__":
    main()
