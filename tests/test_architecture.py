"""Architecture rules that code review would otherwise have to remember.

* Nothing outside ``audit/tui/`` imports textual, so the engine, store, CLI and
  writers work (and start fast) without the UI.
* Nothing calls ``eval``/``exec`` or an unsafe YAML loader.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
PACKAGE = PROJECT / "audit"
TUI = PACKAGE / "tui"
ALL_SOURCES = sorted(PACKAGE.rglob("*.py"))
NON_UI_SOURCES = [path for path in ALL_SOURCES if TUI not in path.parents]


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) for every import statement, and every import_module/__import__ of a literal."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return found


def test_the_scan_sees_the_package():
    names = {module_name(path) for path in NON_UI_SOURCES}
    assert {"audit.cli", "audit.store", "audit.engine", "audit.rubric", "audit.rules", "audit.counting", "audit.values"} <= names
    assert not any(name.startswith("audit.tui") for name in names)
    # the scanner itself finds a textual import when there is one
    sample = ast.parse("import os\nfrom textual.app import App\nimportlib.import_module('textual.widgets')\n")
    assert [m for _, m in imported_modules(sample) if m.split(".")[0] == "textual"] == ["textual.app", "textual.widgets"]


@pytest.mark.parametrize("path", NON_UI_SOURCES, ids=lambda p: str(p.relative_to(PROJECT)))
def test_no_module_outside_audit_tui_imports_textual(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    offending = [f"{path.relative_to(PROJECT)}:{line} imports {name}" for line, name in imported_modules(tree) if name.split(".")[0] == "textual"]
    assert offending == [], "only audit/tui/ may import textual"


def _modules_to_import() -> list[str]:
    core = ["audit.cli", "audit.store", "audit.engine", "audit.rubric", "audit.rules", "audit.counting", "audit.values"]
    commands = [module_name(path) for path in sorted((PACKAGE / "commands").glob("*.py")) if path.stem != "tui"]
    others = [module_name(path) for path in NON_UI_SOURCES if module_name(path) not in [*core, *commands, "audit.commands.tui"]]
    return core + commands + others


def test_importing_everything_but_the_ui_does_not_load_textual():
    modules = _modules_to_import()
    assert "audit.commands.rubric" in modules and "audit.commands.tui" not in modules
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_running_rubric_check_does_not_load_textual():
    rubric = PROJECT / "rubrics" / "iom-thematic-2019.yaml"
    script = (
        "import json, sys\n"
        "from audit.cli import main\n"
        f"code = main(['rubric', 'check', {str(rubric)!r}])\n"
        "print(json.dumps([code, 'textual' in sys.modules]))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [0, False]


def test_the_ui_itself_does_load_textual():
    """The subprocess check above can tell: importing the UI module does bring textual in."""
    script = "import sys, audit.tui.app\nprint('textual' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT, timeout=120)
    if result.returncode != 0:
        pytest.skip(f"audit.tui.app does not import yet: {result.stderr.strip().splitlines()[-1:]}")
    assert result.stdout.strip() == "True"


# --- no eval, exec or unsafe YAML -------------------------------------------------------------

FORBIDDEN_TEXT = re.compile(r"\b(eval|exec)\(|yaml\.(load|unsafe_load|full_load|load_all|unsafe_load_all)\(|yaml\.(Unsafe|Full)?Loader\b")


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """Source lines with comments and string literals blanked, so prose may mention eval."""
    lines: dict[int, list[str]] = {}
    with open(path, "rb") as handle:
        for token in tokenize.tokenize(handle.readline):
            if token.type in (tokenize.COMMENT, tokenize.STRING, tokenize.ENCODING) or token.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
                continue
            lines.setdefault(token.start[0], []).append(token.string)
    return [(number, "".join(parts)) for number, parts in sorted(lines.items())]


@pytest.mark.parametrize("path", ALL_SOURCES, ids=lambda p: str(p.relative_to(PROJECT)))
def test_no_eval_exec_or_unsafe_yaml(path):
    offending = [f"{path.relative_to(PROJECT)}:{n}: {line.strip()}" for n, line in _code_lines(path) if FORBIDDEN_TEXT.search(line)]
    assert offending == []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in ("eval", "exec"):
                calls.append(f"{node.lineno}: {func.id}()")
            if isinstance(func, ast.Attribute) and func.attr in ("load", "unsafe_load", "full_load", "load_all") and \
                    isinstance(func.value, ast.Name) and func.value.id == "yaml":
                calls.append(f"{node.lineno}: yaml.{func.attr}()")
    assert calls == []


def test_the_eval_scan_would_catch_a_call(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""Never eval( anything."""\nx = 1  # not exec(\ny = eval(text)\n')
    assert [n for n, line in _code_lines(sample) if FORBIDDEN_TEXT.search(line)] == [3]
    assert FORBIDDEN_TEXT.search("value = eval(text)")
    assert FORBIDDEN_TEXT.search("data = yaml.load(handle)")
    assert FORBIDDEN_TEXT.search("yaml.load(text, Loader=yaml.Loader)")
    assert not FORBIDDEN_TEXT.search("tree = ast.literal_eval(text)")
    assert not FORBIDDEN_TEXT.search("data = yaml.safe_load(text)")
