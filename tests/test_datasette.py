"""`audit datasette-metadata`: the metadata, and Datasette itself serving it on the demo databases.

The figure queries are checked against `audit export ... -o figures.csv` on
the same databases, through a real Datasette on a loopback port.
"""

from __future__ import annotations

import csv
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from audit.cli import main
from audit.datasette_meta import TABLES, tilde_encode
from audit.demo import write_demo
from audit.store import Store

PROJECT = Path(__file__).resolve().parent.parent
FIGURES = PROJECT / "exports" / "iom-thematic-2019.yaml"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("demo")
    write_demo(folder)
    return {"thematic": folder / "thematic.db", "core": folder / "core.db"}


@pytest.fixture(scope="module")
def metadata_file(demo, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("meta") / "metadata.yaml"
    assert main(["datasette-metadata", str(demo["thematic"]), str(demo["core"]), "--figures", str(FIGURES), "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def exported(demo, tmp_path_factory) -> list[dict[str, str]]:
    out = tmp_path_factory.mktemp("export") / "figures.csv"
    assert main(["export", str(FIGURES), "--data", f"thematic={demo['thematic']}", "--data", f"core={demo['core']}", "-o", str(out)]) == 0
    with out.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def datasette(demo, metadata_file):
    """A real Datasette on a free loopback port, serving both demo databases with the metadata; stopped after.

    Yields (base URL, the lines it has written to stderr so far, /-/versions.json).
    """
    for _ in range(3):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "datasette", "serve", str(demo["thematic"]), str(demo["core"]),
             "--metadata", str(metadata_file), "--host", "127.0.0.1", "--port", str(port),
             # the test machine is shared: allow slow answers (speed is benchmarks/' business, not a test's)
             "--setting", "sql_time_limit_ms", "60000", "--setting", "facet_time_limit_ms", "60000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        said: list[str] = []
        reader = threading.Thread(target=lambda: said.extend(process.stderr), daemon=True)
        reader.start()
        base = f"http://127.0.0.1:{port}"
        versions = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None and versions is None:
            try:
                with urllib.request.urlopen(f"{base}/-/versions.json", timeout=2) as response:
                    versions = json.load(response)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        if versions is not None:
            break
        process.kill()  # the port was taken meanwhile, or it did not start: try another
        process.wait(timeout=10)
    else:
        pytest.fail("Datasette did not start:\n" + "".join(said))
    try:
        yield base, said, versions
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        reader.join(timeout=10)
        process.stderr.close()


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return json.load(response)


# --- the metadata ----------------------------------------------------------------------------------------


def test_every_table_and_column_docs_database_md_names_is_described():
    docs = (PROJECT / "docs" / "database.md").read_text(encoding="utf-8")
    tables = re.findall(r"^\| `(\w+)` \| (?:one row per|setting|rubric|question|answer|case|change|source)", docs, re.M)
    assert {"meta", "rubrics", "questions", "options", "cases", "answers", "history", "merges"} <= set(tables)
    assert set(tables) <= set(TABLES)
    for table in ("cases", "answers", "answers_readable"):
        heading = f"### `{table}`" if table != "answers_readable" else "The view **`answers_readable`**"
        section = docs.split(heading, 1)[1].split("\n#", 1)[0]
        documented = set()
        for cell in re.findall(r"^\| ((?:`\w+`(?:, )?)+) \|", section, re.M):
            documented |= set(re.findall(r"`(\w+)`", cell))
        assert documented, table
        assert documented <= set(TABLES[table].columns), (table, documented - set(TABLES[table].columns))


def test_every_description_names_a_column_a_database_has(tmp_path):
    store = Store.open(tmp_path / "fresh.db")
    try:
        for table, doc in TABLES.items():
            columns = [row[1] for row in store.conn.execute(f'PRAGMA table_info("{table}")')]
            assert columns, f"no table or view {table}"
            assert set(doc.columns) <= set(columns), (table, set(doc.columns) - set(columns))
            for column in [doc.label_column, doc.sort, doc.sort_desc, *doc.facets]:
                assert column is None or column in columns, (table, column)
    finally:
        store.close()


def test_the_metadata_file(metadata_file, demo):
    text = metadata_file.read_text(encoding="utf-8")
    assert text.startswith("# Datasette 0.65 metadata")
    data = yaml.safe_load(text)
    assert list(data["databases"]) == ["thematic", "core"]
    thematic, core = data["databases"]["thematic"], data["databases"]["core"]
    assert 'Start with <a href="/thematic/answers_readable">answers_readable</a>' in thematic["description_html"]
    assert thematic["tables"]["cases"]["label_column"] == "case_ref"
    assert thematic["tables"]["rubrics"]["label_column"] == "title"
    assert thematic["tables"]["answers_readable"]["facets"] == ["site", "section", "question_id", "state", "counted"]
    assert thematic["tables"]["answers"]["columns"]["counted"].startswith("1 when this answer is in the base")
    # one query per figure with a column in the database's dataset
    assert list(thematic["queries"]) == ["figure_4_1", "figure_4_2", "figure_4_3", "figure_4_4", "figure_4_5", "figure_4_6",
                                         "figure_4_7", "figure_4_8", "figure_4_9", "figure_5_1", "figure_A2"]
    assert list(core["queries"]) == ["figure_2_2", "figure_4_3", "figure_4_6", "figure_5_2"]
    assert "other column is in the database of its own dataset" in core["queries"]["figure_4_3"]["description"]
    assert "where iom_status == \"yes\"" in core["queries"]["figure_2_2"]["description"]
    assert "sql: |" in text  # the SQL is a readable block
    assert oct(metadata_file.stat().st_mode & 0o777) == "0o600"


def test_the_command_says_how_to_serve_and_never_suggests_immutable(demo, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["datasette-metadata", str(demo["thematic"]), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"browse read-only with: datasette serve {demo['thematic']} --metadata {out}" in printed
    assert " -i" not in printed and "immutable" not in printed
    data = json.loads(out.read_text())
    assert "queries" not in data["databases"]["thematic"]


def test_two_datasets_of_one_rubric_are_refused(demo, tmp_path, capsys):
    figures = tmp_path / "twice.yaml"
    figures.write_text(
        "id: twice\ntitle: Before and after\ndatasets:\n"
        "  before: {rubric: iom-thematic-2019, label: Before}\n  after: {rubric: iom-thematic-2019, label: After}\n"
        "figures:\n  - id: '1'\n    title: Lead\n    columns: [{dataset: before, label: B}, {dataset: after, label: A}]\n"
        "    rows: [{options: lead_agency}]\n"
    )
    assert main(["datasette-metadata", str(demo["thematic"]), "--figures", str(figures), "-o", str(tmp_path / "m.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "datasets 'before' and 'after' of" in err and "both use rubric iom-thematic-2019" in err
    assert not (tmp_path / "m.yaml").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["{tmp}/missing.db"], "missing.db: does not exist; check the path"),
    (["{tmp}/notdb.db"], "notdb.db: is not an audit database"),
    (["{thematic}", "{tmp}/copy/thematic.db"], "has the same name in Datasette ('thematic') as"),
    (["{thematic}", "--figures", "{tmp}/nofigures.yaml"], "nofigures.yaml: file not found"),
])
def test_bad_input_gets_one_line(demo, tmp_path, capsys, args, message):
    (tmp_path / "notdb.db").write_text("hello")
    (tmp_path / "copy").mkdir()
    if any("copy" in a for a in args):
        from audit.backup import backup_database

        backup_database(demo["thematic"], tmp_path / "copy" / "thematic.db")
    values = {"tmp": tmp_path, "thematic": demo["thematic"]}
    argv = ["datasette-metadata", *[a.format(**values) for a in args], "-o", str(tmp_path / "m.yaml")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "m.yaml").exists()


# --- Datasette itself ----------------------------------------------------------------------------------------


def test_datasette_starts_with_the_metadata_without_a_warning(datasette, metadata_file):
    base, said, versions = datasette
    assert versions["datasette"]["version"].startswith("0.65.")
    served = get_json(f"{base}/-/metadata.json")
    assert served == yaml.safe_load(metadata_file.read_text(encoding="utf-8"))
    for database in ("thematic", "core"):
        for table in TABLES:
            assert "rows" in get_json(f"{base}/{database}/{table}.json?_size=1")
        readable = get_json(f"{base}/{database}/answers_readable.json?_size=1")
        assert list(readable["facet_results"]) == ["site", "section", "question_id", "state", "counted"]
        page = urllib.request.urlopen(f"{base}/{database}", timeout=30).read().decode()
        assert f'href="/{database}/answers_readable"' in page
    # having read the metadata and served every table, it has said nothing but that it started
    lines = [line for line in said if line.strip()]
    assert lines and all(line.startswith("INFO:") for line in lines), "".join(said)
    assert not re.search(r"warn|error|traceback|exception", "".join(said), re.I), "".join(said)


def figure_cells(exported: list[dict[str, str]], figure_columns: dict[str, set[str]]) -> dict[str, list[tuple]]:
    cells: dict[str, list[tuple]] = {}
    for row in exported:
        if row["column"] in figure_columns.get(row["figure"], set()):
            cells.setdefault(row["figure"], []).append(
                (row["section"], row["row"], row["column"], int(row["count"]),
                 int(row["base"]) if row["base"] else None, int(row["percent"]) if row["percent"] else None))
    return cells


def test_each_figure_query_gives_the_counts_bases_and_percentages_of_audit_export(datasette, metadata_file, exported):
    base, _, _ = datasette
    from audit.figures import load_report

    report = load_report(FIGURES)
    metadata = yaml.safe_load(metadata_file.read_text(encoding="utf-8"))
    compared = 0
    for database, rubric_id in (("thematic", "iom-thematic-2019"), ("core", "hmip-core-2018")):
        columns = {f.id: {c.label for c in f.columns if report.datasets[c.dataset].rubric_id == rubric_id} for f in report.figures}
        expected = figure_cells(exported, columns)
        queries = metadata["databases"][database]["queries"]
        assert len(queries) == len(expected)
        for name, query in queries.items():
            figure_id = next(f.id for f in report.figures if f.heading == query["title"])
            rows = get_json(f"{base}/{tilde_encode(database)}/{name}.json?_shape=array")
            got = [(r["section"], r["row"], r["column"], r["count"], r["base"], r["percent"]) for r in rows]
            assert got == expected[figure_id], (database, figure_id)
            compared += len(got)
    # every cell of every figure, each from the database of its dataset (the export's quoted numbers, figure Q, have no query)
    assert compared == len([row for row in exported if row["figure"] != "Q"])
    # the report's own numbers, for instance figure 4.1: one lead professional of 60 was from the police
    rows = get_json(f"{base}/thematic/figure_4_1.json?_shape=array")
    assert ("Police", 1, 60, 2) in [(r["row"], r["count"], r["base"], r["percent"]) for r in rows]
