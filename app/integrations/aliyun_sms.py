"""Alibaba Cloud SMS (短信服务, dysmsapi 2017-05-25) through the official SDK
(alibabacloud-dysmsapi20170525): SendSms, SendBatchSms and QuerySendDetails.

The SDK signs each request (ACS3-HMAC-SHA256) and, as configured here, never retries by itself:
the callers retry what can succeed later (see app.integrations.sms.RETRYABLE).
"""
import datetime as dt
import json
import logging
import threading
from typing import Any, Mapping, Optional, Sequence

from alibabacloud_dysmsapi20170525 import models as api
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi import models as openapi
from darabonba.runtime import RuntimeOptions

from app.integrations.sms import (
    BALANCE,
    CREDENTIALS,
    INVALID_NUMBER,
    RATE_LIMITED,
    REFUSED,
    TEMPLATE,
    UNAVAILABLE,
    Outgoing,
    Receipt,
    SmsError,
)

BATCH_MAX = 100  # SendBatchSms takes at most 100 numbers a call
DEFAULT_ENDPOINT = "dysmsapi.aliyuncs.com"
# The provider's error codes (Code of a refused request), by what they mean for us.
ERROR_KINDS = {
    "isv.BUSINESS_LIMIT_CONTROL": RATE_LIMITED,  # per-number frequency limit: later works
    "isv.DAY_LIMIT_CONTROL": RATE_LIMITED,
    "Throttling.User": RATE_LIMITED,
    "Throttling.Api": RATE_LIMITED,
    "Throttling": RATE_LIMITED,
    "isv.MOBILE_NUMBER_ILLEGAL": INVALID_NUMBER,
    "isv.MOBILE_COUNT_OVER_LIMIT": INVALID_NUMBER,
    "isv.PHONE_NUMBER_ILLEGAL": INVALID_NUMBER,
    "isv.SMS_TEMPLATE_ILLEGAL": TEMPLATE,
    "isv.SMS_SIGNATURE_ILLEGAL": TEMPLATE,
    "isv.SIGN_NAME_ILLEGAL": TEMPLATE,
    "isv.TEMPLATE_MISSING_PARAMETERS": TEMPLATE,
    "isv.TEMPLATE_PARAMS_ILLEGAL": TEMPLATE,
    "isv.INVALID_JSON_PARAM": TEMPLATE,
    "isv.PARAM_LENGTH_LIMIT": TEMPLATE,
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": TEMPLATE,
    "isv.AMOUNT_NOT_ENOUGH": BALANCE,
    "isv.OUT_OF_SERVICE": BALANCE,
    "InvalidAccessKeyId.NotFound": CREDENTIALS,
    "InvalidAccessKeyId.Inactive": CREDENTIALS,
    "SignatureDoesNotMatch": CREDENTIALS,
    "IncompleteSignature": CREDENTIALS,
    "isp.RAM_PERMISSION_DENY": CREDENTIALS,
    "isv.ACCOUNT_NOT_EXISTS": CREDENTIALS,
    "isv.ACCOUNT_ABNORMAL": CREDENTIALS,
    "isp.SYSTEM_ERROR": UNAVAILABLE,
    "isp.GATEWAY_ERROR": UNAVAILABLE,
    "ServiceUnavailable": UNAVAILABLE,
    "InternalError": UNAVAILABLE,
}
# QuerySendDetails' SendStatus
_STATUSES = {1: "waiting", 2: "failed", 3: "delivered"}

_clients: dict[tuple, Client] = {}
_clients_lock = threading.Lock()


class _NoNumbersInUrls(logging.Filter):
    """urllib3 logs each request line at DEBUG: ours carry numbers and codes in the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "PhoneNumber" not in str(record.args)


logging.getLogger("urllib3.connectionpool").addFilter(_NoNumbersInUrls())


def kind_of(code: str, *, server_side: bool = False) -> str:
    """What a provider error code means; unknown ones are refusals, or outages if 5xx."""
    return ERROR_KINDS.get(code) or (UNAVAILABLE if server_side else REFUSED)


def endpoint_and_protocol(endpoint: str) -> tuple[str, str]:
    """"dysmsapi.aliyuncs.com" is https; "http://127.0.0.1:8080" points the SDK at a local server."""
    endpoint = (endpoint or DEFAULT_ENDPOINT).strip().rstrip("/")
    for protocol in ("http", "https"):
        if endpoint.lower().startswith(f"{protocol}://"):
            return endpoint[len(protocol) + 3:], protocol
    return endpoint, "https"


class AliyunSms:
    accepted_state = "submitted"
    batch_max = BATCH_MAX

    def __init__(self, client: Client, sign_name: str):
        self.client, self.sign_name = client, sign_name

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "AliyunSms":
        endpoint, protocol = endpoint_and_protocol(config.get("SMS_ENDPOINT") or "")
        timeout_ms = int(float(config.get("SMS_TIMEOUT_SECONDS") or 5) * 1000)
        key = (endpoint, protocol, config.get("SMS_ACCESS_KEY_ID"),
               config.get("SMS_ACCESS_KEY_SECRET"), timeout_ms)
        with _clients_lock:
            if key not in _clients:
                _clients[key] = Client(openapi.Config(
                    access_key_id=key[2], access_key_secret=key[3], endpoint=endpoint,
                    protocol=protocol, connect_timeout=timeout_ms, read_timeout=timeout_ms))
            return cls(_clients[key], config["SMS_SIGN_NAME"])

    def send(self, item: Outgoing) -> Optional[str]:
        request = api.SendSmsRequest(
            phone_numbers=item.phone, sign_name=self.sign_name, template_code=item.template_code,
            template_param=json.dumps(dict(item.params), ensure_ascii=False))
        body = self._call(self.client.send_sms_with_options, request)
        return body.biz_id

    def send_batch(self, items: Sequence[Outgoing]) -> Optional[str]:
        codes = {item.template_code for item in items}
        assert len(codes) == 1 and len(items) <= BATCH_MAX, "one template, at most 100 numbers"
        request = api.SendBatchSmsRequest(
            phone_number_json=json.dumps([item.phone for item in items]),
            sign_name_json=json.dumps([self.sign_name] * len(items), ensure_ascii=False),
            template_code=codes.pop(),
            template_param_json=json.dumps([dict(item.params) for item in items],
                                           ensure_ascii=False))
        body = self._call(self.client.send_batch_sms_with_options, request)
        return body.biz_id

    def receipt(self, phone: str, biz_id: str, sent_on: dt.date) -> Optional[Receipt]:
        request = api.QuerySendDetailsRequest(phone_number=phone, biz_id=biz_id,
                                              send_date=f"{sent_on:%Y%m%d}", page_size=10,
                                              current_page=1)
        body = self._call(self.client.query_send_details_with_options, request)
        details = body.sms_send_detail_dtos.sms_send_detail_dto if body.sms_send_detail_dtos else []
        mine = [d for d in details or [] if d.phone_num in (None, phone)]
        if not mine:
            return None
        detail = mine[0]
        return Receipt(status=_STATUSES.get(int(detail.send_status or 1), "waiting"),
                       code=detail.err_code or "", received_at=_when(detail.receive_date))

    @staticmethod
    def _call(method, request):
        try:
            response = method(request, RuntimeOptions())
        except Exception as error:  # noqa: BLE001 - the SDK's own and the transport's errors
            raise _as_sms_error(error) from error
        body = response.body
        if body is None or body.code != "OK":
            code = getattr(body, "code", None) or "NoAnswer"
            raise SmsError(kind_of(code), code, getattr(body, "message", "") or "")
        return body


def _as_sms_error(error: Exception) -> SmsError:
    code = getattr(error, "code", None)
    name = type(error).__name__
    if code and code != "None" and name in ("ClientException", "ServerException",
                                            "ThrottlingException"):
        if name == "ThrottlingException":
            return SmsError(RATE_LIMITED, code, "")
        return SmsError(kind_of(code, server_side=name == "ServerException"), code,
                        str(getattr(error, "message", "") or "")[:200])
    # no answer: a timeout, a refused connection, a broken response
    inner = getattr(error, "inner_exception", None) or getattr(error, "ex", None) or error
    return SmsError(UNAVAILABLE, type(inner).__name__, str(inner)[:200])


def _when(value: Optional[str]) -> Optional[dt.datetime]:
    try:
        return dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S") if value else None
    except ValueError:
        return None
