"""The layers hold (pyproject.toml [tool.importlinter]): views above services above models;
services, the row scope, the permission matrix, the CLI, tasks, integrations and models import
no view; integrations import no service or model (but the exceptions named there)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "views", "models", "tasks")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(where: Path) -> subprocess.CompletedProcess:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: pip install import-linter")
    return subprocess.run([str(LINT_IMPORTS), str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=where, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_are_kept():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module, forbidden", [
    ("app/services/roles.py", "from views.home import HomeView"),  # a service using a view
    ("models/orders.py", "from app.services import orders"),  # a model using a service
    ("app/scope.py", "from app import menu"),  # the core reaching every view via the menu
    ("app/integrations/alipay.py", "from models.orders import Order"),
])
def test_a_forbidden_import_breaks_a_contract(tmp_path, module, forbidden):
    """The contracts catch what they forbid: the same packages with one import added fail."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("static", "templates", "__pycache__"))
    copied = tmp_path / module
    copied.write_text(copied.read_text(encoding="utf-8") + f"\n{forbidden}  # noqa\n",
                      encoding="utf-8")
    result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout
