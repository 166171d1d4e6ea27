"""pytest-xdist's workers each collect the suite and refuse to start when their test names differ,
so a test's parameters must not depend on when they are built: an archive made at collection
time once named its tests after the second it was made, and a run failed at random."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Collection as a worker does it, with the clock moved on three days and seven seconds: zipfile,
# openpyxl's document properties and anything else that reads time.time() sees another time.
_COLLECT = """
import sys, time
if sys.argv[1] == "later":
    _now = time.time
    time.time = lambda: _now() + 3 * 86400 + 7
import pytest
sys.exit(pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]))
"""


def _collect(when: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _COLLECT, when], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _names(process: subprocess.Popen) -> list[str]:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-2000:] or out[-2000:]
    return [line for line in out.splitlines() if "::" in line]


def test_the_suite_collects_the_same_tests_at_any_time():
    now, later = _collect("now"), _collect("later")
    names_now, names_later = _names(now), _names(later)
    assert len(names_now) > 900
    assert [n for n in names_now if n not in set(names_later)] == []
    assert names_now == names_later
