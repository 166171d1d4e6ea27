"""The run's environment and constants. Imported before the app: the environment it sets (a
temporary instance folder, no production settings, PostgreSQL by default) is the one the
in-process app and the servers are built in."""
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="jianpei-load-"))
# This run's instance folder (uploads, the in-process app's files), for us and the servers.
os.environ["JIANPEI_INSTANCE"] = str(TMP / "instance")
for _key in ("JIANPEI_ENV", "JIANPEI_CONFIG", "HUEY_SQLITE_PATH", "UPLOAD_DIR"):
    os.environ.pop(_key, None)  # as on this machine: not production, local files under TMP
os.environ.setdefault("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")

BIN = Path(sys.executable).parent
PASSWORD = "Bench@12345"
TARGET_P95_MS = 150.0
PAGE_KINDS = ("home", "open_plans", "enrol", "trainees", "orders", "order_show")
ACTION_KINDS = ("order_create", "order_cancel")
KIND_ORDER = ("login",) + PAGE_KINDS + ACTION_KINDS + ("photo",)
# The simulated users run as threads in this many client processes (bench/load.py --processes).
DEFAULT_CLIENT_PROCESSES = 5
P_ORDER, P_CANCEL = 0.5, 0.3  # per round: try 生成订单 when offered; cancel a held order
