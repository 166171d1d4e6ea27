"""The two dependency locks: requirements.txt is what production installs (`make serve-prod`), so it
holds every package the app, its workers, CLI and gunicorn need and none the tests alone need;
requirements-test.txt adds the tests' packages. Both are fully pinned, transitive ones included."""
import ast
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = ROOT / "requirements.txt"
TEST_LOCK = ROOT / "requirements-test.txt"
# The code production runs: the app, its views and models, the task workers, the CLI, migrations.
RUNTIME_CODE = ["app", "views", "models", "tasks", "migrations", "config.py", "run.py", "gunicorn.conf.py"]
FIRST_PARTY = {"app", "views", "models", "tasks", "config", "run", "tests", "bench"}
# Packages only the tests use: production must not install them.
TEST_ONLY = {"pytest", "iniconfig", "pluggy", "playwright", "greenlet", "moto", "responses",
             "cfn-lint", "sympy", "mpmath", "docker", "aws-xray-sdk", "py-partiql-parser", "pypdf",
             "import-linter", "grimp", "rich", "openapi-spec-validator", "flask-cors", "pydantic",
             "networkx", "joserfc", "graphql-core", "xmltodict"}
# Needed at run time although no runtime module imports them by name.
RUN_BY_NAME = {
    "gunicorn": "the web server (deploy/serve-prod.sh, gunicorn.conf.py)",
    "huey": "huey_consumer, the worker",
    "redis": "huey on Redis and the rate-limit counters (REDIS_URL)",
    "psycopg-binary": "psycopg's libpq on hosts without libpq installed",
    "babel": "pybabel compiles the translations (`make serve-prod`)",
}
# Extras asked for at the top of a lock rather than by another package.
TOP_LEVEL_EXTRAS = {"moto": {"s3", "server"}}


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in _lines(path):
        if line.startswith("-r "):
            continue
        name, _, version = line.partition("==")
        pins[_name(name)] = version
    return pins


def _imported_modules() -> dict[str, set[str]]:
    """Top-level module name -> the runtime files that import it (lazy imports included)."""
    files = []
    for entry in RUNTIME_CODE:
        path = ROOT / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    modules: dict[str, set[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                modules.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return {name: where for name, where in modules.items()
            if name not in sys.stdlib_module_names and name not in FIRST_PARTY}


def test_every_line_is_pinned():
    for path in (RUNTIME_LOCK, TEST_LOCK):
        for line in _lines(path):
            if path == TEST_LOCK and line == "-r requirements.txt":
                continue
            assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!-]+", line), (
                f"{path.name}: {line!r} is not pinned as name==version")
    assert _lines(TEST_LOCK)[0] == "-r requirements.txt"  # the tests run on the runtime lock


def test_the_locks_do_not_overlap():
    both = set(_pins(RUNTIME_LOCK)) & set(_pins(TEST_LOCK))
    assert not both, f"pinned in both files (keep runtime pins in requirements.txt only): {both}"


def test_production_installs_no_test_package():
    runtime = _pins(RUNTIME_LOCK)
    leaked = sorted(name for name in TEST_ONLY if name in runtime)
    assert not leaked, f"test-only packages in requirements.txt: {leaked}"
    assert {"pytest", "playwright", "moto", "import-linter"} <= set(_pins(TEST_LOCK))


def test_every_package_the_runtime_code_imports_is_in_the_runtime_lock():
    runtime = _pins(RUNTIME_LOCK)
    providers = metadata.packages_distributions()
    modules = _imported_modules()
    assert {"flask", "huey", "sqlalchemy", "rapidocr", "PIL"} <= set(modules)  # the scan sees imports
    missing = []
    for module, where in sorted(modules.items()):
        distributions = {_name(dist) for dist in providers.get(module, [])}
        if not distributions & set(runtime):
            missing.append(f"{module} ({', '.join(sorted(distributions)) or 'not installed'}; "
                           f"imported by {', '.join(sorted(where))})")
    assert not missing, "imported at run time but not in requirements.txt: " + "; ".join(missing)
    for name, why in RUN_BY_NAME.items():
        assert name in runtime, f"requirements.txt lacks {name}: {why}"


def _unpinned_requirements(pins: dict[str, str]) -> list[str]:
    """Requirements of the pinned packages (as installed here) that no pin satisfies."""
    extras = {name: set(TOP_LEVEL_EXTRAS.get(name, ())) for name in pins}
    problems, todo, seen = [], list(pins), set()
    while todo:
        name = todo.pop()
        key = (name, frozenset(extras[name]))
        if key in seen:
            continue
        seen.add(key)
        for text in metadata.distribution(name).requires or []:
            requirement = Requirement(text)
            environments = [{"extra": extra} for extra in {"", *extras[name]}]
            if requirement.marker and not any(requirement.marker.evaluate(env) for env in environments):
                continue
            wanted = _name(requirement.name)
            if wanted not in pins:
                problems.append(f"{name} needs {requirement} (not pinned)")
            elif not requirement.specifier.contains(pins[wanted], prereleases=True):
                problems.append(f"{name} needs {requirement}, pinned {pins[wanted]}")
            else:
                if not requirement.extras <= extras[wanted]:
                    extras[wanted] |= requirement.extras
                todo.append(wanted)
    return sorted(set(problems))


def test_the_runtime_lock_holds_its_transitive_dependencies():
    problems = _unpinned_requirements(_pins(RUNTIME_LOCK))
    assert not problems, "requirements.txt: " + "; ".join(problems)


def test_the_test_lock_holds_its_transitive_dependencies():
    problems = _unpinned_requirements({**_pins(RUNTIME_LOCK), **_pins(TEST_LOCK)})
    assert not problems, "requirements-test.txt: " + "; ".join(problems)
