"""A person's identity belongs to nobody's roster: another enterprise can neither rename a trainee
nor reach them; contact and qualification data are each enrolment's own; digits are ASCII."""
import datetime as dt
import io

import pytest
from sqlalchemy import func, select

from app import scope
from app.extensions import db
from app.services import roster
from models.audit import AuditLog
from models.enrolment import Enrolment, Person
from models.accounts import SmsMessage
from models.states import PlanState
from tests.assessment_factories import gen_certificate
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_regulator, gen_user
from tests.helpers import path, visible_text
from tests.order_factories import gen_order
from tests.rosters import id_number, roster_bytes, row

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")
MISMATCH = "姓名与该身份证号码已登记的姓名不一致"


@pytest.fixture
def world(app, login_as):
    """Two approved Hangzhou enterprises, each signed in, each with an open plan."""
    app.config["CLOCK_FROZEN_AT"] = dt.datetime(2026, 11, 28, 10, 0)
    institution = gen_institution()
    window = dict(enrol_start=dt.datetime(2026, 11, 20), enrol_end=dt.datetime(2026, 12, 10))
    made = {"plan_a": gen_plan(institution, **window), "plan_b": gen_plan(institution, **window)}
    for key in ("a", "b"):
        enterprise = gen_enterprise()
        client = app.test_client()
        login_as(client, gen_user(scope.ENTERPRISE, enterprise_id=enterprise.id))
        made[key], made[f"client_{key}"] = enterprise, client
    return made


def _add(client, plan, **overrides):
    values = row(**overrides)
    values.pop("序号")
    return client.post(f"/enrol/{plan.id}/add", data=values)


def _upload(client, plan, data):
    return client.post(f"/enrol/{plan.id}/roster",
                       data={"roster": (io.BytesIO(data), "报名人员信息表.xlsx")},
                       content_type="multipart/form-data")


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_another_enterprise_cannot_rename_a_trainee_or_take_their_mobile(app, world):
    number = id_number()
    assert _add(world["client_a"], world["plan_a"], 姓名="张三", 身份证号码=number,
                手机号码="13800000001").status_code == 302
    # B types A's trainee's number with another name and mobile, on another plan.
    page = _add(world["client_b"], world["plan_b"], 姓名="李四", 身份证号码=number,
                手机号码="13900000009")
    text = visible_text(page.get_data(as_text=True))
    assert page.status_code == 200 and MISMATCH in text
    assert "张三" not in text  # the registered name is not revealed
    db.session.expire_all()
    assert db.session.scalars(select(Person.name)).all() == ["张三"]
    assert _count(Enrolment) == 1
    # With the right name B enrols the same worker with its own mobile; A's stays A's.
    assert _add(world["client_b"], world["plan_b"], 姓名="张三", 身份证号码=number,
                手机号码="13900000009").status_code == 302
    db.session.expire_all()
    mobiles = dict(db.session.execute(select(Enrolment.enterprise_id, Enrolment.mobile)).all())
    assert mobiles == {world["a"].id: "13800000001", world["b"].id: "13900000009"}
    assert _count(Person) == 1


def test_a_training_notice_reaches_the_number_its_own_enterprise_gave(app, world):
    plan = world["plan_a"]
    order = gen_order(world["a"], plan, n=1)
    trainee = db.session.scalars(select(Enrolment).where(Enrolment.order_id == order.id)).one()
    trainee.mobile, trainee.person.name = "13800000001", "王小明"
    db.session.commit()
    assert _add(world["client_b"], world["plan_b"], 姓名=trainee.person.name,
                身份证号码=trainee.person.id_number, 手机号码="13900000009").status_code == 302
    sent = world["client_a"].post(path("EnrolledView.notify_send", plan_id=plan.id),
                                  data={"ids": [trainee.id], "kind": "training"})
    assert sent.status_code == 302
    db.session.expire_all()
    assert db.session.scalars(select(SmsMessage.phone)).all() == ["13800000001"]


def test_a_roster_row_with_another_name_is_a_cell_error_and_imports_nothing(app, world):
    number = id_number()
    assert _add(world["client_a"], world["plan_a"], 姓名="张三", 身份证号码=number).status_code == 302
    data = roster_bytes([row(姓名="王五"), row(姓名="李四", 身份证号码=number)])
    report = roster.check(data, world["plan_b"], today=dt.date(2026, 11, 28))
    assert [(e.row, e.column) for e in report.errors] == [(3, "姓名")]
    assert MISMATCH in report.errors[0].message and "张三" not in report.errors[0].message
    page = visible_text(_upload(world["client_b"], world["plan_b"], data).get_data(as_text=True))
    assert MISMATCH in page and "未导入任何人" in page
    db.session.expire_all()
    assert _count(Enrolment) == 1 and db.session.scalars(select(Person.name)).all() == ["张三"]
    # Spaces and a full-width space around the registered name are not a difference.
    fine = roster_bytes([row(姓名=" 张\u3000三 ", 身份证号码=number)])
    assert roster.check(fine, world["plan_b"], today=dt.date(2026, 11, 28)).ok


def _edit(client, enrolment, name):
    return client.post(f"/enrol/edit/{enrolment.id}", data={
        "姓名": name, "性别": enrolment.person.gender, "手机号码": "13911112222",
        "文化程度": "大专", "职称": "中级"})


def test_the_sole_enterprise_corrects_a_typo_until_anyone_else_relies_on_the_name(app, world):
    number = id_number()
    _add(world["client_a"], world["plan_a"], 姓名="张山", 身份证号码=number)
    mine = db.session.scalars(select(Enrolment)).one()
    assert _edit(world["client_a"], mine, "张三").status_code == 302
    db.session.expire_all()
    assert db.session.get(Person, mine.person_id).name == "张三"
    assert db.session.get(Enrolment, mine.id).mobile == "13911112222"
    renamed = db.session.scalars(select(AuditLog).where(AuditLog.action == "person.rename")).one()
    assert "张山" in renamed.summary and "张三" in renamed.summary
    # Once another enterprise enrolled the person, the name is no longer A's to change.
    assert _add(world["client_b"], world["plan_b"], 姓名="张三", 身份证号码=number).status_code == 302
    page = visible_text(_edit(world["client_a"], mine, "张叁").get_data(as_text=True))
    assert "登记姓名不能在此修改" in page
    db.session.expire_all()
    assert db.session.get(Person, mine.person_id).name == "张三"
    # Mobile, education and title stay A's own to edit.
    assert _edit(world["client_a"], mine, "张三").status_code == 302


def test_a_certificate_freezes_the_name_for_the_enterprise(app, world):
    number = id_number()
    _add(world["client_a"], world["plan_a"], 姓名="张三", 身份证号码=number)
    mine = db.session.scalars(select(Enrolment)).one()
    gen_certificate(mine)
    page = visible_text(_edit(world["client_a"], mine, "张叁").get_data(as_text=True))
    assert "登记姓名不能在此修改" in page
    db.session.expire_all()
    assert db.session.get(Person, mine.person_id).name == "张三"


def test_the_city_regulator_corrects_a_name_with_a_reason_audited(app, world, login_as):
    number = id_number()
    _add(world["client_a"], world["plan_a"], 姓名="张山", 身份证号码=number)
    _add(world["client_b"], world["plan_b"], 姓名="张山", 身份证号码=number)
    mine = db.session.scalars(select(Enrolment).order_by(Enrolment.id)).first()
    url = f"/trainees/{mine.id}/name"
    # Enterprises may not use the regulator's correction.
    world["client_a"].post(url, data={"name": "张三", "reason": "x"})
    db.session.expire_all()
    assert db.session.get(Person, mine.person_id).name == "张山"
    # Another city's regulator does not see the trainee at all.
    ningbo = app.test_client()
    login_as(ningbo, gen_regulator("330200"))
    assert ningbo.post(url, data={"name": "张三", "reason": "户籍证明"}).status_code == 404
    hangzhou = app.test_client()
    login_as(hangzhou, gen_regulator("330100"))
    detail = visible_text(hangzhou.get(f"/trainees/{mine.id}").get_data(as_text=True))
    assert "更正登记姓名" in detail
    no_reason = hangzhou.post(url, data={"name": "张三", "reason": " "}, follow_redirects=True)
    assert "请填写更正原因" in visible_text(no_reason.get_data(as_text=True))
    done = hangzhou.post(url, data={"name": "张三", "reason": "户籍证明"}, follow_redirects=True)
    assert "登记姓名已更正" in visible_text(done.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.get(Person, mine.person_id).name == "张三"
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "person.rename")).one()
    assert "户籍证明" in entry.summary and entry.region_code == "330100"
    assert "登记姓名已更正" in visible_text(
        world["client_a"].get(f"/trainees/{mine.id}").get_data(as_text=True))


@pytest.mark.parametrize("script", [ARABIC_INDIC, DEVANAGARI], ids=["arabic-indic", "devanagari"])
def test_other_scripts_digits_are_not_id_numbers_or_mobiles(app, world, script):
    number = id_number()
    assert _add(world["client_a"], world["plan_a"], 身份证号码=number).status_code == 302
    # The same person in another script's digits is not a new person.
    page = _add(world["client_a"], world["plan_a"], 身份证号码=number.translate(script))
    assert "身份证号码含有不允许的字符" in visible_text(page.get_data(as_text=True))
    page = _add(world["client_a"], world["plan_a"], 手机号码="13800138000".translate(script))
    assert "手机号码应为 11 位数字" in visible_text(page.get_data(as_text=True))
    data = roster_bytes([row(身份证号码=number.translate(script))])
    report = roster.check(data, today=dt.date(2026, 11, 28))
    assert [e.column for e in report.errors] == ["身份证号码"]
    db.session.expire_all()
    assert _count(Enrolment) == 1 and _count(Person) == 1


@pytest.mark.parametrize("script", [ARABIC_INDIC, DEVANAGARI], ids=["arabic-indic", "devanagari"])
def test_other_scripts_digits_get_no_sms_code(app, client, script):
    response = client.post("/register/sms", data={"mobile": "13912345678".translate(script)})
    assert response.status_code == 400 and "11 位" in response.get_json()["error"]
    assert _count(SmsMessage) == 0


def test_typed_mobiles_with_dashes_and_spaces_are_cleaned(app, world):
    assert _add(world["client_a"], world["plan_a"], 手机号码="138-1234-5678").status_code == 302
    assert _add(world["client_a"], world["plan_a"], 手机号码="139 1234 5678").status_code == 302
    db.session.expire_all()
    assert sorted(db.session.scalars(select(Enrolment.mobile))) == ["13812345678", "13912345678"]


def test_the_audit_log_never_holds_a_full_id_number(app, world):
    number = id_number()
    _add(world["client_a"], world["plan_a"], 身份证号码=number)
    summaries = " ".join(s or "" for s in db.session.scalars(select(AuditLog.summary)))
    assert "enrolment.add" in db.session.scalars(select(AuditLog.action)).all()
    assert number not in summaries and number[:4] in summaries


@pytest.mark.parametrize("state", [PlanState.DRAFT.value, PlanState.SUBMITTED.value,
                                   PlanState.REJECTED.value])
def test_an_unpublished_plan_is_as_unknown_as_a_missing_one(app, world, state):
    plan = gen_plan(gen_institution(), review_state=state, enrol_start=dt.datetime(2026, 11, 20),
                    enrol_end=dt.datetime(2026, 12, 10))
    client = world["client_a"]
    assert client.get(f"/enrol/{plan.id}/").status_code == 404
    assert client.get("/enrol/999999/").status_code == 404
    assert _add(client, plan).status_code == 404 or _count(Enrolment) == 0
    assert _count(Enrolment) == 0


def test_migration_moves_contact_data_to_each_enrolment(app, runner):
    """Rows written under 0009 (mobile on the person) keep their data after the upgrade."""
    import sqlalchemy as sa

    assert runner.invoke(args=["db", "downgrade", "0009_notifications"]).exit_code == 0
    enterprise, plan = gen_enterprise(), gen_plan(gen_institution())
    with db.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO person (id, id_number, name, gender, birth_date, mobile, education_id, "
            "title_id, updated_at) VALUES (70, :n, '张三', '男', '1990-01-01', '13800000070', "
            "1, 2, '2026-11-01 00:00:00')"), {"n": id_number()})
        conn.execute(sa.text(
            "INSERT INTO enrolment (person_id, plan_id, enterprise_id, occupation_id, level_id, "
            "status, created_at) VALUES (70, :p, :e, :o, :l, 'live', '2026-11-01 00:00:00')"),
            {"p": plan.id, "e": enterprise.id, "o": plan.occupation_id, "l": plan.level_id})
    db.session.remove()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with db.engine.connect() as conn:
        moved = conn.execute(sa.text(
            "SELECT mobile, education_id, title_id FROM enrolment WHERE person_id = 70")).one()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("person")}
    assert tuple(moved) == ("13800000070", 1, 2)
    assert "mobile" not in columns and "education_id" not in columns
