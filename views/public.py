"""Public pages (no sign-in): 证书查询 from the login page, and the verification pages the QR
codes on admission tickets and certificates point to. They show masked data only."""
from flask import Response, request
from flask_appbuilder import BaseView, expose

from app.integrations.pdf import qr_svg
from app.services import DomainError, assessments, certificates


class CertificateLookupView(BaseView):
    """证书查询 by certificate number and the holder's name, both required (no harvesting by
    number alone); any other combination gets the same 'not found'. Rate limited per address."""

    route_base = "/certificate-lookup"
    default_view = "index"

    @expose("/", methods=["GET", "POST"])
    def index(self):
        number = request.values.get("number", "").strip()
        name = request.values.get("name", "").strip()
        searched = request.method == "POST"
        certificate = certificates.lookup(number, name) if searched else None
        return self.render_template("public/lookup.html", number=number, name=name,
                                    searched=searched, certificate=certificate)


class VerifyView(BaseView):
    route_base = "/verify"
    default_view = "certificate"

    @expose("/certificate/<token>")
    def certificate(self, token):
        try:
            found = certificates.by_token(token)
        except DomainError:
            return self._unknown()
        return self.render_template("public/certificate.html", certificate=found)

    @expose("/certificate/<token>/qr.svg")
    def certificate_qr(self, token):
        try:
            found = certificates.by_token(token)
        except DomainError:
            return self._unknown()
        return Response(qr_svg(certificates.verify_url(found)), mimetype="image/svg+xml")

    @expose("/ticket/<token>")
    def ticket(self, token):
        try:
            found = assessments.ticket_by_token(token)
        except DomainError:
            return self._unknown()
        return self.render_template("public/ticket.html", ticket=found,
                                    assessment_state=found.assessment.state_label)

    def _unknown(self):
        return self.render_template("public/unknown.html"), 404
