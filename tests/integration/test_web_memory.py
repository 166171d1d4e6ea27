"""Issue 19: the OCR engine (RapidOCR on onnxruntime, a few hundred MB) lives in task workers
only. A web worker imports run.py and builds the app (gunicorn.conf.py, no preload): neither
may import it, or every gunicorn worker would carry the models (bench/memory.py measures it)."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OCR_MODULES = ("rapidocr", "onnxruntime", "cv2")

PROBE = f"""
import json, sys
import run
from app import create_app
create_app()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {OCR_MODULES!r})))
"""


def test_a_web_worker_does_not_import_the_ocr_engine(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "JIANPEI_CONFIG")}
    env.update(JIANPEI_INSTANCE=str(tmp_path), HUEY_SQLITE_PATH=str(tmp_path / "huey.db"))
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
