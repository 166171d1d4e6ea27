"""A built-in Alipay gateway simulator for the embedded default (ALIPAY_GATEWAY = "simulator").

It speaks the protocol our side uses, signed with its own RSA2 key: the page-pay cashier
(pay / cancel), the asynchronous notification to `notify_url`, the browser's return to
`return_url`, and the server APIs trade.query, trade.close and trade.refund. It keeps its
trades in its own table (SimulatedTrade, outside the production schema: see simulators.py)
and moves no money. Production configures Alipay instead, and this
blueprint is then not mounted at all.
"""
import base64
import datetime as dt
import json
import logging
import secrets
import urllib.parse
from decimal import Decimal, InvalidOperation
from typing import Optional

from Cryptodome.Hash import SHA256
from Cryptodome.PublicKey import RSA
from Cryptodome.Signature import PKCS1_v1_5
from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request
from sqlalchemy import DateTime, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.extensions import db
from app.integrations import alipay, simulators

log = logging.getLogger(__name__)

blueprint = Blueprint("alipay_sim", __name__, url_prefix="/alipay-sim")

WAITING, PAID, CLOSED = "WAIT_BUYER_PAY", "TRADE_SUCCESS", "TRADE_CLOSED"
SELLER_ID = "2088000000000001"
BUYER_ID = "2088000000000002"


class SimulatedTrade(simulators.SimulatorModel):
    """The simulator's own record of a trade (the embedded default only)."""

    __tablename__ = "alipay_sim_trade"

    out_trade_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32), nullable=False)
    subject: Mapped[str] = mapped_column(String(256), nullable=False)
    total_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    notify_url: Mapped[Optional[str]] = mapped_column(Text)
    return_url: Mapped[Optional[str]] = mapped_column(Text)
    time_expire: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(24), nullable=False)
    trade_no: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    refunded: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"), nullable=False)
    refund_request_no: Mapped[Optional[str]] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    paid_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)


def mount(app: Flask) -> None:
    """Serve the simulator, its table wanted in the app's database (see simulators.py)."""
    simulators.mount(app, blueprint, SimulatedTrade)


def _unsigned(fields: dict, *, drop_sign_type: bool) -> str:
    skip = {"sign", "sign_type"} if drop_sign_type else {"sign"}
    return "&".join(f"{key}={value}" for key, value in sorted(fields.items())
                    if key not in skip and value not in ("", None))


def _sign(message: str) -> str:
    key = RSA.import_key(current_app.config["ALIPAY_SIMULATOR_PRIVATE_KEY"])
    signature = PKCS1_v1_5.new(key).sign(SHA256.new(message.encode()))
    return base64.b64encode(signature).decode()


def sign_notification(fields: dict) -> dict:
    """Sign as Alipay signs notifications and returns: RSA2 over the sorted fields
    without sign, sign_type and empty values."""
    fields = {**fields, "sign_type": "RSA2"}
    return {**fields, "sign": _sign(_unsigned(fields, drop_sign_type=True))}


def _request_is_ours(fields: dict) -> bool:
    """Requests are signed by the app's key over every field but sign."""
    if fields.get("sign_type") != "RSA2" or not fields.get("sign"):
        return False
    try:
        key = RSA.import_key(alipay.public_key_of(current_app.config["ALIPAY_APP_PRIVATE_KEY"]))
        digest = SHA256.new(_unsigned(fields, drop_sign_type=False).encode())
        return PKCS1_v1_5.new(key).verify(digest, base64.b64decode(fields["sign"]))
    except (ValueError, TypeError):
        return False


@blueprint.route("/gateway.do")
def gateway():
    fields = request.args.to_dict()
    method = fields.get("method", "")
    if not _request_is_ours(fields) or fields.get("app_id") != current_app.config["ALIPAY_APP_ID"]:
        return _api_error(method, "40002", "isv.invalid-signature", "验签出错")
    try:
        biz = json.loads(fields.get("biz_content") or "{}")
    except ValueError:
        return _api_error(method, "40002", "isv.invalid-parameter", "参数无效")
    if method == "alipay.trade.page.pay":
        return _cashier(fields, biz)
    handler = API.get(method)
    if handler is None:
        return _api_error(method, "40004", "isv.invalid-method", "不存在的方法名")
    return handler(biz)


def _cashier(fields: dict, biz: dict):
    out_trade_no = biz.get("out_trade_no", "")
    try:
        amount = Decimal(biz.get("total_amount", ""))
    except InvalidOperation:
        abort(400)
    trade = db.session.get(SimulatedTrade, out_trade_no)
    if trade is None:
        expire = biz.get("time_expire")
        trade = SimulatedTrade(
            out_trade_no=out_trade_no, app_id=fields["app_id"], subject=biz.get("subject", ""),
            total_amount=amount, notify_url=fields.get("notify_url"),
            return_url=fields.get("return_url"), status=WAITING, created_at=clock.now(),
            time_expire=dt.datetime.strptime(expire, alipay.TIME_FORMAT) if expire else None)
        db.session.add(trade)
    else:  # paying again: the trade's terms stay as first opened, as at Alipay
        trade.return_url = fields.get("return_url") or trade.return_url
    _close_if_expired(trade)
    db.session.commit()
    return render_template("alipay_sim/cashier.html", trade=trade,
                           seconds_left=_seconds_left(trade))


def _seconds_left(trade: SimulatedTrade) -> int:
    if trade.time_expire is None:
        return 0
    return max(0, int((trade.time_expire - clock.now()).total_seconds()))


def _close_if_expired(trade: SimulatedTrade) -> None:
    if trade.status == WAITING and trade.time_expire and clock.now() >= trade.time_expire:
        trade.status = CLOSED


@blueprint.route("/cashier/<out_trade_no>", methods=["POST"])
def cashier_action(out_trade_no):
    trade = db.session.get(SimulatedTrade, out_trade_no)
    if trade is None:
        abort(404)
    if request.form.get("action") != "pay":
        return redirect(trade.return_url or "/")
    _close_if_expired(trade)
    if trade.status != WAITING:
        db.session.commit()
        return render_template("alipay_sim/cashier.html", trade=trade, seconds_left=0)
    now = clock.now()
    trade.status, trade.paid_at = PAID, now
    trade.trade_no = f"{now:%Y%m%d}2200{secrets.randbelow(10**14):014d}"
    db.session.commit()
    deliver_notification(trade)
    return redirect(_return_url(trade))


def notification_fields(trade: SimulatedTrade) -> dict:
    """The asynchronous notification Alipay posts for a paid trade, signed."""
    now = clock.now()
    amount = f"{trade.total_amount:.2f}"
    return sign_notification({
        "notify_time": now.strftime(alipay.TIME_FORMAT), "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(16), "app_id": trade.app_id, "charset": "utf-8",
        "version": "1.0", "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no,
        "trade_status": trade.status, "total_amount": amount, "receipt_amount": amount,
        "buyer_pay_amount": amount, "subject": trade.subject, "seller_id": SELLER_ID,
        "buyer_id": BUYER_ID, "gmt_create": trade.created_at.strftime(alipay.TIME_FORMAT),
        "gmt_payment": trade.paid_at.strftime(alipay.TIME_FORMAT),
    })


def deliver_notification(trade: SimulatedTrade) -> str:
    """Post the notification to the trade's notify_url; returns the reply ("success")."""
    if not trade.notify_url:
        return ""
    try:
        reply = alipay.fetch(trade.notify_url, notification_fields(trade))
    except OSError as error:
        log.warning("simulator: notification for %s not delivered: %s", trade.out_trade_no, error)
        return ""
    if reply.strip() != "success":
        log.warning("simulator: notify_url answered %r for %s", reply[:80], trade.out_trade_no)
    return reply


def _return_url(trade: SimulatedTrade) -> str:
    fields = sign_notification({
        "app_id": trade.app_id, "method": "alipay.trade.page.pay.return", "charset": "utf-8",
        "version": "1.0", "timestamp": clock.now().strftime(alipay.TIME_FORMAT),
        "out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no,
        "total_amount": f"{trade.total_amount:.2f}", "seller_id": SELLER_ID,
    })
    separator = "&" if "?" in (trade.return_url or "") else "?"
    return (trade.return_url or "/") + separator + urllib.parse.urlencode(fields)


# Server APIs -----------------------------------------------------------------------------

def _signed_response(method: str, payload: dict):
    inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    response_type = method.replace(".", "_") + "_response"
    body = f'{{"{response_type}":{inner},"sign":"{_sign(inner)}"}}'
    return current_app.response_class(body, mimetype="application/json")


def _api_error(method: str, code: str, sub_code: str, sub_msg: str):
    payload = {"code": code, "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}
    return _signed_response(method or "error", payload)


def _trade_or_error(method: str, biz: dict):
    trade = db.session.get(SimulatedTrade, biz.get("out_trade_no", ""))
    if trade is None:
        return None, _api_error(method, "40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")
    return trade, None


def _query(biz: dict):
    method = "alipay.trade.query"
    trade, error = _trade_or_error(method, biz)
    if error:
        return error
    _close_if_expired(trade)
    db.session.commit()
    return _signed_response(method, {
        "code": "10000", "msg": "Success", "out_trade_no": trade.out_trade_no,
        "trade_no": trade.trade_no or "", "trade_status": trade.status,
        "total_amount": f"{trade.total_amount:.2f}", "buyer_user_id": BUYER_ID,
        "send_pay_date": trade.paid_at.strftime(alipay.TIME_FORMAT) if trade.paid_at else ""})


def _close(biz: dict):
    method = "alipay.trade.close"
    trade, error = _trade_or_error(method, biz)
    if error:
        return error
    if trade.status == PAID:
        return _api_error(method, "40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
    trade.status = CLOSED
    db.session.commit()
    return _signed_response(method, {"code": "10000", "msg": "Success",
                                     "out_trade_no": trade.out_trade_no,
                                     "trade_no": trade.trade_no or ""})


def _refund(biz: dict):
    method = "alipay.trade.refund"
    trade, error = _trade_or_error(method, biz)
    if error:
        return error
    try:
        amount = Decimal(biz.get("refund_amount", ""))
    except InvalidOperation:
        return _api_error(method, "40004", "ACQ.INVALID_PARAMETER", "退款金额无效")
    request_no = biz.get("out_request_no") or trade.out_trade_no
    if request_no == trade.refund_request_no:  # a retried request refunds once
        return _refund_response(trade)
    if trade.status != PAID:
        return _api_error(method, "40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
    if amount <= 0 or trade.refunded + amount > trade.total_amount:
        return _api_error(method, "40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
    trade.refunded += amount
    trade.refund_request_no = request_no
    db.session.commit()
    return _refund_response(trade)


def _refund_response(trade: SimulatedTrade):
    return _signed_response("alipay.trade.refund", {
        "code": "10000", "msg": "Success", "out_trade_no": trade.out_trade_no,
        "trade_no": trade.trade_no, "refund_fee": f"{trade.refunded:.2f}", "fund_change": "Y",
        "gmt_refund_pay": clock.now().strftime(alipay.TIME_FORMAT)})


API = {"alipay.trade.query": _query, "alipay.trade.close": _close,
       "alipay.trade.refund": _refund}
