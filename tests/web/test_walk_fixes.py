"""What a clerk trips over (issue 15): each fix as the user sees it."""
from sqlalchemy import func, select

from app.extensions import db
from models.accounts import SmsMessage
from tests.accounts_helpers import documents, form_fields
from tests.factories import gen_enterprise, gen_uscc
from tests.helpers import visible_text

TAKEN = "企业不能重复注册"


def _sms_count() -> int:
    return db.session.scalar(select(func.count()).select_from(SmsMessage))


def test_a_registered_credit_code_is_refused_as_soon_as_it_is_typed(app, client):
    existing = gen_enterprise()
    answer = client.post("/register/check-uscc", data={"uscc": existing.uscc.lower()}).get_json()
    assert answer["ok"] is False and TAKEN in answer["error"]
    assert client.post("/register/check-uscc", data={"uscc": gen_uscc()}).get_json() == {"ok": True}
    # The SMS code step is not reached: no code is sent for a code that cannot register.
    refused = client.post("/register/sms", data={"mobile": "13912345678", "uscc": existing.uscc})
    assert refused.status_code == 400 and TAKEN in refused.get_json()["error"]
    assert _sms_count() == 0
    assert client.post("/register/sms", data={"mobile": "13912345678",
                                              "uscc": gen_uscc()}).status_code == 200


def test_without_javascript_a_registered_code_read_from_the_licence_is_refused_at_once(app, client):
    existing = gen_enterprise()
    fields = form_fields("", sms_code="")
    first = client.post("/register/", data={**fields, **documents(existing.uscc)},
                        content_type="multipart/form-data")
    page = visible_text(first.get_data(as_text=True))
    assert TAKEN in page  # on the read-out page, before any SMS code
    assert _sms_count() == 0
