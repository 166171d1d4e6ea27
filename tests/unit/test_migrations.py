"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""


def test_models_and_migrations_agree(app, runner):
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_downgrade_and_upgrade_again(app, runner):
    from sqlalchemy import inspect

    from app.extensions import db

    assert runner.invoke(args=["db", "downgrade", "0003_audit_append_only"]).exit_code == 0
    db.session.remove()
    assert "enrolment" not in inspect(db.engine).get_table_names()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    db.session.remove()
    assert "enrolment" in inspect(db.engine).get_table_names()


def test_the_simulator_tables_are_not_the_production_schema(app, runner, monkeypatch):
    """The simulators' tables are not in the app's metadata (so `db check` above leaves them
    alone: migrations/env.py excludes them), 0014 drops them, and an upgrade creates them again
    only where a simulator is mounted."""
    from sqlalchemy import inspect

    from app.extensions import db
    from app.integrations import simulators

    simulator_tables = {"alipay_sim_trade", "ministry_receipt"}
    assert simulators.table_names() == simulator_tables
    assert not simulator_tables & set(db.metadata.tables)
    assert simulator_tables <= set(inspect(db.engine).get_table_names())  # mounted here
    monkeypatch.setitem(app.extensions, simulators.EXTENSION, [])  # as in production
    assert runner.invoke(args=["db", "downgrade", "0013_sms_provider"]).exit_code == 0
    db.session.remove()
    assert simulator_tables <= set(inspect(db.engine).get_table_names())
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    db.session.remove()
    assert not simulator_tables & set(inspect(db.engine).get_table_names())
