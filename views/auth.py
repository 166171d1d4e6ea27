"""Sign-in and passwords: the login page with its tabs, 忘记密码 (SMS) and 修改密码."""
from flask import flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.views import AuthDBView, ResetMyPasswordView
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from app.services import DomainError, accounts


class JianpeiAuthDBView(AuthDBView):
    """FAB's login, on our page: 企业 and 管理部门/培训机构 tabs, registration and reset links."""

    login_template = "login.html"
    title = _l("Sign in")

    @expose("/logout/", methods=["GET", "POST"])
    def logout(self):
        """退出登录 ends every session and API token of the account (accounts.sign_out), so only
        the menu's form does it: a POST with the CSRF token. A link or an image on another site
        cannot sign anybody out; a GET (typed, bookmarked) asks first."""
        if request.method == "POST":
            return super().logout()
        if not current_user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login)
        return self.render_template("logout.html", title=_l("Sign out"))


class ChangePasswordForm(DynamicForm):
    old_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(_l("New password"), validators=[DataRequired()],
                             description=_l("At least 8 characters."))
    conf_password = PasswordField(_l("Confirm new password"), validators=[DataRequired()])


class ChangeMyPasswordView(ResetMyPasswordView):
    """修改密码 (top right): the old password is required and other sessions end."""

    form = ChangePasswordForm
    form_title = _l("Change password")
    class_permission_name = "ResetMyPasswordView"

    def form_post(self, form):
        # The user row itself: g.user is Flask-Login's proxy, and logging the proxy in would
        # make current_user refer to itself.
        user = self.appbuilder.sm.get_user_by_id(g.user.id)
        try:
            accounts.change_password(user, form.old_password.data, form.password.data,
                                     form.conf_password.data)
        except DomainError as error:
            flash(str(error), "danger")
            return redirect(url_for(".this_form_get"))
        login_user(user)  # this session carries on under the new session version
        flash(gettext("Password changed."), "info")
        return None


class ForgotPasswordForm(FlaskForm):
    uscc = StringField(_l("Unified social credit code"), validators=[DataRequired()])
    mobile = StringField(_l("Contact mobile"), validators=[DataRequired()])
    sms_code = StringField(_l("Verification code"))
    password = PasswordField(_l("New password"), description=_l("At least 8 characters."))
    conf_password = PasswordField(_l("Confirm new password"))


class ForgotPasswordView(BaseView):
    """忘记密码: an enterprise proves its contact mobile with a code, then sets a new password."""

    route_base = "/forgot-password"
    default_view = "index"

    @expose("/", methods=["GET", "POST"])
    def index(self):
        form = ForgotPasswordForm()
        if form.validate_on_submit():
            try:
                if request.form.get("action") == "send":
                    accounts.send_reset_code(form.uscc.data, form.mobile.data)
                    flash(gettext("If the credit code and mobile number match, a verification "
                                  "code has been sent to that mobile."), "info")
                else:
                    accounts.reset_password(form.uscc.data, form.mobile.data, form.sms_code.data,
                                            form.password.data, form.conf_password.data)
                    flash(gettext("The password has been reset. Please sign in with the new one."),
                          "info")
                    return redirect(self.appbuilder.get_url_for_login)
            except DomainError as error:
                flash(str(error), "danger")
        return self.render_template("forgot_password.html", form=form)
