"""订单: an enterprise makes an order for its trainees, pays it through Alipay, cancels it,
downloads its e-invoice; institutions, authorities and admins read orders in scope.
The payment notification endpoint is the one route without login or CSRF."""
from flask import Blueprint, abort, current_app, flash, g, redirect, request, send_file, url_for
from flask_appbuilder import expose, has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy.orm import joinedload

from app.extensions import csrf
from app.integrations.alipay import GatewayError
from app.scope import ROW_SCOPE, get_scoped
from app.services import DomainError, orders
from models.orders import Order, OrderStatus
from models.states import OrderState
from models.training import TrainingPlan
from views.base import EagerInterface, JianpeiModelView

ORDER_LABELS = {
    "out_trade_no": _l("Order number"),
    "plan": _l("Training plan"),
    "enterprise": _l("Enterprise"),
    # The list's text filters (models/orders.py) in place of dropdowns of thousands of rows.
    "enterprise_name": _l("Enterprise name"),
    "enterprise_uscc": _l("Unified social credit code"),
    "plan_institution": _l("Training institution"),
    "plan_occupation": _l("Occupation (trade)"),
    "trainees": _l("Trainees"),
    "fee": _l("Fee per trainee (yuan)"),
    "amount": _l("Amount (yuan)"),
    "status": _l("State"),
    "state": _l("State"),
    "created_at": _l("Created"),
    "expires_at": _l("Pay before"),
    "paid_at": _l("Paid at"),
    "trade_no": _l("Alipay trade number"),
    "refund_state": _l("Refund"),
    "refund_label": _l("Refund"),
    "refund_reason": _l("Refund reason"),
    "invoice": _l("E-invoice"),
}

STATE_STYLE = {OrderState.PENDING: "primary", OrderState.PAID: "success",
               OrderState.EXPIRED: "default", OrderState.CLOSED: "default"}


def status_html(status: OrderStatus) -> Markup:
    """An order's state as a label; a pending one counts down (orders/_countdown.html), a
    refund shows beside it."""
    html = Markup('<span class="label label-{}">{}</span>').format(
        STATE_STYLE[status.state], status.state.label)
    if status.state is OrderState.PENDING:
        left = status.seconds_left
        html += Markup(' <span class="order-countdown" data-seconds="{}">{}:{:02d}</span>')\
            .format(left, left // 60, left % 60)
    if status.refund_label:
        html += Markup(' <span class="label label-warning">{}</span>').format(status.refund_label)
    return html


def invoice_link(invoice) -> Markup:
    """An order's e-invoice number, linking to its download; blank before it is issued."""
    if invoice is None:
        return Markup("")
    href = url_for("OrderView.invoice", pk=invoice.order_id)
    return Markup('<a href="{}">{}</a>').format(href, invoice.number)


class OrderView(JianpeiModelView):
    route_base = "/orders"
    # Each row shows its plan (institution · occupation · level), enterprise and invoice.
    datamodel = EagerInterface(
        Order, load=(joinedload(Order.enterprise), joinedload(Order.invoice),
                     *TrainingPlan.label_load(Order.plan)))
    base_filters = ROW_SCOPE
    base_permissions = ["can_list", "can_show", "can_order", "can_invoice"]
    method_permission_name = {"create": "order", "pay": "order", "cancel": "order",
                              "paid_return": "order", "invoice": "invoice"}
    list_title = _l("Orders")
    show_title = _l("Order details")
    label_columns = ORDER_LABELS
    list_columns = ["out_trade_no", "plan", "enterprise", "trainees", "amount", "status",
                    "created_at", "paid_at", "invoice"]
    show_columns = ["out_trade_no", "plan", "enterprise", "trainees", "fee", "amount",
                    "status", "created_at", "expires_at", "paid_at", "trade_no",
                    "refund_reason", "invoice"]
    formatters_columns = {"status": status_html, "invoice": invoice_link}
    # An enterprise by its name or credit code, a plan by its institution or occupation: text
    # filters, since a dropdown of every enterprise or plan in scope (thousands for an admin or
    # the province) slows the page and is of no use to anyone.
    search_columns = ["out_trade_no", "enterprise_name", "enterprise_uscc", "plan_institution",
                      "plan_occupation", "state", "refund_state", "created_at", "paid_at"]
    base_order = ("created_at", "desc")
    list_template = "orders/list.html"
    show_template = "orders/show.html"

    def _get_show_widget(self, pk, item, **kwargs):
        widgets = super()._get_show_widget(pk, item, **kwargs)
        widgets["order"] = item
        widgets["shown_state"] = orders.shown_state(item).value
        return widgets

    @expose("/create/<int:plan_id>", methods=["POST"])
    @has_access
    def create(self, plan_id):
        try:
            order = orders.create_order(plan_id, g.user)
        except orders.TraineesNotReady as error:
            flash(str(error), "danger")
            for line in error.details():
                flash(line, "warning")
            return redirect(url_for("EnrolmentView.plan", plan_id=plan_id))
        except DomainError as error:
            flash(str(error), "danger")
            return redirect(url_for("EnrolmentView.plan", plan_id=plan_id))
        flash(gettext("Order created for %(n)s trainees. Please pay within %(minutes)s minutes; "
                      "after that it expires and the seats are released.", n=order.trainees,
                      minutes=current_app.config["ORDER_LIFETIME_MINUTES"]), "success")
        return redirect(url_for(".show", pk=order.id))

    @expose("/pay/<int:pk>", methods=["POST"])
    @has_access
    def pay(self, pk):
        # Not the enterprise's: 404; no longer payable: flashed on the page it came from
        # (app/errors.py answers every refusal a view does not catch).
        return redirect(orders.payment_url(pk, g.user,
                                           url_for(".paid_return", pk=pk, _external=True)))

    @expose("/cancel/<int:pk>", methods=["POST"])
    @has_access
    def cancel(self, pk):
        orders.cancel_order(pk, g.user)  # a refusal: app/errors.py
        flash(gettext("The order is cancelled and its seats are released."), "success")
        return redirect(url_for(".show", pk=pk))

    @expose("/return/<int:pk>")
    @has_access
    def paid_return(self, pk):
        """Alipay sends the browser back here; only the notification or a query marks paid."""
        order = orders.own_order(pk, g.user)
        try:
            order = orders.refresh_from_gateway(order.id)
        except GatewayError:
            order = orders.own_order(pk, g.user)
        if order.state == "paid":
            flash(gettext("Payment received. The e-invoice is issued the day after payment."),
                  "success")
        elif order.refund_state:
            flash(gettext("The payment arrived after the order had expired and the seats were "
                          "gone; it is refunded to your Alipay account."), "warning")
        else:
            flash(gettext("The payment has not been confirmed yet. This page shows the state "
                          "Alipay has reported; refresh it in a moment."), "info")
        return redirect(url_for(".show", pk=pk))

    @expose("/invoice/<int:pk>.pdf")
    @has_access
    def invoice(self, pk):
        order = get_scoped(Order, pk)
        if order.invoice is None:
            abort(404)
        from app.services import invoices

        return send_file(invoices.invoice_file(order.invoice), mimetype="application/pdf",
                         as_attachment=True, download_name=f"电子发票-{order.invoice.number}.pdf")


payments = Blueprint("payments", __name__)
# A real notification is under 4 KB; a larger body is refused (413) before it is parsed.
# The rate per address is PAYMENT_NOTIFY_RATE_LIMIT (app/menu.py applies it).
NOTIFY_MAX_BYTES = 16 * 1024


@payments.route("/pay/notify", methods=["POST"])
@csrf.exempt
def notify():
    """Alipay's asynchronous notification: no login, no CSRF; the RSA2 signature decides."""
    request.max_content_length = NOTIFY_MAX_BYTES  # also cuts off a body sent without a length
    if (request.content_length or 0) > NOTIFY_MAX_BYTES:
        abort(413)
    reply = orders.receive_notification(request.form.to_dict(), request.remote_addr)
    return reply, (200 if reply == "success" else 400), {"Content-Type": "text/plain"}
