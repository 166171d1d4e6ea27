"""证书推送: generated certificates go to the ministry's system (here the built-in receiver,
reached in-process), once per number however often they are sent; failures stay 已生成未推送
with the last error and are tried again; the batch, the huey tasks and the CLI."""
import datetime as dt
import json
import threading

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.integrations import ministry
from app.integrations.ministry_receiver import MinistryReceipt
from app.services import certificate_push
from models.assessment import Certificate
from models.audit import AuditLog
from tests.assessment_factories import gen_certificate, gen_finished_plan, gen_paid_trainees

T0 = dt.datetime(2026, 12, 20, 9, 30)
TOKEN = {"Authorization": "Bearer embedded-receiver-token"}


@pytest.fixture
def certificates(app):
    app.config["CLOCK_FROZEN_AT"] = T0
    plan = gen_finished_plan()
    trainees = gen_paid_trainees(plan, 3)
    return [gen_certificate(t, created_at=T0 - dt.timedelta(hours=3 - i))
            for i, t in enumerate(trainees)]


@pytest.fixture
def sleeps(monkeypatch):
    """The backoff delays a push asks for (nobody waits for them)."""
    asked = []
    monkeypatch.setattr(ministry, "sleep", asked.append)
    return asked


def _fresh(certificate) -> Certificate:
    db.session.expire_all()
    return db.session.get(Certificate, certificate.id)


def _receipts() -> dict[str, MinistryReceipt]:
    db.session.expire_all()
    return {r.number: r for r in db.session.scalars(select(MinistryReceipt))}


def _held(client, number):
    return client.get(f"/ministry-sim/api/certificates/{number}", headers=TOKEN)


def _transport(monkeypatch, *failures):
    """Make the ministry fail as listed (a status, or an exception to raise), then answer."""
    real, queue, calls = ministry.send, list(failures), []

    def send(url, body, headers, timeout):
        calls.append(url)
        if queue:
            failure = queue.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return ministry.Reply(failure, '{"code": "50001", "msg": "系统维护中"}')
        return real(url, body, headers, timeout)

    monkeypatch.setattr(ministry, "send", send)
    return calls


def _always(monkeypatch, status):
    monkeypatch.setattr(ministry, "send", lambda *a: ministry.Reply(status, "<html>down</html>"))


# Pushing --------------------------------------------------------------------------------

def test_a_push_reaches_the_receiver_and_marks_the_certificate_pushed(app, client, certificates,
                                                                     sleeps):
    certificate = certificates[0]
    person = certificate.enrolment.person
    assert certificate_push.push_one(certificate.id) is True

    held = _held(client, certificate.number).get_json()
    assert held["deliveries"] == 1
    assert held["payload"] == {
        "number": certificate.number, "holder_name": person.name,
        "id_number": person.id_number, "gender": person.gender,
        "birth_date": person.birth_date.isoformat(),
        "occupation_code": certificate.occupation.code, "occupation_name": "钢筋工",
        "level_code": certificate.level.code, "level_name": "五级/初级工",
        "issued_on": T0.date().isoformat(),
        "institution_name": certificate.enrolment.plan.institution.name,
        "region_code": "330100", "region_name": certificate.enrolment.plan.region.name,
    }
    pushed = _fresh(certificate)
    assert (pushed.state, pushed.pushed_at, pushed.push_attempts, pushed.last_error) == (
        "pushed", T0, 1, None)
    assert pushed.state_label == "证书已推送"
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "certificate.push")).one()
    assert audit.object_id == str(certificate.id)
    assert audit.region_code == "330100"
    assert sleeps == []


def test_pushing_again_changes_nothing(app, certificates):
    certificate = certificates[0]
    certificate_push.push_one(certificate.id)
    app.config["CLOCK_FROZEN_AT"] = T0 + dt.timedelta(hours=1)

    assert certificate_push.push_one(certificate.id) is True
    assert certificate_push.push_pending() == {"pushed": 2, "failed": 0, "left": 0}
    assert certificate_push.push_pending() == {"pushed": 0, "failed": 0, "left": 0}

    again = _fresh(certificate)
    assert (again.pushed_at, again.push_attempts) == (T0, 1)
    receipts = _receipts()
    assert sorted(receipts) == sorted(c.number for c in certificates)
    assert {r.deliveries for r in receipts.values()} == {1}


def test_the_receiver_keeps_one_receipt_however_often_a_number_arrives(app, client, certificates):
    data = certificate_push.payload(certificates[0])
    first = ministry.push(data)
    second = ministry.push({**data, "holder_name": "改过的名字"})

    assert (first["status"], second["status"]) == ("accepted", "duplicate")
    assert second["deliveries"] == 2
    receipts = _receipts()
    assert list(receipts) == [data["number"]]
    assert receipts[data["number"]].deliveries == 2
    assert json.loads(receipts[data["number"]].payload) == data  # the first one stays


def test_the_batch_pushes_the_oldest_first(app, certificates, monkeypatch):
    sent = []
    real = ministry.push
    monkeypatch.setattr(ministry, "push", lambda data: sent.append(data["number"]) or real(data))
    assert certificate_push.push_pending(limit=2) == {"pushed": 2, "failed": 0, "left": 0}
    assert sent == [c.number for c in certificates[:2]]
    assert [_fresh(c).state for c in certificates] == ["pushed", "pushed", "generated"]


# Failures ------------------------------------------------------------------------------

def test_an_outage_is_retried_with_backoff(app, certificates, sleeps, monkeypatch):
    calls = _transport(monkeypatch, TimeoutError("timed out"), 503)
    certificate = certificates[0]

    assert certificate_push.push_one(certificate.id) is True
    assert sleeps == [1.0, 2.0]
    assert len(calls) == 3
    assert calls[0] == "http://localhost/ministry-sim/api/certificates"
    assert _fresh(certificate).state == "pushed"
    assert _fresh(certificate).push_attempts == 1  # one push, three requests
    assert list(_receipts()) == [certificate.number]


def test_a_lasting_outage_leaves_the_certificate_generated_until_a_later_run(
        app, certificates, sleeps, monkeypatch):
    _always(monkeypatch, 503)
    certificate = certificates[0]

    assert certificate_push.push_one(certificate.id) is False
    assert sleeps == [1.0, 2.0, 4.0]  # MINISTRY_RETRIES = 3 retries after the first try
    failed = _fresh(certificate)
    assert (failed.state, failed.pushed_at, failed.push_attempts) == ("generated", None, 1)
    assert "已生成未推送" in failed.state_label
    assert "503" in failed.last_error
    assert _receipts() == {}

    monkeypatch.undo()
    assert certificate_push.push_pending() == {"pushed": 3, "failed": 0, "left": 0}
    pushed = _fresh(certificate)
    assert (pushed.state, pushed.push_attempts, pushed.last_error) == ("pushed", 2, None)


def test_an_unreachable_ministry_stops_the_batch(app, certificates, sleeps, monkeypatch):
    def refused(*args):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(ministry, "send", refused)
    assert certificate_push.push_pending() == {"pushed": 0, "failed": 1, "left": 2}
    first, *rest = [_fresh(c) for c in certificates]
    assert "Connection refused" in first.last_error
    assert [(c.push_attempts, c.last_error) for c in rest] == [(0, None), (0, None)]
    assert len(sleeps) == 3  # one certificate's retries, not every certificate's


def test_a_refusal_is_not_retried_and_the_batch_goes_on(app, certificates, sleeps, monkeypatch):
    real = certificate_push.payload
    first = certificates[0]

    def without_id_number(certificate):
        data = real(certificate)
        if certificate.id == first.id:
            del data["id_number"]
        return data

    monkeypatch.setattr(certificate_push, "payload", without_id_number)
    assert certificate_push.push_pending() == {"pushed": 2, "failed": 1, "left": 0}
    refused = _fresh(first)
    assert (refused.state, refused.push_attempts) == ("generated", 1)
    assert "400" in refused.last_error and "id_number" in refused.last_error
    assert sleeps == []
    assert sorted(_receipts()) == sorted(c.number for c in certificates[1:])


def test_a_long_error_is_cut_to_fit(app, certificates, sleeps, monkeypatch):
    monkeypatch.setattr(ministry, "send", lambda *a: ministry.Reply(400, "x" * 5000))
    certificate_push.push_one(certificates[0].id)
    assert len(_fresh(certificates[0]).last_error) <= certificate_push.ERROR_LENGTH


def test_a_2xx_that_is_no_acceptance_is_a_failure(app, certificates, sleeps, monkeypatch):
    monkeypatch.setattr(ministry, "send", lambda *a: ministry.Reply(200, "<html>portal</html>"))
    with pytest.raises(ministry.MinistryError) as raised:
        ministry.push(certificate_push.payload(certificates[0]))
    assert not raised.value.transient
    assert sleeps == []


# The receiver ---------------------------------------------------------------------------

def test_the_receiver_wants_the_token(app, client, certificates):
    data = certificate_push.payload(certificates[0])
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = client.post("/ministry-sim/api/certificates", json=data, headers=headers)
        assert response.status_code == 401
        assert response.get_json()["code"] != "0"
    assert _held(client, data["number"]).status_code == 404
    assert client.get(f"/ministry-sim/api/certificates/{data['number']}").status_code == 401
    assert _receipts() == {}


def test_the_receiver_refuses_incomplete_data(app, client, certificates):
    data = certificate_push.payload(certificates[0])
    url = "/ministry-sim/api/certificates"
    bad = client.post(url, json={**data, "issued_on": "2026-13-01", "gender": ""}, headers=TOKEN)
    assert bad.status_code == 400
    assert sorted(bad.get_json()["fields"]) == ["gender", "issued_on"]
    assert client.post(url, data="not json", headers=TOKEN).status_code == 400
    mismatch = client.post(url, json=data, headers={**TOKEN, "Idempotency-Key": "other"})
    assert mismatch.status_code == 400
    assert _receipts() == {}


def test_the_receiver_takes_machine_posts_without_a_csrf_token(make_app):
    app = make_app(WTF_CSRF_ENABLED=True, CLOCK_FROZEN_AT=T0)
    with app.app_context():
        plan = gen_finished_plan()
        certificate = gen_certificate(gen_paid_trainees(plan, 1)[0])
        response = app.test_client().post("/ministry-sim/api/certificates", headers=TOKEN,
                                          json=certificate_push.payload(certificate))
        assert response.status_code == 201
        assert response.get_json()["status"] == "accepted"


def test_a_real_endpoint_mounts_no_receiver(make_app):
    app = make_app(MINISTRY_ENDPOINT="https://ministry.example.gov.cn/training/")
    assert "ministry_sim" not in app.blueprints
    with app.app_context():
        assert ministry.base_url() == "https://ministry.example.gov.cn/training"
    with pytest.raises(RuntimeError, match="MINISTRY_ENDPOINT"):
        make_app(MINISTRY_ENDPOINT="ministry.example.gov.cn")


# Concurrency ----------------------------------------------------------------------------

def test_two_runs_at_once_push_each_certificate_once(app, certificates, monkeypatch):
    # Both runs list the same certificates before either sends: the claim must decide.
    barrier = threading.Barrier(2, timeout=20)
    real_pending = certificate_push._pending

    def pending_then_wait(limit):
        listed = real_pending(limit)
        barrier.wait()
        return listed

    monkeypatch.setattr(certificate_push, "_pending", pending_then_wait)
    reports, errors = [], []

    def run():
        with app.app_context():
            try:
                reports.append(certificate_push.push_pending())
            except Exception as error:  # noqa: BLE001 (reported below)
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(r["pushed"] for r in reports) == 3
    assert sum(r["failed"] for r in reports) == 0
    assert {_fresh(c).state for c in certificates} == {"pushed"}
    assert {_fresh(c).push_attempts for c in certificates} == {1}
    receipts = _receipts()
    assert sorted(receipts) == sorted(c.number for c in certificates)
    assert {r.deliveries for r in receipts.values()} == {1}
    count = db.session.scalar(select(func.count()).select_from(MinistryReceipt))
    assert count == 3


def test_two_runs_without_a_pause_still_store_one_receipt_each(app, certificates):
    def run():
        with app.app_context():
            try:
                certificate_push.push_pending()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert {_fresh(c).state for c in certificates} == {"pushed"}
    assert sorted(_receipts()) == sorted(c.number for c in certificates)


# Tasks and the command line ---------------------------------------------------------------

def test_the_tasks_push(app, certificates):
    from tasks.certificates import push_certificate, push_pending_certificates

    assert push_certificate(certificates[0].id)() is True
    assert _fresh(certificates[0]).state == "pushed"
    assert push_pending_certificates.call_local() == {"pushed": 2, "failed": 0, "left": 0}
    assert {_fresh(c).state for c in certificates} == {"pushed"}


def test_the_single_push_task_fails_so_that_huey_retries(app, certificates, sleeps, monkeypatch):
    from tasks.certificates import push_certificate

    _always(monkeypatch, 502)
    with pytest.raises(RuntimeError, match="not pushed"):
        push_certificate.call_local(certificates[0].id)
    assert push_certificate.retries == 3


def test_the_batch_task_runs_every_five_minutes():
    from tasks.certificates import push_pending_certificates

    task = push_pending_certificates.s()
    assert task.validate_datetime(dt.datetime(2026, 12, 20, 1, 35))
    assert not task.validate_datetime(dt.datetime(2026, 12, 20, 1, 36))


def test_cli_pushes_and_prints_json(app, runner, certificates):
    result = runner.invoke(args=["certificates", "push"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"pushed": 3, "failed": 0, "left": 0}
    assert len(_receipts()) == 3


def test_cli_exits_1_when_a_push_fails(app, runner, certificates, sleeps, monkeypatch):
    _always(monkeypatch, 503)
    result = runner.invoke(args=["certificates", "push", "--limit", "1"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"pushed": 0, "failed": 1, "left": 0}
    assert _fresh(certificates[0]).last_error


# Over real HTTP (urllib) --------------------------------------------------------------------

@pytest.fixture
def ministry_server():
    """A stand-in ministry on a local port: its answers follow the certificate number."""
    import http.server
    import time

    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, dict(self.headers), body))
            behaviour = body["holder_name"]
            if behaviour == "slow":
                time.sleep(0.5)
            if behaviour == "moved":
                self.send_response(307)
                self.send_header("Location", "http://elsewhere.example/steal")
                self.end_headers()
                return
            status, reply = {"down": (503, {"code": "50001", "msg": "维护中"}),
                             "bad": (422, {"code": "42201", "msg": "身份证号码有误"})}.get(
                behaviour, (201, {"code": "0", "status": "accepted"}))
            data = json.dumps(reply, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()
    server.server_close()


def test_a_push_over_http(make_app, ministry_server, sleeps):
    url, seen = ministry_server
    app = make_app(MINISTRY_ENDPOINT=url, MINISTRY_API_TOKEN="t0ken", MINISTRY_TIMEOUT_SECONDS=0.2)
    payload = {"number": "332026ZY001000001", "holder_name": "张三"}
    with app.app_context():
        assert ministry.push(payload) == {"code": "0", "status": "accepted"}
        path, headers, body = seen[-1]
        assert path == "/v1/api/certificates"
        assert headers["Authorization"] == "Bearer t0ken"
        assert headers["Idempotency-Key"] == "332026ZY001000001"
        assert body == payload

        with pytest.raises(ministry.MinistryError, match="422") as refused:
            ministry.push({**payload, "holder_name": "bad"})
        assert not refused.value.transient
        assert "身份证号码有误" in str(refused.value)
        assert sleeps == []

        with pytest.raises(ministry.MinistryError, match="503") as down:
            ministry.push({**payload, "holder_name": "down"})
        assert down.value.transient
        assert sleeps == [1.0, 2.0, 4.0]

        sleeps.clear()
        with pytest.raises(ministry.MinistryError) as slow:
            ministry.push({**payload, "holder_name": "slow"})
        assert slow.value.transient  # timed out, and retried
        assert sleeps == [1.0, 2.0, 4.0]

        sleeps.clear()
        with pytest.raises(ministry.MinistryError, match="307"):
            ministry.push({**payload, "holder_name": "moved"})  # the token is not carried on
        assert sleeps == []
