"""企业注册: the public registration page, its uploads with licence OCR, and SMS codes."""
import datetime as dt

from flask import current_app, flash, jsonify, redirect, request, send_file
from flask_appbuilder import BaseView, expose
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    FileField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Optional

from app.extensions import db
from app.services import DomainError, documents, enterprises, sms_codes, sms_templates
from app.services import uploads as staged
from app.services.licence import LICENCE_FIELDS
from app.services.licence import problem_message as licence_problem
from models.organisation import DocumentSlot
from models.reference import PROVINCE_CODE, Region

REQUIRED = DataRequired(message=_l("This field is required."))


class RegistrationForm(FlaskForm):
    uscc = StringField(_l("Unified social credit code"), validators=[REQUIRED, Length(max=18)])
    name = StringField(_l("Enterprise name"), validators=[REQUIRED, Length(max=128)])
    enterprise_type = StringField(_l("Enterprise type"), validators=[REQUIRED, Length(max=64)])
    legal_representative = StringField(_l("Legal representative"),
                                       validators=[REQUIRED, Length(max=32)])
    registered_capital = StringField(_l("Registered capital"), validators=[REQUIRED, Length(max=64)])
    established = DateField(_l("Date of establishment"), validators=[Optional()])
    address = StringField(_l("Address"), validators=[REQUIRED, Length(max=256)])
    region_code = SelectField(_l("Region"), validators=[REQUIRED])
    province_owned = BooleanField(_l("Province-owned unit"))
    contact_person = StringField(_l("Contact person"), validators=[REQUIRED, Length(max=32)])
    contact_mobile = StringField(_l("Contact mobile"), validators=[REQUIRED, Length(max=20)])
    sms_code = StringField(_l("Verification code"), validators=[REQUIRED, Length(max=6)])
    password = PasswordField(_l("Password"), validators=[REQUIRED],
                             description=_l("At least 8 characters."))
    password_confirm = PasswordField(_l("Confirm password"), validators=[REQUIRED])
    # One file field and one staged-upload token per DocumentSlot, named by its value.
    yyzz = FileField(DocumentSlot.LICENCE.filename)
    cns = FileField(DocumentSlot.COMMITMENT.filename)
    zzzs = FileField(DocumentSlot.QUALIFICATION.filename)
    yyzz_token = HiddenField()
    cns_token = HiddenField()
    zzzs_token = HiddenField()
    reading_seen = HiddenField()  # the licence token whose read-out the user has seen

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.region_code.choices = [("", gettext("Please choose"))] + city_choices()


def city_choices() -> list[tuple[str, str]]:
    rows = db.session.execute(select(Region.code, Region.name)
                              .where(Region.parent_code == PROVINCE_CODE)
                              .order_by(Region.code)).all()
    return [(code, name) for code, name in rows]


def _data(form: RegistrationForm) -> enterprises.RegistrationData:
    return enterprises.RegistrationData(
        uscc=form.uscc.data, name=form.name.data, enterprise_type=form.enterprise_type.data,
        legal_representative=form.legal_representative.data,
        registered_capital=form.registered_capital.data, established=form.established.data,
        address=form.address.data, region_code=form.region_code.data,
        province_owned=form.province_owned.data, contact_person=form.contact_person.data,
        contact_mobile=form.contact_mobile.data, sms_code=form.sms_code.data,
        password=form.password.data, password_confirm=form.password_confirm.data)


def send_code_response(purpose: str):
    """JSON answer of the "send verification code" buttons."""
    try:
        sms_codes.send_code(request.form.get("mobile", ""), purpose)
    except DomainError as error:
        return jsonify(ok=False, error=str(error)), 400
    return jsonify(ok=True, message=gettext(
        "The verification code has been sent; it is valid for %(minutes)s minutes.",
        minutes=sms_templates.CODE_LIFETIME_MINUTES))


class RegisterView(BaseView):
    """Public: no sign-in and no permission needed."""

    route_base = "/register"
    default_view = "index"

    @expose("/", methods=["GET", "POST"])
    def index(self):
        form = RegistrationForm()
        upload_errors: dict[str, str] = {}
        if request.method == "POST":
            new_licence = self._stage_files(form, upload_errors)
            licence = staged.find(form.yyzz_token.data, staged.LICENCE)
            unseen = licence and (new_licence or form.reading_seen.data != licence.token)
            if unseen and not upload_errors and staged.reading_pending(licence):
                # Without JavaScript: never wait here; the page says it is reading, and the
                # user asks again (the button re-sends the form, keeping what was typed).
                flash(gettext("The business licence is being read; this takes a few seconds. "
                              "Press “Show what was read” in a moment."), "info")
            elif unseen and not upload_errors:
                # Without JavaScript the read-out is shown first, for the user to check.
                self._fill_from_reading(form, staged.ocr_reading(licence))
                form.reading_seen.data = licence.token
                flash(gettext("The business licence has been read. Please check the fields "
                              "against the licence, then submit again."), "info")
                self._flash_taken_uscc(form.uscc.data)
            elif not upload_errors and form.validate():
                tokens = {slot: getattr(form, f"{slot}_token").data for slot in staged.SLOTS}
                try:
                    enterprise = enterprises.register(_data(form), tokens)
                except DomainError as error:
                    flash(str(error), "danger")
                else:
                    flash(gettext("Registration submitted. Your account is %(uscc)s; you can sign "
                                  "in now. Enrolment opens once %(authority)s has approved it.",
                                  uscc=enterprise.uscc,
                                  authority=enterprise.reviewing_authority.name), "success")
                    return redirect(self.appbuilder.get_url_for_login)
        return self._render(form, upload_errors)

    @staticmethod
    def _flash_taken_uscc(uscc: str) -> None:
        """Say at once that the code cannot register (before the SMS code step)."""
        if not uscc:
            return
        try:
            enterprises.check_new_uscc(uscc)
        except DomainError as error:
            flash(str(error), "danger")

    def _render(self, form, upload_errors):
        uploads = {slot: staged.find(getattr(form, f"{slot}_token").data, slot)
                   for slot in staged.SLOTS}
        reading = staged.ocr_reading(uploads[staged.LICENCE])
        typed = {field.name: getattr(form, field.name).data for field in LICENCE_FIELDS}
        return self.render_template(
            "register.html", form=form, uploads=uploads, upload_errors=upload_errors,
            reading=reading, licence_fields=LICENCE_FIELDS, reading_problem=licence_problem(reading),
            reading_pending=staged.reading_pending(uploads[staged.LICENCE]),
            differences=enterprises.reading_differences(typed, reading),
            slots=staged.SLOTS, max_mb=current_app.config["DOCUMENT_MAX_BYTES"] // 1024 // 1024)

    def _stage_files(self, form, errors) -> bool:
        new_licence = False
        for slot in staged.SLOTS:
            file = request.files.get(slot)
            if not file or not file.filename:
                continue
            try:
                upload = staged.stage(slot, file.filename, file.read())
            except DomainError as error:
                errors[slot] = str(error)
                continue
            getattr(form, f"{slot}_token").data = upload.token
            new_licence = new_licence or slot == staged.LICENCE
        return new_licence

    @staticmethod
    def _fill_from_reading(form, reading) -> None:
        if not reading:
            return
        for field in LICENCE_FIELDS:
            value = reading.get(field.key)
            if value and not getattr(form, field.name).data:
                if field.name == "established":  # read as an ISO date, typed as a date
                    value = dt.date.fromisoformat(value)
                getattr(form, field.name).data = value
        if reading.get("region") and not form.region_code.data and any(
                code == reading["region"] for code, _ in form.region_code.choices):
            form.region_code.data = reading["region"]  # 省属 stays the user's choice

    @expose("/upload/<slot>", methods=["POST"])
    def upload(self, slot: str):
        """One document chosen on the page (JavaScript): checked and staged at once."""
        file = request.files.get("file")
        try:
            upload = staged.stage(slot, file.filename if file else "", file.read() if file else b"")
        except DomainError as error:
            return jsonify(ok=False, error=str(error)), 400
        return jsonify(ok=True, token=upload.token, ocr_state=upload.ocr_state)

    @expose("/reading/<token>")
    def reading(self, token: str):
        upload = staged.find(token, staged.LICENCE)
        if upload is None:
            return jsonify(ok=False, error=gettext("The upload has expired; please upload again.")), 404
        reading = staged.ocr_reading(upload)
        return jsonify(ok=True, ocr_state=upload.ocr_state, reading=reading,
                       problem=licence_problem(reading))

    @expose("/check-uscc", methods=["POST"])
    def check_uscc(self):
        """Whether the typed or read credit code can register (JavaScript, on each change)."""
        try:
            enterprises.check_new_uscc(request.form.get("uscc", "")[:32])
        except DomainError as error:
            return jsonify(ok=False, error=str(error))
        return jsonify(ok=True)

    @expose("/sms", methods=["POST"])
    def sms(self):
        uscc = request.form.get("uscc", "")[:32]
        if uscc:  # no code is sent for a registration that cannot succeed
            try:
                enterprises.check_new_uscc(uscc)
            except DomainError as error:
                return jsonify(ok=False, error=str(error)), 400
        return send_code_response(sms_codes.REGISTER)

    @expose("/commitment-letter.pdf")
    def commitment_template(self):
        return send_file(documents.commitment_letter_template(), mimetype="application/pdf",
                         download_name="企业承诺书模版.pdf", as_attachment=True)
