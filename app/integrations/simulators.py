"""The simulators' own tables, apart from the production schema.

The built-in Alipay gateway simulator (alipay_sim.py) keeps its trades and the built-in
ministry receiver (ministry_receiver.py) its receipts. Neither is part of the production
schema: their models sit on their own metadata (not the app's, so `flask db check` and the
migrations never see them; migration 0014 dropped the tables from the production schema), and
their tables are created only where the simulator is mounted: `mount` lists them on the app,
and migrations/env.py creates them (if missing) whenever the database has been brought to the
newest revision (`flask db upgrade`, `flask setup`).
"""
from flask import Blueprint, Flask
from sqlalchemy import MetaData, Table
from sqlalchemy.orm import DeclarativeBase

EXTENSION = "simulator_tables"


class SimulatorModel(DeclarativeBase):
    """The base of a simulator's models: their own metadata, never the app's."""

    metadata = MetaData()


def mount(app: Flask, blueprint: Blueprint, *models: type[SimulatorModel]) -> None:
    """Serve a simulator, and list its tables as wanted in this app's database."""
    app.register_blueprint(blueprint)
    tables = app.extensions.setdefault(EXTENSION, [])
    tables.extend(model.__table__ for model in models if model.__table__ not in tables)


def wanted_tables(app: Flask) -> list[Table]:
    """The tables of the simulators this app mounts (none in production)."""
    return list(app.extensions.get(EXTENSION, ()))


def create_tables(app: Flask, connection) -> None:
    """Create the mounted simulators' tables that do not exist yet."""
    for table in wanted_tables(app):
        table.create(connection, checkfirst=True)


def table_names() -> set[str]:
    """Every simulator table's name, mounted or not (for migrations/env.py to leave alone)."""
    from app.integrations import alipay_sim, ministry_receiver  # noqa: F401 - their models

    return set(SimulatorModel.metadata.tables)
