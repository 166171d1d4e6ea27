"""The one clock. Every rule asks now() so tests and the demo can move time."""
import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app


def now() -> dt.datetime:
    """Local (China Standard Time) naive datetime, shifted by CLOCK_OFFSET_SECONDS."""
    config = current_app.config
    frozen = config.get("CLOCK_FROZEN_AT")
    if frozen is not None:
        return frozen
    wall = dt.datetime.now(ZoneInfo(config["TIMEZONE"])).replace(tzinfo=None, microsecond=0)
    return wall + dt.timedelta(seconds=config["CLOCK_OFFSET_SECONDS"])


def today() -> dt.date:
    return now().date()
