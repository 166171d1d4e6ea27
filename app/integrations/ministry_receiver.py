"""A built-in receiver for certificate pushes, for the embedded default (MINISTRY_ENDPOINT =
"receiver"). It speaks the protocol app/integrations/ministry.py uses and keeps what it
receives in its own table (MinistryReceipt, outside the production schema: see
simulators.py), one receipt per certificate number however often it arrives.
Production pushes to the ministry instead, and this blueprint is then not mounted at all.

POST /ministry-sim/api/certificates   Authorization: Bearer <MINISTRY_API_TOKEN>, JSON body
    201 {"code": "0", "status": "accepted", "number", "received_at"}   first delivery
    200 {"code": "0", "status": "duplicate", "number", "received_at", "deliveries"}
    400 {"code": "40001", "msg", "fields"?}   not JSON, a field missing or malformed
    401 {"code": "40101", "msg"}              no or wrong bearer token
GET  /ministry-sim/api/certificates/<number>  (same token) the receipt, or 404
"""
import datetime as dt
import hmac
import json
import logging

from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy import DateTime, Integer, String, Text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.extensions import csrf, db
from app.integrations import simulators

log = logging.getLogger(__name__)

blueprint = Blueprint("ministry_sim", __name__, url_prefix="/ministry-sim")

REQUIRED = ("number", "holder_name", "id_number", "gender", "occupation_code",
            "occupation_name", "level_name", "issued_on", "institution_name", "region_code")


class MinistryReceipt(simulators.SimulatorModel):
    """What the receiver has received (the embedded default only)."""

    __tablename__ = "ministry_receipt"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    deliveries: Mapped[int] = mapped_column(Integer, default=1, nullable=False)


def mount(app: Flask) -> None:
    """Serve the receiver, its table wanted in the app's database (see simulators.py)."""
    simulators.mount(app, blueprint, MinistryReceipt)


def _error(status: int, code: str, msg: str, **extra):
    # Worded in Chinese as the ministry's own system would answer (like alipay_sim's sub_msg).
    return jsonify({"code": code, "msg": msg, **extra}), status


def _authorised() -> bool:
    expected = f"Bearer {current_app.config['MINISTRY_API_TOKEN']}"
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), expected.encode())


def _problems(data) -> list[str]:
    """The names of the fields that are missing or malformed."""
    if not isinstance(data, dict):
        return ["body"]
    bad = [name for name in REQUIRED
           if not isinstance(data.get(name), str) or not data[name].strip()]
    if "number" not in bad and len(data["number"]) > 32:
        bad.append("number")
    if "id_number" not in bad and len(data["id_number"]) != 18:
        bad.append("id_number")
    if "issued_on" not in bad:
        try:
            dt.date.fromisoformat(data["issued_on"])
        except ValueError:
            bad.append("issued_on")
    return bad


@blueprint.route("/api/certificates", methods=["POST"])
@csrf.exempt
def receive():
    """Take a certificate once; a repeated delivery is counted, never stored twice."""
    if not _authorised():
        return _error(401, "40101", "身份认证失败：令牌无效")
    data = request.get_json(silent=True)
    bad = _problems(data)
    if bad:
        return _error(400, "40001", "证书数据不完整或格式错误：" + "、".join(bad), fields=bad)
    number = data["number"]
    key = request.headers.get("Idempotency-Key")
    if key is not None and key != number:
        return _error(400, "40001", "Idempotency-Key 与证书编号不一致", fields=["number"])
    now = clock.now()
    db.session.add(MinistryReceipt(number=number, received_at=now, deliveries=1,
                                   payload=json.dumps(data, ensure_ascii=False, sort_keys=True)))
    try:
        db.session.commit()
    except IntegrityError:  # the primary key decides: this number is already held
        db.session.rollback()
        db.session.execute(update(MinistryReceipt).where(MinistryReceipt.number == number)
                           .values(deliveries=MinistryReceipt.deliveries + 1)
                           .execution_options(synchronize_session=False))
        db.session.commit()
        receipt = db.session.get(MinistryReceipt, number, populate_existing=True)
        log.info("ministry receiver: %s delivered again (%s deliveries)", number,
                 receipt.deliveries)
        return jsonify({"code": "0", "status": "duplicate", "number": number,
                        "received_at": receipt.received_at.isoformat(),
                        "deliveries": receipt.deliveries}), 200
    return jsonify({"code": "0", "status": "accepted", "number": number,
                    "received_at": now.isoformat()}), 201


@blueprint.route("/api/certificates/<number>")
def show(number: str):
    """What the receiver holds for a number, for tests and the demo."""
    if not _authorised():
        return _error(401, "40101", "身份认证失败：令牌无效")
    receipt = db.session.get(MinistryReceipt, number)
    if receipt is None:
        return _error(404, "40401", "证书不存在")
    return jsonify({"code": "0", "number": receipt.number, "payload": json.loads(receipt.payload),
                    "received_at": receipt.received_at.isoformat(),
                    "deliveries": receipt.deliveries})
