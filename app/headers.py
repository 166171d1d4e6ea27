"""Security headers on every response, set by one after-request hook.

- No page can be framed (frame-ancestors 'none', X-Frame-Options DENY): pay, cancel and approve
  buttons cannot be clickjacked. Nothing is MIME-sniffed (an uploaded picture stays a picture).
- The Content-Security-Policy admits our own assets only. Scripts run from our origin or carry
  this request's nonce (Flask-AppBuilder's templates and ours ask for it with `csp_nonce()`);
  inline event handlers and javascript: URLs do not run. The one exception is the admins' data
  console: Flask-Admin's own templates confirm deletes and run list actions from inline onclick
  handlers, so /console allows inline scripts. Inline styles are allowed everywhere (style
  attributes, the select2 and datepicker widgets).
- Forms may post to us, and the pay button to the Alipay gateway and the cashier it sends the
  browser on to.
- No full URL (with ids) leaves for another site in a Referer. HSTS in production.
- A signed-in user's pages and files are never stored by the browser or a proxy: they hold full
  ID numbers, photos and invoices (static assets excepted).
"""
import secrets
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request
from flask_login import current_user

from app.assets import is_static
from app.config_loader import PRODUCTION
from app.console import CONSOLE_URL
from app.integrations import alipay

HSTS = "max-age=31536000"  # one year; production is served over https only
REFERRER_POLICY = "same-origin"
# Where Alipay's gateway sends the browser after our pay form (its cashier, its sign-in).
PAYMENT_DOMAINS = {"sandbox": "https://*.alipaydev.com", "production": "https://*.alipay.com"}


def csp_nonce() -> str:
    """This request's script nonce (one per request, unguessable)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def content_security_policy() -> str:
    if request.path == CONSOLE_URL or request.path.startswith(CONSOLE_URL + "/"):
        scripts = "'self' 'unsafe-inline'"
    else:
        scripts = f"'self' 'nonce-{csp_nonce()}'"
    gateway = urlsplit(alipay.gateway_url())
    forms = ["'self'", f"{gateway.scheme}://{gateway.netloc}"]
    if current_app.config["ALIPAY_GATEWAY"] in PAYMENT_DOMAINS:
        forms.append(PAYMENT_DOMAINS[current_app.config["ALIPAY_GATEWAY"]])
    return "; ".join((
        "default-src 'self'",
        f"script-src {scripts}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        f"form-action {' '.join(forms)}",
        "frame-ancestors 'none'",
    ))


def _static() -> bool:
    endpoint = request.endpoint or ""
    return endpoint == "favicon" or is_static(endpoint)


def register(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        headers["Content-Security-Policy"] = content_security_policy()
        headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = REFERRER_POLICY
        if current_app.config["JIANPEI_ENV"] == PRODUCTION:
            headers["Strict-Transport-Security"] = HSTS
        if not _static() and ("Authorization" in request.headers
                              or current_user.is_authenticated):
            headers["Cache-Control"] = "no-store"
            headers.pop("Expires", None)
        return response
