"""Every SMS is an approved template: one table of purposes, each with its template code (from
config), its named parameters and the Chinese text submitted for approval.

The text here is the template exactly as submitted to Alibaba Cloud SMS (短信服务), so it is kept
in Chinese, not as a message id: the provider sends only the approved wording, and what the
outbox, the notice preview and 详情 show is rendered from this same text with the same
parameters (`render`), exactly what the provider renders from TemplateParam.
"""
import re
from dataclasses import dataclass
from typing import Mapping

from flask import current_app
from flask_babel import lazy_gettext as _l

# The provider refuses longer variable values; we cut them here, so the preview shows the cut.
PARAM_MAX_CHARS = 35
CODE_MASK = "******"
# How long a verification code is valid: the approved code templates state it, so it is
# defined here and app.services.sms_codes and the pages take it from here.
CODE_LIFETIME_MINUTES = 5
_PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")


@dataclass(frozen=True)
class SmsTemplate:
    purpose: str
    label: object  # lazy Chinese name of the purpose (console, 详情)
    text: str  # the body as submitted for approval, without the signature
    secret: bool = False  # carries a verification code: its text never reaches a log

    @property
    def config_key(self) -> str:
        return f"SMS_TEMPLATE_{self.purpose.upper()}"

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_PLACEHOLDER.findall(self.text)))


_TEMPLATES = (
    SmsTemplate("register", _l("Registration code"),
                f"您的注册验证码是${{code}}，{CODE_LIFETIME_MINUTES}分钟内有效。如非本人操作，请忽略。",
                secret=True),
    SmsTemplate("reset_password", _l("Password reset code"),
                f"您正在重置密码，验证码是${{code}}，{CODE_LIFETIME_MINUTES}分钟内有效。"
                "如非本人操作，请忽略。", secret=True),
    SmsTemplate("change_mobile", _l("Mobile change code"),
                f"您正在修改手机号，验证码是${{code}}，{CODE_LIFETIME_MINUTES}分钟内有效。"
                "如非本人操作，请忽略。", secret=True),
    SmsTemplate("training_notice", _l("Training notice"),
                "${name}您好，您报名的${occupation}（${level}）培训将于${start}开始，地点：${venue}。"
                "培训机构：${institution}，联系方式：${contact}。请准时参加。"),
    SmsTemplate("exam_notice", _l("Exam notice"),
                "${name}您好，您的${occupation}（${level}）考核时间为${time}，地点：${venue}，"
                "准考证号${ticket}。请携带身份证和准考证提前30分钟到达。"),
    SmsTemplate("review_approved", _l("Registration review passed"),
                "${name} 注册审核已通过，现在可以为本单位人员报名培训。"),
    SmsTemplate("review_rejected", _l("Registration review not passed"),
                "${name} 注册审核未通过：${reason}。请修改信息后重新提交。"),
    SmsTemplate("order_reminder", _l("Order about to expire"),
                "订单${number}（${amount}元）将于${time}过期，请及时支付，过期后所占名额将被释放。"),
    SmsTemplate("tickets", _l("Admission tickets ready"),
                "${occupation}考核（${time}）的准考证已可下载，请在“已报名”中下载并通知学员。"),
    SmsTemplate("scores", _l("Exam results approved"),
                "${occupation}考核成绩已审核，可在“报名人员查询”中查看。"),
    SmsTemplate("invoice", _l("E-invoice issued"),
                "订单${order}的电子发票${number}（${amount}元）已开具，可在订单页面下载。"),
    SmsTemplate("certificates", _l("Certificates pushed"),
                "${n} 本培训证书（${occupation}）已推送至全国系统，可联网查询。"),
)
TEMPLATES: dict[str, SmsTemplate] = {t.purpose: t for t in _TEMPLATES}
# The placeholder codes config.py ships with; production refuses anything but SMS_ + digits.
APPROVED_CODE = re.compile(r"SMS_[0-9]{4,20}\Z")


class UnknownPurpose(KeyError):
    pass


def template(purpose: str) -> SmsTemplate:
    if purpose not in TEMPLATES:
        raise UnknownPurpose(purpose)
    return TEMPLATES[purpose]


def template_code(purpose: str) -> str:
    return current_app.config[template(purpose).config_key]


def sign_name() -> str:
    return current_app.config["SMS_SIGN_NAME"]


def params(purpose: str, values: Mapping[str, object]) -> dict[str, str]:
    """Exactly the template's parameters, as strings no longer than the provider takes."""
    found = template(purpose)
    missing = [name for name in found.params if values.get(name) in (None, "")]
    if missing:
        raise ValueError(f"SMS {purpose} needs {', '.join(missing)}")
    return {name: str(values[name])[:PARAM_MAX_CHARS] for name in found.params}


def render(purpose: str, values: Mapping[str, str], *, mask_code: bool = False) -> str:
    """The SMS as the phone shows it: 【signature】 then the template with its parameters."""
    found = template(purpose)

    def value(match: re.Match) -> str:
        name = match.group(1)
        return CODE_MASK if (mask_code and name == "code") else str(values[name])
    return f"【{sign_name()}】{_PLACEHOLDER.sub(value, found.text)}"


def labels() -> dict[str, object]:
    return {t.purpose: t.label for t in _TEMPLATES}
