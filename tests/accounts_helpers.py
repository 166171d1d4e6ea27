"""Helpers for the enterprise account tests: the outbox, the registration form."""
import io
import re

from sqlalchemy import select

from app.extensions import db
from models.accounts import SmsMessage
from tests.images import licence_jpeg, plain_jpeg


def last_code(phone: str) -> str:
    db.session.expire_all()
    message = db.session.scalars(select(SmsMessage).where(SmsMessage.phone == phone)
                                 .order_by(SmsMessage.id.desc())).first()
    assert message is not None, f"no SMS to {phone}"
    return re.search(r"\d{6}", message.text).group(0)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html)
    return match.group(1) if match else ""


def form_fields(uscc: str, mobile: str = "13912345678", **overrides) -> dict:
    fields = {
        "uscc": uscc, "name": "杭州测试建设工程有限公司", "enterprise_type": "有限责任公司(自然人投资或控股)",
        "legal_representative": "张建国", "registered_capital": "壹仟万元整",
        "established": "2015-06-01", "address": "浙江省杭州市西湖区文三路100号",
        "region_code": "330100", "contact_person": "李明", "contact_mobile": mobile,
        "password": "Secret@2026", "password_confirm": "Secret@2026", "sms_code": "",
    }
    fields.update(overrides)
    return fields


def documents(uscc: str, licence: bytes | None = None) -> dict:
    return {
        "yyzz": (io.BytesIO(licence or licence_jpeg(uscc)), "yyzz.jpg"),
        "cns": (io.BytesIO(plain_jpeg()), "cns.jpg"),
        "zzzs": (io.BytesIO(plain_jpeg()), "zzzs.jpg"),
    }


def register(client, uscc: str, mobile: str = "13912345678", *, files=None, code=None,
             **overrides):
    """The no-JavaScript way: submit, see the read-out, submit again with the SMS code."""
    assert client.post("/register/sms", data={"mobile": mobile}).status_code == 200
    fields = form_fields(uscc, mobile, **overrides)
    first = client.post("/register/", data={**fields, **(files or documents(uscc))},
                        content_type="multipart/form-data")
    html = first.get_data(as_text=True)
    tokens = {f"{slot}_token": hidden(html, f"{slot}_token") for slot in ("yyzz", "cns", "zzzs")}
    second = client.post("/register/", data={
        **fields, **tokens, "reading_seen": hidden(html, "reading_seen"),
        "sms_code": code if code is not None else last_code(mobile)})
    return first, second
