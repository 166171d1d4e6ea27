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
