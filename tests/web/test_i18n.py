"""Chinese first: the catalog is complete and the main pages show no untranslated English."""
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app import scope
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_regulator, gen_user
from tests.helpers import give_documents, path, visible_text

ROOT = Path(__file__).resolve().parents[2]
# Words that are data or proper names, not untranslated interface text.
ALLOWED = {"English", "IP", "nbsp", "jpg", "yyzz", "cns", "zzzs", "JPG", "MB", "zip", "xlsx"}


def _catalog(locale):
    with open(ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f)


def test_every_message_has_a_chinese_translation():
    with open(ROOT / "translations" / "messages.pot", "rb") as f:
        template = {m.id for m in read_po(f) if m.id}
    zh = {m.id: m.string for m in _catalog("zh_CN") if m.id}
    missing = [msgid for msgid in template if not zh.get(msgid)]
    assert missing == []


def _english_words(html: str, allowed: set[str]) -> set[str]:
    html = re.sub(r'(?s)<div[^>]*class="d-none"[^>]*>.*?</div>', "", html)  # Flask-Admin JSON
    text = visible_text(html)
    text = re.sub(r"\b[0-9A-Z]{18}\b", " ", text)  # credit codes are data
    text = re.sub(r"\b[A-Z]{2}\d{3}\b", " ", text)  # dictionary codes are data
    text = re.sub(r"\b(JP|ZK)\d{14,}\b", " ", text)  # order and ticket numbers are data
    text = re.sub(r"\b33\d{4}ZY\d{9}\b", " ", text)  # certificate numbers are data
    words = set(re.findall(r"[A-Za-z]{2,}", text))
    return {w for w in words if w not in allowed}


@pytest.fixture
def people(app):
    enterprise = gen_enterprise(name="杭州测试建设有限公司")
    give_documents(enterprise)
    institution = gen_institution(name="杭州测试培训机构")
    plan = gen_plan(institution)
    # After payment: a finished plan with this enterprise's paid trainees, an approved
    # assessment, a score report awaiting review and a certificate.
    from decimal import Decimal

    from app.extensions import db
    from models.assessment import Score, ScoreReport
    from tests.assessment_factories import (
        gen_assessment,
        gen_certificate,
        gen_finished_plan,
        gen_paid_trainees,
    )

    finished = gen_finished_plan(institution)
    trainees = gen_paid_trainees(finished, 2, enterprise=enterprise)
    assessment = gen_assessment(finished)
    report = ScoreReport(assessment_id=assessment.id, state="accepted", filename="s.xlsx",
                         imported_at=assessment.created_at)
    report.scores = [Score(enrolment_id=t.id, theory=Decimal(80), practical=Decimal(70),
                           passed=True) for t in trainees]
    db.session.add(report)
    db.session.commit()
    certificate = gen_certificate(trainees[0])
    return {
        scope.ADMIN: (gen_user(scope.ADMIN, "adminzh"), []),
        scope.ENTERPRISE: (gen_user(scope.ENTERPRISE, enterprise.uscc,
                                       enterprise_id=enterprise.id), []),
        scope.INSTITUTION: (gen_user(scope.INSTITUTION, "jigou",
                                        institution_id=institution.id), []),
        scope.CITY_REGULATOR: (gen_regulator("330100"), []),
        scope.PROVINCE_REGULATOR: (gen_regulator("330000", scope.PROVINCE_REGULATOR), []),
        "ids": {"enterprise": enterprise.id, "plan": plan.id, "institution": institution.id,
                "order": trainees[0].order_id, "finished": finished.id,
                "assessment": assessment.id, "report": report.id,
                "certificate": certificate.id},
    }


MAIN_PAGES = [
    ("HomeView.index", {}),
    ("EnterpriseView.list", {}),
    ("EnterpriseView.show", {"pk": "enterprise"}),
    ("InstitutionView.list", {}),
    ("TrainingPlanView.list", {}),
    ("TrainingPlanView.show", {"pk": "plan"}),
    ("AuditLogView.list", {}),
    ("JianpeiUserDBModelView.userinfo", {}),
    ("ChangeMyPasswordView.this_form_get", {}),
    ("MyEnterpriseView.info", {}),
    ("MyEnterpriseView.edit", {}),
    ("EnterpriseReviewView.queue", {}),
    ("EnterpriseReviewView.detail", {"pk": "enterprise"}),
    ("OpenPlanView.list", {}),
    ("OpenPlanView.show", {"pk": "plan"}),
    ("TrainingPlanView.add", {}),
    ("TrainingPlanView.edit", {"pk": "plan"}),
    ("EnrolmentView.plan", {"plan_id": "plan"}),
    ("OrderView.list", {}),
    ("OrderView.show", {"pk": "order"}),
    ("EnrolledView.plans", {}),
    ("EnrolledView.plan", {"plan_id": "finished"}),
    ("AssessmentPlanView.list", {}),
    ("AssessmentPlanView.show", {"pk": "assessment"}),
    ("ScoreReportView.list", {}),
    ("ScoreReportView.show", {"pk": "report"}),
    ("CertificateView.list", {}),
    ("CertificateView.show", {"pk": "certificate"}),
]
CONSOLE_PAGES = ["/console/", "/console/console_occupation/", "/console/console_region/",
                 "/console/console_institution/", "/console/console_training_plan/",
                 "/console/console_audit_log/", "/console/console_institution/new/",
                 "/console/console_payment_notice/"]


@pytest.mark.parametrize("role", [r for r in scope.ROLES if r != scope.PUBLIC])
def test_main_pages_have_no_untranslated_english(app, login_as, people, role):
    user, _ = people[role]
    client = app.test_client()
    login_as(client, user)
    allowed = ALLOWED | set(re.findall(r"[A-Za-z]{2,}", f"{user.username} {user.email}"))
    checked = 0
    urls = [path(endpoint, **{k: people["ids"][v] for k, v in args.items()})
            for endpoint, args in MAIN_PAGES]
    if role == scope.ADMIN:
        urls += CONSOLE_PAGES
    for url in urls:
        response = client.get(url)
        if response.status_code != 200:
            continue
        checked += 1
        assert _english_words(response.get_data(as_text=True), allowed) == set(), url
    assert checked >= 5


@pytest.mark.parametrize("url", ["/login/", "/register/", "/forgot-password/",
                                 "/certificate-lookup/"])
def test_public_pages_are_chinese(client, url):
    page = client.get(url).get_data(as_text=True)
    assert "密码" in page or "证书查询" in page
    assert _english_words(page, ALLOWED) == set()


def test_english_is_selectable(app, login_as):
    client = app.test_client()
    login_as(client, gen_user(scope.ADMIN))
    assert "企业" in client.get(path("EnterpriseView.list")).get_data(as_text=True)
    client.get("/lang/en")
    page = client.get(path("EnterpriseView.list")).get_data(as_text=True)
    assert "Unified social credit code" in page
