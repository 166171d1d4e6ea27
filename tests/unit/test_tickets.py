"""准考证 PDFs: a page per trainee with what the exam hall checks, and a QR code to verify it."""
import io
import secrets

import pytest
from pypdf import PdfReader
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from app import clock
from app.extensions import db
from app.integrations import pdf as pdfkit
from app.integrations.pdf import cjk_font, qr_drawing
from app.integrations.storage import storage
from app.services import tickets
from app.services.codes import mask_id_number
from models.assessment import AdmissionTicket
from tests.assessment_factories import gen_assessment, gen_finished_plan, gen_paid_trainees
from tests.factories import gen_enterprise, gen_institution


def gen_tickets(assessment, enrolments) -> list[AdmissionTicket]:
    made = [AdmissionTicket(assessment_id=assessment.id, enrolment_id=enrolment.id,
                            number=f"ZK{assessment.id:04d}{i:05d}",
                            verify_token=secrets.token_hex(16), created_at=clock.now())
            for i, enrolment in enumerate(enrolments, start=1)]
    db.session.add_all(made)
    db.session.commit()
    return made


@pytest.fixture
def plan(app):
    return gen_finished_plan(gen_institution(name="浙江建工职业技能培训学校"))


@pytest.fixture
def assessment(plan):
    return gen_assessment(plan, venue="杭州市西湖区文三路100号实训基地3号考场")


@pytest.fixture
def trainees(plan):
    return gen_paid_trainees(plan, 3, enterprise=gen_enterprise(name="宁波甬江建筑工程有限公司"))


def pages(data: bytes):
    return PdfReader(io.BytesIO(data)).pages


def test_a_page_per_trainee_with_the_ticket_details(assessment, trainees):
    made = gen_tickets(assessment, trainees)

    data = tickets.tickets_pdf(made)

    assert data.startswith(b"%PDF")
    assert b"/FontFile2" in data  # the TrueType CJK font is embedded, not referenced
    assert len(pages(data)) == 3
    for page, ticket, trainee in zip(pages(data), made, trainees):
        text = page.extract_text()
        person = trainee.person
        for expected in ("准考证", ticket.number, person.name, person.gender,
                         mask_id_number(person.id_number), "钢筋工", "五级/初级工",
                         f"{assessment.exam_start:%Y年%m月%d日}", "09:00—11:30",
                         "杭州市西湖区文三路100号实训基地3号考场", "理论知识（闭卷笔试）",
                         "钢筋绑扎实操", "浙江建工职业技能培训学校", "宁波甬江建筑工程有限公司",
                         "考生须知", "身份证", "30分钟", "扫码核验准考证"):
            assert expected in text, expected
        assert person.id_number not in text  # only the masked number is printed
        assert [name for other in trainees if other is not trainee
                for name in [other.person.name] if name in text] == []


def test_each_page_shows_the_trainee_photo(assessment, trainees):
    data = tickets.tickets_pdf(gen_tickets(assessment, trainees[:2]))

    for page in pages(data):
        (image,) = page.images
        assert image.image.size == (300, 400)  # the stored 1-inch photo, not resampled


def test_the_qr_code_links_to_the_ticket_verification_page(assessment, trainees, monkeypatch):
    made = gen_tickets(assessment, trainees)
    encoded = []

    class RecordingQr(pdfkit.QrCodeWidget):
        def __init__(self, value, **kw):
            encoded.append(value)
            super().__init__(value, **kw)

    monkeypatch.setattr(pdfkit, "QrCodeWidget", RecordingQr)

    tickets.tickets_pdf(made)

    assert encoded == [f"http://localhost/verify/ticket/{t.verify_token}" for t in made]
    assert encoded == [tickets.verify_url(t) for t in made]


def test_the_page_draws_the_qr_code_of_its_own_ticket(assessment, trainees):
    """Without a QR decoder: the page's drawing holds the modules of its ticket's URL."""
    first, second = gen_tickets(assessment, trainees[:2])

    drawn = _filled_rects(pages(tickets.tickets_pdf([first]))[0])

    assert drawn  # the modules of a QR code are filled rectangles
    assert drawn == _qr_modules(tickets.verify_url(first))
    assert drawn != _qr_modules(tickets.verify_url(second))


def _filled_rects(page) -> list[bytes]:
    """The filled rectangles of a page: on a ticket, only the QR code's dark modules."""
    return [line for line in page.get_contents().get_data().splitlines()
            if line.endswith(b" re f*")]


def _qr_modules(url: str) -> list[bytes]:
    """The rectangles reportlab draws for the QR code of url, in a drawing of the ticket's size."""
    from reportlab.graphics import renderPDF
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, invariant=True, pageCompression=0)
    renderPDF.draw(qr_drawing(url, tickets._QR), pdf, 0, 0)
    pdf.showPage()
    pdf.save()
    return _filled_rects(pages(out.getvalue())[0])


def test_a_missing_photo_file_prints_a_placeholder(assessment, trainees):
    made = gen_tickets(assessment, trainees[:2])
    storage().delete(trainees[0].photo_key)
    trainees[1].photo_key = None
    db.session.commit()

    data = tickets.tickets_pdf(made)

    assert len(pages(data)) == 2
    for page, ticket in zip(pages(data), made):
        text = page.extract_text()
        assert ticket.number in text and "照片" in text
        assert list(page.images) == []


def test_the_same_tickets_give_the_same_bytes(assessment, trainees):
    made = gen_tickets(assessment, trainees)
    assert tickets.tickets_pdf(made) == tickets.tickets_pdf(made)


def test_long_values_wrap_inside_the_frame(app, plan, trainees):
    venue = ("浙江省杭州市西湖区文三路100号建筑工人职业技能实训基地综合楼三楼东侧第3号理论考场"
             "（实操在西侧场地）")
    theory = "建筑识图、钢筋工程施工工艺与质量验收规范、安全生产知识（闭卷笔试，90分钟）"
    enterprise = trainees[0].enterprise
    enterprise.name = "宁波甬江建筑工程集团有限公司第三分公司（北仑项目部）劳务作业分包单位"
    assessment = gen_assessment(plan, venue=venue, theory_part=theory)
    (ticket,) = gen_tickets(assessment, trainees[:1])

    page = pages(tickets.tickets_pdf([ticket]))[0]

    text = page.extract_text().replace("\n", "")
    for expected in (venue, theory, enterprise.name):
        assert expected in text  # wrapped onto more lines, nothing cut off
    runs = _text_runs(page)
    assert runs and all(20 * mm - 0.5 <= x and x + w <= 190 * mm + 0.5 for x, w, _ in runs), [
        text for x, w, text in runs if x + w > 190 * mm + 0.5]


def _text_runs(page) -> list[tuple[float, float, str]]:
    """(x, width, text) of each string drawn on the page."""
    font = cjk_font()
    runs = []

    def visit(text, cm, tm, font_dict, size):
        if text.strip():
            runs.append((tm[4], stringWidth(text.rstrip("\n"), font, size), text))

    page.extract_text(visitor_text=visit)
    return runs


def test_no_tickets_is_an_error(app):
    with pytest.raises(ValueError):
        tickets.tickets_pdf([])


def test_download_names(assessment, trainees):
    (ticket,) = gen_tickets(assessment, trainees[:1])

    assert tickets.ticket_filename(ticket) == f"准考证-{trainees[0].person.name}-{ticket.number}.pdf"
    assert tickets.plan_tickets_filename(assessment) == (
        f"准考证-钢筋工-五级_初级工-{assessment.exam_start:%Y%m%d}.pdf")
