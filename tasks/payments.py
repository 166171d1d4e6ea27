"""Order expiry and refunds: every minute, idempotent, safe to run twice at once."""
from huey import crontab

from tasks import huey, in_app_context


@huey.periodic_task(crontab(minute="*"))
@in_app_context
def expire_orders() -> dict:
    """Expire unpaid orders past their hour (seats released once) and retry refunds."""
    from app.services import orders

    return {"expired": orders.expire_due(), "refunded": orders.refund_pending()}


@huey.task(retries=3, retry_delay=60)
@in_app_context
def refund_order(order_id: int) -> bool:
    """Send a late payment back through the gateway; the minute task retries it too."""
    from app.services import orders

    return orders.refund(order_id)


@huey.task(retries=3, retry_delay=60)
@in_app_context
def close_trade(order_id: int) -> None:
    """Close a lapsed order's trade at the gateway (or take a payment that beat the close)."""
    from app.services import orders

    orders.close_at_gateway(order_id)
