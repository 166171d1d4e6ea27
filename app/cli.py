"""`flask --app run ...` commands. Each calls the same services as the web views."""
import datetime as dt
import json
import re
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_migrate import upgrade

from app.services import roles


def register(app: Flask) -> None:
    app.cli.add_command(setup_command)
    app.cli.add_command(sync_roles_command)
    app.cli.add_command(tasks_cli)
    app.cli.add_command(ocr_cli)
    app.cli.add_command(roster_cli)
    app.cli.add_command(invoices_cli)
    app.cli.add_command(certificates_cli)


@click.command("setup")
@click.option("--demo", is_flag=True, help="Also seed the demo data and print the demo accounts.")
def setup_command(demo: bool) -> None:
    """Migrate the database, sync roles and permissions, optionally seed demo data."""
    upgrade()
    roles.sync_roles()
    click.echo("database migrated; roles and permissions synced", err=True)
    if demo:
        from app.services import demo as demo_service

        accounts = demo_service.seed()
        click.echo(demo_service.format_accounts(accounts))


@click.command("sync-roles")
def sync_roles_command() -> None:
    """Make every role hold exactly the permissions of app/permissions.py."""
    changed = roles.sync_roles()
    click.echo(json.dumps({"changed_roles": changed}, ensure_ascii=False))


tasks_cli = AppGroup("tasks", help="Background task queue.")


@tasks_cli.command("ping")
@click.option("--timeout", default=10, show_default=True, help="Seconds to wait for a worker.")
def tasks_ping(timeout: int) -> None:
    """Check that a huey worker runs tasks: exit 0 if one answered in time."""
    from tasks.maintenance import audit_note

    result = audit_note("tasks.ping", "ping from the command line")
    try:
        entry_id = result.get(blocking=True, timeout=timeout)
    except Exception:  # huey raises its own timeout error class
        click.echo(json.dumps({"ok": False, "error": "no worker answered"}))
        sys.exit(1)
    storage = type(current_app.extensions["huey"]).__name__
    click.echo(json.dumps({"ok": True, "audit_id": entry_id, "storage": storage}))


ocr_cli = AppGroup("ocr", help="Text recognition, for support staff debugging photos.")


@ocr_cli.command("licence")
@click.argument("image", type=click.Path(exists=True, dir_okay=False))
def ocr_licence(image: str) -> None:
    """Print what OCR reads on a business licence photo as JSON (the seven fields, `region` and
    a `confidence` per field); exit 1 when it is not a readable licence with a valid USCC."""
    from app.services.licence import problem_message, read_licence

    reading = read_licence(image)
    problem = problem_message(reading)
    reading.pop("problem", None)
    click.echo(json.dumps(reading, ensure_ascii=False))
    if problem:
        click.echo(problem, err=True)
    sys.exit(1 if problem else 0)


# The old spelling keeps working for scripts, unlisted in `flask ocr --help`.
ocr_cli.add_command(click.Command("license", callback=ocr_licence.callback, params=ocr_licence.params,
                                  help=ocr_licence.help, hidden=True))


roster_cli = AppGroup("roster", help="The standard roster table 《报名人员信息表》.")


@roster_cli.command("template")
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
def roster_template_command(out: str) -> None:
    """Write the roster template, built from the live dictionaries, to OUT.xlsx."""
    from app.services import roster_template

    with open(out, "wb") as f:
        f.write(roster_template.to_bytes().getvalue())
    click.echo(json.dumps({"ok": True, "path": out}, ensure_ascii=False))


@roster_cli.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--plan", "plan_id", type=int, help="Also check against this plan's seats and enrolments.")
def roster_check_command(file: str, plan_id: int | None) -> None:
    """Check a filled-in roster: JSON report on stdout, exit 0 if it can be imported."""
    from app.extensions import db
    from app.services import roster
    from models.training import TrainingPlan

    plan = None
    if plan_id is not None:
        plan = db.session.get(TrainingPlan, plan_id)
        if plan is None:
            raise click.BadParameter(f"no training plan {plan_id}", param_hint="--plan")
    with open(file, "rb") as f:
        data = f.read()
    try:
        report = roster.check(data, plan).as_dict()
    except roster.RosterRefused as refused:
        report = {"ok": False, "rows": 0, "errors": [roster.CellError(None, None, None,
                                                                      str(refused)).as_dict()]}
    click.echo(json.dumps(report, ensure_ascii=False))
    sys.exit(0 if report["ok"] else 1)


invoices_cli = AppGroup("invoices", help="E-invoices (电子发票) of paid orders.")


def _iso_date(_ctx, _param, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"“{value}”不是有效日期，请按 YYYY-MM-DD 填写，例如 2026-12-01。") from None


@invoices_cli.command("issue")
@click.option("--date", "day", callback=_iso_date, metavar="YYYY-MM-DD",
              help="Issue date (default today): orders paid before it are invoiced.")
def invoices_issue_command(day: dt.date | None) -> None:
    """Invoice every paid order that has none, as the nightly task does: JSON report on stdout."""
    from app.services import invoices

    click.echo(json.dumps(invoices.issue_invoices(day), ensure_ascii=False))


certificates_cli = AppGroup("certificates", help="Training certificates (培训证书).")


@certificates_cli.command("push")
@click.option("--limit", default=500, show_default=True, help="Certificates to push at most.")
def certificates_push_command(limit: int) -> None:
    """Push generated certificates to the ministry, as the 5-minute task does: JSON report
    on stdout, exit 1 if any failed."""
    from app.services import certificate_push

    report = certificate_push.push_pending(limit)
    click.echo(json.dumps(report, ensure_ascii=False))
    sys.exit(1 if report["failed"] else 0)
