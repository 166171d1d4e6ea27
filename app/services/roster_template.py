"""《报名人员信息表》: the standard roster workbook, generated from the live dictionaries."""
import enum
import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from app.services.dictionaries import active_values
from models.reference import Education, Occupation, OccupationLevel, ProfessionalTitle

SHEET = "报名人员信息表"
OPTIONS_SHEET = "选项"


class RosterHeader(enum.StrEnum):
    """The roster's columns, in order; each value is the header text the sheet shows (and a
    cell error names)."""

    NUMBER = "序号"
    NAME = "姓名"
    GENDER = "性别"
    ID_NUMBER = "身份证号码"
    MOBILE = "手机号码"
    EDUCATION = "文化程度"
    TITLE = "职称"
    OCCUPATION = "职业(工种)名称"
    LEVEL = "职业等级"


HEADERS = tuple(header.value for header in RosterHeader)
# Option lists on the second sheet, in this column order (as the manual describes).
OPTION_COLUMNS = ((RosterHeader.OCCUPATION, Occupation), (RosterHeader.LEVEL, OccupationLevel),
                  (RosterHeader.TITLE, ProfessionalTitle), (RosterHeader.EDUCATION, Education))
TEXT_COLUMNS = (RosterHeader.ID_NUMBER, RosterHeader.MOBILE)
ROWS = 5000


def build() -> Workbook:
    wb = Workbook()
    sheet = wb.active
    sheet.title = SHEET
    options = wb.create_sheet(OPTIONS_SHEET)

    sheet.append(HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center")
    widths = {RosterHeader.NUMBER: 6, RosterHeader.NAME: 12, RosterHeader.GENDER: 6,
              RosterHeader.ID_NUMBER: 22, RosterHeader.MOBILE: 15, RosterHeader.EDUCATION: 16,
              RosterHeader.TITLE: 10, RosterHeader.OCCUPATION: 22, RosterHeader.LEVEL: 14}
    for index, header in enumerate(HEADERS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = widths[header]
    sheet.freeze_panes = "A2"

    last_row = ROWS + 1
    for header in TEXT_COLUMNS:  # long digit strings must stay text, never numbers
        letter = get_column_letter(HEADERS.index(header) + 1)
        for row in range(2, last_row + 1):
            sheet[f"{letter}{row}"].number_format = "@"

    gender = DataValidation(type="list", formula1='"男,女"', allow_blank=True,
                            showErrorMessage=True, error="请从下拉列表中选择“男”或“女”。",
                            errorTitle="性别")
    gender.add(f"C2:C{last_row}")
    sheet.add_data_validation(gender)

    for column, (title, model) in enumerate(OPTION_COLUMNS, start=1):
        letter = get_column_letter(column)
        options.cell(row=1, column=column, value=title).font = Font(bold=True)
        values = [item.name for item in active_values(model)]
        for row, value in enumerate(values, start=2):
            options.cell(row=row, column=column, value=value)
        options.column_dimensions[letter].width = 24
        target = get_column_letter(HEADERS.index(title) + 1)
        rule = DataValidation(
            type="list", formula1=f"'{OPTIONS_SHEET}'!${letter}$2:${letter}${len(values) + 1}",
            allow_blank=True, showErrorMessage=True, errorTitle=title,
            error=f"请从下拉列表中选择{title}，或从“{OPTIONS_SHEET}”工作表复制。")
        rule.add(f"{target}2:{target}{last_row}")
        sheet.add_data_validation(rule)
    return wb


def to_bytes() -> io.BytesIO:
    out = io.BytesIO()
    build().save(out)
    out.seek(0)
    return out
