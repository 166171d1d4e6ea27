"""企业承诺书: the commitment letter template an enterprise prints, stamps and uploads (a PDF
with Chinese text; the PDF primitives are app/integrations/pdf.py)."""
import io

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from app.integrations import pdf as pdfkit

COMMITMENT_LINES = (
    "本企业郑重承诺：",
    "一、在建培系统中填报的企业信息、人员信息真实、准确、完整；",
    "二、上传的营业执照、资质证书等材料真实有效，与原件一致；",
    "三、组织本单位人员按时参加培训和考核，遵守培训机构和考核管理规定；",
    "四、如有虚假，愿承担由此产生的一切法律责任。",
    "",
    "企业名称（盖章）：______________________________",
    "统一社会信用代码：______________________________",
    "法定代表人（签字）：____________________________",
    "日期：________年____月____日",
)


def commitment_letter_template() -> io.BytesIO:
    """企业承诺书模版: printed, stamped with the company seal, photographed as cns.jpg."""
    font = pdfkit.cjk_font()
    out = io.BytesIO()
    pdf = pdfkit.a4_canvas(out, "企业承诺书", invariant=False)
    width, height = A4
    pdf.setFont(font, 22)
    pdf.drawCentredString(width / 2, height - 40 * mm, "企业承诺书")
    pdfkit.draw_lines(pdf, font, 13, COMMITMENT_LINES, 25 * mm, height - 65 * mm, 12 * mm)
    pdf.showPage()
    pdf.save()
    out.seek(0)
    return out

