"""The whole life of a trainee in the browser, against `python run.py`: an enterprise
registers, is approved, enrols two workers in a new plan, pays, gets its invoice; after the
training the assessment, the admission tickets, the scores and the certificates follow, and
the certificate can be looked up in public. On the way each upload first goes wrong as it
does for real clerks (a roster with a wrong cell, a picture that is no JPG, a name typed with a
wrong character that the ID card photo shows up, a score sheet with a word for a score): the
error list, the marked workbook, nothing stored, then the fix.
Screenshots: tests/artifacts/e2e/<test>/."""
import datetime as dt
import io
import json
import re
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests import id_card_corpus
from tests.e2e.browser import Steps, artifacts_dir, zh
from tests.factories import gen_uscc
from tests.images import licence_jpeg, plain_jpeg, png_bytes
from tests.portraits import portrait_jpeg
from tests.web.test_i18n import ALLOWED

# One worker runs the browser tests one after the other: their servers share Redis database
# E2E_REDIS_DB (tests/e2e/server.py), and each flushes it when it starts.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]
# The page's own form: every signed-in page also has the user menu's 退出登录 form.
SUBMIT = "form:not(.logout-form) button[type=submit]"

DAY = 24 * 3600
# Training ends the day after tomorrow; the server is restarted this much later.
TRAINING_OVER = 3 * DAY
EXAM_OVER = 5 * DAY  # the exam (day 4) has ended: scores may be imported
VENUE = "浏览器测试实训基地"
ENTERPRISE_NAME = "杭州测试建设工程有限公司"
ENTERPRISE_PASSWORD = "Secret@2026"
MOBILE = "13955550001"
# The two workers: their ID cards are generated photos of upright fronts the OCR reads whole.
CARDS = [id_card_corpus.sample(seed, width=1200) for seed in (0, 1)]
MOBILES = ["13800000001", "13800000002"]
JPEG = "image/jpeg"


def _choose(page: Page, field: str, label: str) -> None:
    """Pick an option of a Flask-AppBuilder select2 field, as a user does."""
    page.click(f"span[aria-labelledby='select2-{field}-container']")
    page.locator(".select2-results__option", has_text=label).first.click()
    expect(page.locator(f"#select2-{field}-container")).to_contain_text(label)


def _type_date(page: Page, field: str, day: dt.date) -> None:
    """Type a date (the date picker reads keystrokes; a pasted value is dropped on blur)."""
    page.click(f"#{field}")
    page.keyboard.press("Control+A")
    page.keyboard.type(f"{day}")
    page.keyboard.press("Escape")


def _set_datetime(page: Page, field: str, moment: dt.datetime) -> None:
    """Put a date and time into the plan form's date-and-time inputs (type datetime-local)."""
    page.fill(f"#{field}", f"{moment:%Y-%m-%dT%H:%M}")


def _flash(page: Page, category: str = "success"):
    return expect(page.locator(f".alert-{category}").first)


def _download(page: Page, selector: str, folder, name: str) -> bytes:
    with page.expect_download() as info:
        page.click(selector)
    target = folder / name
    info.value.save_as(target)
    return target.read_bytes()


def _error_lines(page: Page, panel: str) -> list[list[str]]:
    """The lines of an upload's error list (row, column, value, reason), as shown."""
    return [[cell.strip() for cell in line.locator("td").all_inner_texts()]
            for line in page.locator(f"#{panel} tbody tr").all()]


def _filled_roster(template, target, trainees, **wrong) -> None:
    """The downloaded 《报名人员信息表》 with the trainees typed in; `wrong` overrides cells of
    the last trainee's row (header -> value)."""
    workbook = load_workbook(template)
    sheet = workbook.worksheets[0]
    columns = {cell.value: cell.column for cell in sheet[1] if cell.value}
    for row, (name, number, mobile) in enumerate(trainees, start=2):
        values = {"序号": row - 1, "姓名": name, "性别": "男" if int(number[16]) % 2 else "女",
                  "身份证号码": number, "手机号码": mobile, "文化程度": "高中/中专/技校",
                  "职称": "无", "职业(工种)名称": "钢筋工", "职业等级": "五级/初级工"}
        if row == len(trainees) + 1:
            values.update(wrong)
        for header, value in values.items():
            sheet.cell(row=row, column=columns[header], value=value)
    workbook.save(target)


def test_enterprise_trains_workers_to_certificates(server, person):
    folder = artifacts_dir("test_journey")
    base = server.url
    enterprise, city = person("enterprise"), person("hz_jsj")
    institution, visitor = person("hzjx"), person("visitor")
    # Every step's last page is checked for untranslated English too (tests/web/test_i18n.py's
    # rule); these words are data: usernames and the demo e-mail domain.
    data_words = {"hzjx", "hz", "jsj", "demo", "jianpei", "invalid"}
    steps = Steps(folder, [enterprise, city, institution, visitor], server,
                  english_allowed=ALLOWED | data_words)
    now = dt.datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None, second=0, microsecond=0)
    today = now.date()
    uscc = gen_uscc()
    trainees = [(card.truth.name, card.truth.number, mobile)
                for card, mobile in zip(CARDS, MOBILES)]
    typo = id_card_corpus.mutate_name_char(trainees[1][0], seed=1)  # the second name mistyped

    with steps.step("enterprise-fills-registration-ocr", enterprise) as me:
        page = me.go("/login/")
        page.click("a[href='/register/']")
        for slot, data in (("yyzz", licence_jpeg(uscc, ENTERPRISE_NAME)), ("cns", plain_jpeg()),
                           ("zzzs", plain_jpeg())):
            page.set_input_files(f"#{slot}", {"name": f"{slot}.jpg", "mimeType": JPEG,
                                               "buffer": data})
            expect(page.locator(f"#{slot}-state")).to_have_text(zh("Uploaded and checked."))
        # OCR runs in the server's huey consumer; the page polls and fills the form.
        expect(page.locator("#reading-body")).to_contain_text(uscc, timeout=60_000)
        expect(page.locator("#uscc")).to_have_value(uscc)
        expect(page.locator("#name")).to_have_value(ENTERPRISE_NAME)
        page.select_option("#region_code", "330100")
        page.fill("#contact_person", "李明")
        page.fill("#contact_mobile", MOBILE)
        page.click("#send-code")
        expect(page.locator("#send-code-state")).to_have_text(
            zh("The verification code has been sent; it is valid for %(minutes)s minutes.",
               minutes=5))
        text = server.scalar("SELECT text FROM sms_message WHERE phone = :phone "
                             "ORDER BY id DESC LIMIT 1", phone=MOBILE)
        assert text, "no SMS in the outbox"
        page.fill("#sms_code", re.search(r"\d{6}", text).group(0))
        page.fill("#password", ENTERPRISE_PASSWORD)
        page.fill("#password_confirm", ENTERPRISE_PASSWORD)

    with steps.step("enterprise-submits-registration", enterprise) as me:
        page = me.page
        page.click("#register-form button[type=submit]")
        page.wait_for_url(base + "/login/")
        _flash(page).to_contain_text(uscc)

    with steps.step("enterprise-signs-in-pending", enterprise) as me:
        me.sign_in(uscc, ENTERPRISE_PASSWORD, staff=False)
        expect(me.go("/my/enterprise/").locator("body")).to_contain_text(zh("Pending review"))

    with steps.step("city-approves-enterprise", city) as me:
        me.sign_in("hz_jsj", staff=True)
        page = me.go("/review/enterprises/")
        page.locator("tr", has_text=uscc).get_by_role("link").click()
        expect(page.locator("#fields")).to_contain_text(ENTERPRISE_NAME)
        expect(page.locator("#fields tr.danger")).to_have_count(0)  # OCR agrees with the form
        page.click("form[action$='/approve'] button")
        _flash(page).to_be_visible()
        expect(page.locator("body")).not_to_contain_text(uscc)  # gone from the queue

    with steps.step("institution-fills-plan-form", institution) as me:
        me.sign_in("hzjx", staff=True)
        page = me.go("/trainingplanview/add")
        _choose(page, "occupation", "钢筋工")
        _choose(page, "level", "五级/初级工")
        page.fill("#quota", "30")
        page.fill("#fee", "880.00")
        _type_date(page, "train_start", today + dt.timedelta(days=1))
        _type_date(page, "train_end", today + dt.timedelta(days=2))
        page.fill("#venue", VENUE)
        _choose(page, "region", "杭州市")
        page.fill("#contact", "王老师 0571-88888888")
        _set_datetime(page, "enrol_start", now - dt.timedelta(hours=1))
        _set_datetime(page, "enrol_end", now + dt.timedelta(days=1))

    with steps.step("institution-submits-plan", institution) as me:
        page = me.page
        page.click(SUBMIT)
        page.wait_for_url(re.compile(r"/trainingplanview/show/\d+$"))  # saved: the plan opens
        _flash(page).to_be_visible()
        expect(page.locator("body")).to_contain_text(VENUE)
        plan_id = int(re.search(r"/show/(\d+)", page.url).group(1))
        page.click("#plan-actions form[action*='/submit/'] button")
        _flash(page).to_be_visible()
        expect(page.locator("body")).to_contain_text(zh("Awaiting review"))

    with steps.step("city-approves-plan", city) as me:
        page = me.go("/trainingplanview/list/")
        page.locator("tr", has_text=VENUE).locator("a[href*='/show/']").click()
        page.click("#plan-actions form[action*='/approve/'] button")
        _flash(page).to_be_visible()
        expect(page.locator("body")).to_contain_text(zh("Enrolling"))

    with steps.step("enterprise-downloads-roster-template", enterprise) as me:
        page = me.go("/openplanview/list/")
        page.locator("tr", has_text=VENUE).locator(f"a[href='/enrol/{plan_id}/']").click()
        template = _download(page, "form a[href$='roster-template.xlsx']", folder,
                             "报名人员信息表.xlsx")
        assert template.startswith(b"PK")
        expect(page.locator("#nobody-to-order")).to_be_visible()  # nobody enrolled yet

    with steps.step("enterprise-uploads-roster-with-a-wrong-cell", enterprise) as me:
        # The second worker's trade is not this plan's; the cell says so in the list.
        _filled_roster(folder / "报名人员信息表.xlsx", folder / "报名人员信息表-有错.xlsx",
                       trainees, **{"职业(工种)名称": "木 工"})
        page = me.page
        page.set_input_files("input[name=roster]", folder / "报名人员信息表-有错.xlsx")
        page.click("form[action$='/roster'] button[type=submit]")
        _flash(page, "danger").to_contain_text(zh(
            "Nothing was imported: the roster has %(n)s errors. Fix them all and upload again.",
            n=1))
        assert _error_lines(page, "roster-errors") == [
            ["3", "职业(工种)名称", "木 工", zh("This plan trains “%(name)s”.", name="钢筋工")]]
        marked = _download(page, "#roster-errors a[href$='roster-errors.xlsx']", folder,
                           "报名人员信息表-错误标注.xlsx")
        sheet = load_workbook(io.BytesIO(marked)).worksheets[0]
        column = next(c.column for c in sheet[1] if c.value == "职业(工种)名称")
        cell = sheet.cell(3, column)
        assert cell.value == "木 工" and "钢筋工" in cell.comment.text
        expect(page.locator("#nobody-to-order")).to_be_visible()  # nothing was imported

    with steps.step("enterprise-uploads-roster", enterprise) as me:
        _filled_roster(folder / "报名人员信息表.xlsx", folder / "报名人员信息表-已填写.xlsx",
                       trainees, 姓名=typo)
        page = me.page
        page.set_input_files("input[name=roster]", folder / "报名人员信息表-已填写.xlsx")
        page.click("form[action$='/roster'] button[type=submit]")
        _flash(page).to_be_visible()
        expect(page.locator("#trainees tbody tr")).to_have_count(len(trainees))
        # The enterprise's own list: whole ID numbers, to match the photo files by.
        expect(page.locator("#trainees")).to_contain_text(trainees[0][1])

    with steps.step("enterprise-uploads-a-picture-that-is-no-jpg", enterprise) as me:
        page = me.page
        form = page.locator("form[action$='/photos/photo']")
        form.locator("input[name=files]").set_input_files(
            [{"name": f"{trainees[0][1]}.jpg", "mimeType": JPEG, "buffer": png_bytes()}])
        form.locator("button[type=submit]").click()
        refused = page.locator("#batch-result tr.danger")
        expect(refused).to_have_count(1)
        expect(refused).to_contain_text(f"{trainees[0][1]}.jpg")
        expect(page.locator("#batch-result tr.success")).to_have_count(0)
        expect(page.locator("#trainees tbody tr").first).to_contain_text(zh("Missing"))

    with steps.step("enterprise-batch-uploads-photos", enterprise) as me:
        page = me.page
        pictures = {"photo": [portrait_jpeg(330, 440, seed=i) for i in range(len(trainees))],
                    "id_photo": [card.jpeg for card in CARDS]}
        for kind, data in pictures.items():
            form = page.locator(f"form[action$='/photos/{kind}']")
            form.locator("input[name=files]").set_input_files(
                [{"name": f"{number}.jpg", "mimeType": JPEG, "buffer": picture}
                 for (_name, number, _mobile), picture in zip(trainees, data)])
            form.locator("button[type=submit]").click()
            expect(page.locator("#batch-result tr.success")).to_have_count(len(trainees))
            # The machine checks run in the server's huey consumer; the page polls them.
            expect(page.locator("#check-done")).to_be_visible(timeout=60_000)
            expect(page.locator("#batch-result .photo-check[data-state=queued]")).to_have_count(0)
        expect(page.locator("#missing-photos")).to_have_count(0)

    with steps.step("enterprise-sees-the-name-differs-from-the-id-card", enterprise) as me:
        page = me.page
        page.click("#check-done")
        mismatch = page.locator(".check-row[data-kind=id_photo]")
        expect(mismatch).to_have_count(1)
        expect(mismatch).to_contain_text(typo)
        expect(mismatch.locator("tr.danger[data-field=name]")).to_contain_text(trainees[1][0])
        page.click("#create-order")  # refused while the difference stands
        _flash(page, "danger").to_contain_text(zh(
            "The photos of some trainees are still being checked, or differ from the roster and "
            "nobody has decided yet. Settle them on the enrolment page first."))

    with steps.step("enterprise-fixes-the-name-the-id-card-shows", enterprise) as me:
        page = me.page
        page.locator(".check-row a.fix-row").click()
        page.fill("input[name=姓名]", trainees[1][0])
        page.click(SUBMIT)
        _flash(page).to_be_visible()
        expect(page.locator(".check-row")).to_have_count(0)
        expect(page.locator(".photo-check[data-state=passed]")).to_have_count(2 * len(trainees))

    with steps.step("enterprise-generates-order", enterprise) as me:
        page = me.page
        page.click("#create-order")
        page.wait_for_url(re.compile(r"/orders/show/\d+$"))
        order_url = page.url
        expect(page.locator("#order-trainees tbody tr")).to_have_count(len(trainees))
        expect(page.locator("body")).to_contain_text(zh("Awaiting payment"))

    with steps.step("gateway-simulator-cashier", enterprise) as me:
        page = me.page
        page.click("#pay")
        page.wait_for_url(re.compile(r"/alipay-sim/"))
        expect(page.locator("#trade-amount")).to_have_text("1760.00")

    with steps.step("enterprise-sees-order-paid", enterprise) as me:
        page = me.page
        page.click("button[name=action][value=pay]")
        page.wait_for_url(order_url)
        expect(page.locator("body")).to_contain_text(zh("Paid"))
        _flash(page).to_be_visible()

    with steps.step("invoice-issued-and-downloaded", enterprise) as me:
        tomorrow = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date() + dt.timedelta(days=1)
        report = json.loads(server.flask("invoices", "issue", "--date", f"{tomorrow}"))
        assert report["issued"], report
        page = me.go(order_url.removeprefix(base))
        pdf = _download(page, "#invoice", folder, "电子发票.pdf")
        assert pdf.startswith(b"%PDF")

    with steps.step("training-ends", institution) as me:
        server.restart(offset_seconds=TRAINING_OVER)  # the clock moves: the training is over
        page = me.go(f"/trainingplanview/show/{plan_id}")
        expect(page.locator("body")).to_contain_text(zh("Training ended"))

    exam_day = today + dt.timedelta(days=4)
    with steps.step("institution-reports-assessment-plan", institution) as me:
        page = me.page
        page.click("#create-assessment")
        page.fill("#exam_start", f"{exam_day}T09:00")
        page.fill("#exam_end", f"{exam_day}T11:00")
        page.fill("#venue", "二号楼考场")
        page.fill("#theory_part", "理论知识（闭卷笔试，90分钟）")
        page.fill("#practical_part", "钢筋绑扎实操")
        page.click(SUBMIT)
        page.wait_for_url(re.compile(r"/assessments/show/\d+$"))
        assessment_url = page.url.removeprefix(base)
        page.click("#report")
        _flash(page).to_be_visible()
        expect(page.locator("body")).to_contain_text(zh("Not reviewed"))

    with steps.step("city-approves-assessment-plan", city) as me:
        page = me.go("/assessments/list/")
        page.locator("tr", has_text="二号楼考场").locator("a[href*='/show/']").click()
        page.click("#assessment-actions form[action*='/approve/'] button")
        _flash(page).to_be_visible()
        expect(page.locator("body")).to_contain_text(zh("Reviewed"))

    with steps.step("enterprise-downloads-admission-tickets", enterprise) as me:
        page = me.go("/enrolled/")
        page.locator("tr", has_text="钢筋工").locator(f"a[href='/enrolled/{plan_id}/']").click()
        pdf = _download(page, "#all-tickets", folder, "准考证.pdf")
        assert pdf.startswith(b"%PDF")

    with steps.step("institution-imports-a-score-sheet-with-a-wrong-cell", institution) as me:
        server.restart(offset_seconds=EXAM_OVER)  # the clock moves: the exam is over
        page = me.go(assessment_url)
        _download(page, "#scores-panel a[href*='/scores-template/']", folder, "成绩导入表.xlsx")
        workbook = load_workbook(folder / "成绩导入表.xlsx")
        sheet = workbook.worksheets[0]
        header = {cell.value: cell.column for cell in sheet[3] if cell.value}
        filled = 0
        for row in range(4, sheet.max_row + 1):
            if sheet.cell(row, header["身份证号码"]).value:
                sheet.cell(row, header["理论成绩"], 86)
                sheet.cell(row, header["实操成绩"], 78.5)
                filled += 1
        assert filled == len(trainees)
        workbook.save(folder / "成绩导入表-已填写.xlsx")
        sheet.cell(4, header["理论成绩"], "八十六")  # a word where a number belongs
        workbook.save(folder / "成绩导入表-有错.xlsx")
        page.set_input_files("#scores-panel input[name=scores]", folder / "成绩导入表-有错.xlsx")
        page.click("#scores-panel button[type=submit]")
        _flash(page, "danger").to_be_visible()
        assert _error_lines(page, "score-errors") == [
            ["4", "理论成绩", "八十六", zh("A score must be a number.")]]
        marked = _download(page, "#score-errors a[href$='.xlsx']", folder,
                           "成绩导入表-错误标注.xlsx")
        cell = load_workbook(io.BytesIO(marked)).worksheets[0].cell(4, header["理论成绩"])
        assert cell.value == "八十六" and cell.comment is not None
        expect(page.locator("#scores-panel")).to_contain_text(zh("Not reported"))

    with steps.step("institution-imports-scores", institution) as me:
        page = me.page
        page.set_input_files("#scores-panel input[name=scores]", folder / "成绩导入表-已填写.xlsx")
        page.click("#scores-panel button[type=submit]")
        _flash(page).to_be_visible()
        expect(page.locator("#scores-panel")).to_contain_text(zh("Accepted"))

    with steps.step("city-approves-scores-certificates-generated", city) as me:
        page = me.go("/score-reports/list/")
        page.locator("tbody tr").filter(has_text=zh("Accepted")).locator(
            "a[href*='/show/']").first.click()
        expect(page.locator("#scores tbody tr")).to_have_count(len(trainees))
        page.click("#score-summary form[action*='/approve/'] button")
        _flash(page).to_contain_text(str(len(trainees)))

    with steps.step("certificates-pushed", city) as me:
        page = me.go("/certificates/list/")
        pushed = page.locator("tbody tr").filter(has_text=zh("Certificate pushed"))
        for _ in range(30):  # the push runs in the consumer, against the built-in receiver
            if pushed.filter(has_text=trainees[0][0]).count():
                break
            page.wait_for_timeout(1000)
            page.reload()
        row = pushed.filter(has_text=trainees[0][0])
        expect(row).to_have_count(1)
        number = re.search(r"33\d{4}[0-9A-Z]{2}\d{9}", row.inner_text()).group(0)

    with steps.step("public-certificate-lookup", visitor) as me:
        page = me.go("/login/")
        panel = page.locator("#certificate-lookup")
        panel.locator("input[name=number]").fill(number)
        panel.locator("input[name=name]").fill(trainees[0][0])
        panel.locator("button[type=submit]").click()
        expect(page.locator("#certificate")).to_contain_text(number)
        expect(page.locator("#certificate")).to_contain_text(zh("Certificate pushed"))

    progress = [zh("Training ended"), zh("Reviewed"), zh("Reviewed"), zh("Certificate pushed")]
    with steps.step("enterprise-searches-trainee", enterprise) as me:
        page = me.go("/")
        page.click("#sidebar a[href='/trainees/']")  # the left menu (左侧菜单)
        page.fill("#trainee-search input[name=q]", trainees[0][0])
        page.click("#trainee-search button[type=submit]")
        rows = page.locator("#trainees tbody tr")
        expect(rows).to_have_count(1)
        labels = rows.first.locator("span.label")
        expect(labels).to_have_text(progress)

    # UI bug: 状态变更记录 names the actor of what a task did (payment, push) "system".
    with steps.step("enterprise-opens-trainee-detail", enterprise,
                    known_english=frozenset()) as me:
        page = me.page
        page.locator("#trainees tbody tr").first.locator("a[href^='/trainees/']").click()
        detail = page.locator("#trainee-detail")
        expect(detail.locator("h3")).to_contain_text(trainees[0][0])
        expect(detail.locator("h3 + p span.label")).to_have_text(progress)
        expect(detail.locator("#certificate")).to_contain_text(number)
        expect(detail.locator("#assessment")).to_contain_text("二号楼考场")
