"""企业 menu for an enterprise user: its basic information, review state, and 修改."""
from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.utils.limit import Limit
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField
from wtforms.validators import Length, Optional

from app.extensions import db
from app.services import DomainError, enterprises, sms_codes
from models.organisation import DocumentSlot, Enterprise
from models.states import ReviewState
from views.base import refuse_in_json, user_key
from views.registration import REQUIRED, city_choices, send_code_response


class ProfileForm(FlaskForm):
    contact_person = StringField(_l("Contact person"), validators=[REQUIRED, Length(max=32)])
    address = StringField(_l("Address"), validators=[REQUIRED, Length(max=256)])
    region_code = SelectField(_l("Region"), validators=[REQUIRED])
    province_owned = BooleanField(_l("Province-owned unit"))
    contact_mobile = StringField(_l("Contact mobile"), validators=[REQUIRED, Length(max=20)])
    sms_code = StringField(_l("Verification code"), validators=[Length(max=6)],
                           description=_l("Only needed when you change the mobile number."))
    # While not yet approved the registration details can be corrected too:
    name = StringField(_l("Enterprise name"), validators=[Optional(), Length(max=128)])
    enterprise_type = StringField(_l("Enterprise type"), validators=[Optional(), Length(max=64)])
    legal_representative = StringField(_l("Legal representative"),
                                       validators=[Optional(), Length(max=32)])
    registered_capital = StringField(_l("Registered capital"),
                                     validators=[Optional(), Length(max=64)])
    established = DateField(_l("Date of establishment"), validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.region_code.choices = city_choices()


def _mobile_code_limit() -> str:
    return current_app.config["MOBILE_CODE_RATE_LIMIT"]


def _not_mobile_code() -> bool:
    return request.endpoint != "MyEnterpriseView.mobile_code"


# The send-code button reads JSON, also when the limit refuses.
_TOO_MANY_CODES = refuse_in_json(_l("Too many verification codes were requested; please try "
                                    "again later."))


class MyEnterpriseView(BaseView):
    route_base = "/my/enterprise"
    default_view = "info"
    method_permission_name = {"info": "show", "edit": "edit", "mobile_code": "edit",
                              "sms_preference": "edit"}
    base_permissions = ["can_show", "can_edit"]
    # A code goes to whatever number is typed in: bounded per user and per address (SMS
    # pumping), as the registration page's codes are per address.
    limits = [Limit(_mobile_code_limit, key_func=key, methods=("POST",),
                    exempt_when=_not_mobile_code, on_breach=_TOO_MANY_CODES)
              for key in (user_key, get_remote_address)]

    def _enterprise(self) -> Enterprise:
        enterprise = db.session.get(Enterprise, g.user.enterprise_id) if g.user.enterprise_id else None
        if enterprise is None:
            abort(404)
        return enterprise

    @expose("/")
    @has_access
    def info(self):
        enterprise = self._enterprise()
        return self.render_template("my_enterprise.html", enterprise=enterprise,
                                    documents=enterprises.documents_of(enterprise),
                                    document_slots=DocumentSlot)

    @expose("/edit", methods=["GET", "POST"])
    @has_access
    def edit(self):
        enterprise = self._enterprise()
        state_before = enterprise.review_state
        approved = state_before == ReviewState.APPROVED.value
        form = ProfileForm(obj=None if request.method == "POST" else enterprise)
        if form.validate_on_submit():
            details = {} if approved else {
                name: getattr(form, name).data for name in
                ("name", "enterprise_type", "legal_representative", "registered_capital",
                 "established")}
            change = enterprises.ProfileChange(
                contact_person=form.contact_person.data, address=form.address.data,
                region_code=form.region_code.data, province_owned=form.province_owned.data,
                contact_mobile=form.contact_mobile.data, sms_code=form.sms_code.data or "",
                **details)
            files = {slot: (f.filename, f.read()) for slot in DocumentSlot
                     if (f := request.files.get(slot)) and f.filename}
            try:
                saved = enterprises.update_profile(enterprise.id, g.user, change, files)
            except DomainError as error:
                flash(str(error), "danger")
            else:
                if saved.review_state == ReviewState.PENDING.value != state_before:
                    flash(gettext("Saved. The enterprise goes to %(authority)s for review.",
                                  authority=saved.reviewing_authority.name), "warning")
                else:
                    flash(gettext("Saved."), "success")
                return redirect(url_for(".info"))
        return self.render_template("my_enterprise_edit.html", form=form, enterprise=enterprise,
                                    approved=approved, document_slots=DocumentSlot)

    @expose("/sms-preference", methods=["POST"])
    @has_access
    def sms_preference(self):
        """Informational SMS to the contact on or off; what needs action always comes."""
        enterprises.set_sms_opt_out(self._enterprise().id, request.form.get("opt_out") == "1")
        flash(gettext("Saved."), "success")
        return redirect(url_for(".info"))

    @expose("/mobile-code", methods=["POST"])
    @has_access
    def mobile_code(self):
        return send_code_response(sms_codes.CHANGE_MOBILE)
