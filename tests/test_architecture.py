"""Architecture rules that code review would otherwise have to remember.

* Nothing outside ``audit/tui/`` imports textual, so the engine, store, CLI and
  writers work (and start fast) without the UI.
* Nothing calls ``eval``/``exec`` or an unsafe YAML loader.
"""

from __future__ import annotations

import ast
import json
import os
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


# --- public names across modules; one writer of cases, answers and history ---------------------


def _defined_private_names(tree: ast.AST) -> set[str]:
    """Private names a module defines itself: functions, classes, class attributes, self.X assignments."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and \
                isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            names.add(node.attr)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    names.add(target.id)
    return {name for name in names if name.startswith("_")}


def private_reach_ins(path: Path) -> list[str]:
    """``from audit.x import _y``, and ``obj._y`` where this module defines no ``_y`` of its own."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = _defined_private_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "audit":
            found += [f"from {node.module} import {a.name}" for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if node.attr not in own and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append(f"._{node.attr.lstrip('_')}")
    return [f"{path.relative_to(PROJECT)}: {item}" for item in found]


#: reach-ins still to be removed; this set may only shrink (empty now: keep it so)
PENDING_REACH_INS: set[str] = set()


def test_modules_use_each_others_public_names_only():
    found = {item for path in ALL_SOURCES for item in private_reach_ins(path)}
    assert found - PENDING_REACH_INS == set(), "use a public name (or make one) instead of reaching into another module"
    assert PENDING_REACH_INS <= found, f"fixed: remove {sorted(PENDING_REACH_INS - found)} from PENDING_REACH_INS"


def test_the_reach_in_scan_catches_both_kinds(tmp_path):
    sample = PACKAGE / "_scan_sample.py"
    try:
        sample.write_text("from audit.store import _hidden\nclass A:\n    _mine = 1\n\ndef f(x, a):\n    return x._theirs, a._mine\n")
        assert sorted(item.split(": ", 1)[1] for item in private_reach_ins(sample)) == ["._theirs", "from audit.store import _hidden"]
    finally:
        sample.unlink()


WRITES = re.compile(r"\b(INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+(main\.)?\"?(answers|cases|history|answer_data|history_data|question_keys)\b", re.I)
#: the case service writes them; migrations create and backfill them
WRITERS = {PACKAGE / "cases.py", PACKAGE / "schema.py"}


@pytest.mark.parametrize("path", [p for p in ALL_SOURCES if p not in WRITERS], ids=lambda p: str(p.relative_to(PROJECT)))
def test_only_the_case_service_writes_cases_answers_and_history(path):
    text = path.read_text(encoding="utf-8")
    offending = [m.group(0) for m in WRITES.finditer(text)]
    assert offending == [], f"{path.relative_to(PROJECT)} writes {offending}: go through audit.cases.CaseService"


def test_the_writer_scan_sees_the_service_writing():
    text = (PACKAGE / "cases.py").read_text(encoding="utf-8")
    kinds = {m.group(4).lower() for m in WRITES.finditer(text)}
    assert kinds == {"answer_data", "cases", "history_data", "question_keys"}
    assert WRITES.search('conn.execute("UPDATE main.answers SET value = ?")')
    assert not WRITES.search('"UPDATE staged_cases SET kind = 1"')


def test_read_only_commands_never_write(tmp_path, thematic_rubric):
    """tabulate, export and backup on a database whose file and folder nobody may write."""
    from tests.test_store import make_audit_db, read_only, sha256

    folder = tmp_path / "stick"
    folder.mkdir()
    db = make_audit_db(folder / "site.db", thematic_rubric, cases=3)
    os.chmod(db, 0o444)
    with read_only(folder):
        before = sha256(db), sorted(os.listdir(folder))
        runs = [
            ["tabulate", str(db), "rosh"],
            ["export", "iom-thematic-2019", "--data", f"thematic={db}", "-o", str(tmp_path / "figures.csv")],
            ["backup", str(db), str(tmp_path / "copy.db")],
        ]
        for args in runs:
            result = subprocess.run([sys.executable, "-m", "audit.cli", *args], capture_output=True, text=True, cwd=PROJECT,
                                    timeout=120)
            assert result.returncode == 0, (args, result.stderr)
        assert (sha256(db), sorted(os.listdir(folder))) == before
