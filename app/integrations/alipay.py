"""Alipay (支付宝) through python-alipay-sdk, RSA2 only: page pay, notifications, query,
close and refund. The gateway is Alipay's (sandbox or production) or, on the embedded
default, the built-in simulator in app/integrations/alipay_sim.py; the code path is the same.
"""
import logging
from decimal import Decimal
from pathlib import Path
from typing import Optional

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from Cryptodome.PublicKey import RSA
from flask import Flask, current_app

from app import clock
from app.integrations import transport

log = logging.getLogger(__name__)

GATEWAYS = {
    "sandbox": "https://openapi-sandbox.dl.alipaydev.com/gateway.do",
    "production": "https://openapi.alipay.com/gateway.do",
}
SIMULATOR_PATH = "/alipay-sim/gateway.do"
PAID_STATUSES = ("TRADE_SUCCESS", "TRADE_FINISHED")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class GatewayError(RuntimeError):
    """The gateway could not be reached or answered with an error."""


class Gateway(AliPay):
    """python-alipay-sdk's client with our gateway URL and transport for server calls."""

    def __init__(self, url: str, **kwargs):
        super().__init__(**kwargs)
        self._gateway = url

    def build_body(self, method, biz_content=None, **kwargs):
        data = super().build_body(method, biz_content, **kwargs)
        # Alipay reads the timestamp as Beijing time; the SDK uses the host's local time.
        data["timestamp"] = clock.now().strftime(TIME_FORMAT)
        return data

    def verified_sync_response(self, data, response_type):
        raw = fetch(self._gateway + "?" + self.sign_data(data))
        return self._verify_and_return_sync_response(raw, response_type)


def configure(app: Flask) -> None:
    """Check the payment settings; on the simulator, make its keys and mount it."""
    config = app.config
    name = config["ALIPAY_GATEWAY"]
    if name == "simulator":
        _ensure_simulator_keys(config)
        from app.integrations import alipay_sim

        alipay_sim.mount(app)
    elif name not in GATEWAYS:
        raise RuntimeError(f"ALIPAY_GATEWAY must be simulator, sandbox or production, not {name!r}")
    if not config.get("PUBLIC_BASE_URL"):
        config["PUBLIC_BASE_URL"] = f"http://{config['HOST']}:{config['PORT']}"
    config["PUBLIC_BASE_URL"] = config["PUBLIC_BASE_URL"].rstrip("/")


def _ensure_simulator_keys(config) -> None:
    """Key pairs for our app and for the simulator, generated once per instance folder."""
    folder = Path(config["INSTANCE_DIR"]) / "alipay-simulator"
    for setting, filename in (("ALIPAY_APP_PRIVATE_KEY", "app_private_key.pem"),
                              ("ALIPAY_SIMULATOR_PRIVATE_KEY", "simulator_private_key.pem")):
        if config.get(setting):
            continue
        path = folder / filename
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".part")
            tmp.write_bytes(RSA.generate(2048).export_key(pkcs=8))
            tmp.replace(path)
        config[setting] = path.read_text()
    if not config.get("ALIPAY_PUBLIC_KEY"):
        config["ALIPAY_PUBLIC_KEY"] = public_key_of(config["ALIPAY_SIMULATOR_PRIVATE_KEY"])


def public_key_of(private_pem: str) -> str:
    return RSA.import_key(private_pem).publickey().export_key().decode()


def gateway_url() -> str:
    name = current_app.config["ALIPAY_GATEWAY"]
    if name == "simulator":
        return current_app.config["PUBLIC_BASE_URL"] + SIMULATOR_PATH
    return GATEWAYS[name]


def client() -> Gateway:
    config = current_app.config
    return Gateway(gateway_url(), appid=config["ALIPAY_APP_ID"],
                   app_private_key_string=config["ALIPAY_APP_PRIVATE_KEY"],
                   alipay_public_key_string=config["ALIPAY_PUBLIC_KEY"], sign_type="RSA2")


def notify_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"] + "/pay/notify"


def page_pay_url(out_trade_no: str, amount: Decimal, subject: str, expires_at,
                 return_url: str) -> str:
    """Where the browser goes to pay; Alipay refuses payment after `expires_at`."""
    query = client().api_alipay_trade_page_pay(
        subject=subject, out_trade_no=out_trade_no, total_amount=f"{amount:.2f}",
        return_url=return_url, notify_url=notify_url(),
        time_expire=expires_at.strftime(TIME_FORMAT))
    return gateway_url() + "?" + query


def verify_notification(data: dict) -> bool:
    """True if Alipay (or the simulator) signed these fields with RSA2. `data` is not changed."""
    # Alipay signs the sorted non-empty fields other than sign and sign_type.
    fields = {key: value for key, value in data.items() if value not in ("", None)}
    signature = fields.pop("sign", None)
    if not signature or fields.get("sign_type") != "RSA2":
        return False
    try:
        return client().verify(fields, signature)
    except (AliPayException, ValueError, TypeError):
        return False


def query(out_trade_no: str) -> Optional[dict]:
    """The trade as the gateway knows it, or None if it has none (never opened)."""
    return _call("api_alipay_trade_query", out_trade_no=out_trade_no)


def close(out_trade_no: str) -> Optional[dict]:
    return _call("api_alipay_trade_close", out_trade_no=out_trade_no)


def refund(out_trade_no: str, amount: Decimal, request_no: str) -> Optional[dict]:
    return _call("api_alipay_trade_refund", refund_amount=f"{amount:.2f}",
                 out_trade_no=out_trade_no, out_request_no=request_no)


def _call(method: str, **kwargs) -> Optional[dict]:
    """A server API call; None when the trade does not exist there, GatewayError on failure."""
    try:
        response = getattr(client(), method)(**kwargs)
    except AliPayValidationError as error:
        raise GatewayError("the gateway's answer has a bad signature") from error
    except AliPayException as error:
        if "TRADE_NOT_EXIST" in str(error):
            return None
        raise GatewayError(str(error)) from error
    except OSError as error:
        raise GatewayError(f"gateway unreachable: {error}") from error
    if response.get("code") != "10000":
        if "TRADE_NOT_EXIST" in str(response.get("sub_code", "")):
            return None
        raise GatewayError(f"{response.get('sub_code')}: {response.get('sub_msg')}")
    return response


def fetch(url: str, form: Optional[dict] = None) -> str:
    """GET a URL (or POST a form to it) and return the body of the answer."""
    reply = transport.post_form(url, form) if form is not None else transport.request(url)
    return reply.body
