"""The database schema: numbered migrations, and the allow-list every opened file is held to.

Every table, index and view is created by a migration written as literal SQL,
so that the text SQLite stores in ``sqlite_master`` is the same for every file
at a given schema version, whatever library version wrote it. That text is
the allow-list: :func:`unexpected_objects` compares a file's ``sqlite_master``
with what the migrations create and names anything else (a trigger, an extra
view, an altered table) before the tool writes a byte. See
``docs/database.md``, "What the tool refuses to open".
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import secrets
import sqlite3
from typing import Any, Callable

APPLICATION_ID = 0x41756474  # "Audt": marks a file as ours before any table is read
SCHEMA_VERSION = 6

#: internal tables SQLite itself may add (ANALYZE statistics); holding no code, they are allowed
SQLITE_INTERNAL = ("sqlite_stat1", "sqlite_stat4", "sqlite_sequence")

_MIGRATION_1 = [
    'CREATE TABLE "meta" (\n   "key" TEXT PRIMARY KEY,\n   "value" TEXT\n)',
    'CREATE TABLE "rubrics" (\n   "sha256" TEXT PRIMARY KEY,\n   "rubric_id" TEXT NOT NULL,\n   "version" TEXT NOT NULL,\n'
    '   "title" TEXT,\n   "text" TEXT NOT NULL,\n   "added_at" TEXT\n)',
    'CREATE TABLE "questions" (\n   "rubric_sha256" TEXT REFERENCES "rubrics"("sha256"),\n   "question_id" TEXT,\n'
    '   "position" INTEGER,\n   "section_id" TEXT,\n   "section_title" TEXT,\n   "type" TEXT,\n   "text" TEXT,\n'
    '   "required" INTEGER,\n   "applies_if" TEXT,\n   PRIMARY KEY ("rubric_sha256", "question_id")\n)',
    'CREATE TABLE "options" (\n   "rubric_sha256" TEXT REFERENCES "rubrics"("sha256"),\n   "question_id" TEXT,\n'
    '   "code" TEXT,\n   "label" TEXT,\n   "counts" INTEGER,\n   "position" INTEGER,\n'
    '   PRIMARY KEY ("rubric_sha256", "question_id", "code")\n)',
    'CREATE TABLE "cases" (\n   "uuid" TEXT PRIMARY KEY,\n   "case_ref" TEXT NOT NULL,\n   "site" TEXT NOT NULL,\n'
    '   "inspector" TEXT,\n   "status" TEXT NOT NULL DEFAULT \'in_progress\',\n   "created_at" TEXT NOT NULL,\n'
    '   "updated_at" TEXT NOT NULL,\n   "rubric_id" TEXT NOT NULL,\n   "rubric_version" TEXT NOT NULL,\n'
    '   "rubric_sha256" TEXT NOT NULL REFERENCES "rubrics"("sha256"),\n   "applicable_count" INTEGER DEFAULT 0,\n'
    '   "answered_count" INTEGER DEFAULT 0,\n   "origin_db" TEXT,\n   "origin_file" TEXT\n)',
    'CREATE INDEX "idx_cases_site_case_ref"\n    ON "cases" ("site", "case_ref")',
    'CREATE INDEX "idx_cases_updated_at_uuid"\n    ON "cases" ("updated_at", "uuid")',
    'CREATE TABLE "answers" (\n   "case_uuid" TEXT REFERENCES "cases"("uuid"),\n   "question_id" TEXT,\n   "value" TEXT,\n'
    '   "note" TEXT,\n   "answered_by" TEXT,\n   "answered_at" TEXT,\n   "state" TEXT NOT NULL DEFAULT \'current\',\n'
    '   "applies" INTEGER NOT NULL DEFAULT 0,\n   "counted" INTEGER NOT NULL DEFAULT 0,\n'
    '   PRIMARY KEY ("case_uuid", "question_id")\n)',
    'CREATE INDEX "idx_answers_question_id_counted"\n    ON "answers" ("question_id", "counted")',
    'CREATE TABLE "history" (\n   "id" INTEGER PRIMARY KEY,\n   "case_uuid" TEXT NOT NULL,\n   "question_id" TEXT,\n'
    '   "field" TEXT NOT NULL,\n   "old_value" TEXT,\n   "new_value" TEXT,\n   "changed_by" TEXT,\n'
    '   "changed_at" TEXT NOT NULL,\n   "reason" TEXT NOT NULL,\n   "origin" TEXT\n)',
    'CREATE INDEX "idx_history_case_uuid_id"\n    ON "history" ("case_uuid", "id")',
    'CREATE TABLE "merges" (\n   "id" INTEGER PRIMARY KEY,\n   "merged_at" TEXT,\n   "source_path" TEXT,\n'
    '   "source_db_uuid" TEXT,\n   "source_site" TEXT,\n   "added" INTEGER,\n   "unchanged" INTEGER,\n'
    '   "updated" INTEGER,\n   "conflicts" INTEGER,\n   "duplicates" INTEGER\n)',
    """CREATE VIEW answers_readable AS
        SELECT c.site, c.case_ref, c.inspector, c.status, q.section_title AS section,
               a.question_id, q.text AS question,
               CASE WHEN a.value IS NULL THEN NULL
                    WHEN json_type(a.value) = 'array' THEN (
                        SELECT group_concat(coalesce(o.label, j.value), '; ')
                        FROM json_each(a.value) j
                        LEFT JOIN options o ON o.rubric_sha256 = c.rubric_sha256
                             AND o.question_id = a.question_id AND o.code = j.value)
                    ELSE coalesce(
                        (SELECT o.label FROM options o WHERE o.rubric_sha256 = c.rubric_sha256
                             AND o.question_id = a.question_id AND o.code = json_extract(a.value, '$')),
                        json_extract(a.value, '$'))
               END AS answer,
               a.value AS answer_code, a.note, a.state, a.applies, a.counted, a.answered_by, a.answered_at,
               c.uuid AS case_uuid
        FROM answers a
        JOIN cases c ON c.uuid = a.case_uuid
        LEFT JOIN questions q ON q.rubric_sha256 = c.rubric_sha256 AND q.question_id = a.question_id""",
]

# Schema 2: one identity rule (normalised keys, unique among live original cases),
# soft deletion, moderation copies, quality review, judgements for ratings, and
# "None of these" in the readable view.
_MIGRATION_2 = [
    'ALTER TABLE "cases" ADD COLUMN "site_key" TEXT',
    'ALTER TABLE "cases" ADD COLUMN "ref_key" TEXT',
    'ALTER TABLE "cases" ADD COLUMN "duplicate_of" TEXT',
    'ALTER TABLE "cases" ADD COLUMN "copy_of" TEXT',
    'ALTER TABLE "cases" ADD COLUMN "deleted_at" TEXT',
    'ALTER TABLE "cases" ADD COLUMN "deleted_reason" TEXT',
    'ALTER TABLE "cases" ADD COLUMN "review_comment" TEXT',
    'ALTER TABLE "cases" ADD COLUMN "review_question" TEXT',
    "-- backfill: see _backfill_keys",
    'CREATE UNIQUE INDEX "idx_cases_identity"\n    ON "cases" ("site_key", "ref_key")\n'
    "    WHERE duplicate_of IS NULL AND copy_of IS NULL AND deleted_at IS NULL",
    'CREATE INDEX "idx_cases_copy_of"\n    ON "cases" ("copy_of") WHERE copy_of IS NOT NULL',
    'CREATE TABLE "judgements" (\n   "scheme_id" TEXT NOT NULL,\n   "standard_id" TEXT NOT NULL,\n'
    '   "scope" TEXT NOT NULL DEFAULT \'\',\n   "rating" TEXT NOT NULL,\n   "note" TEXT,\n   "set_by" TEXT,\n'
    '   "set_at" TEXT NOT NULL,\n   PRIMARY KEY ("scheme_id", "standard_id", "scope")\n)',
    "DROP VIEW answers_readable",
    """CREATE VIEW answers_readable AS
        SELECT c.site, c.case_ref, c.inspector, c.status, q.section_title AS section,
               a.question_id, q.text AS question,
               CASE WHEN a.value IS NULL THEN NULL
                    WHEN json_type(a.value) = 'array' AND json_array_length(a.value) = 0 THEN 'None of these'
                    WHEN json_type(a.value) = 'array' THEN (
                        SELECT group_concat(coalesce(o.label, j.value), '; ')
                        FROM json_each(a.value) j
                        LEFT JOIN options o ON o.rubric_sha256 = c.rubric_sha256
                             AND o.question_id = a.question_id AND o.code = j.value)
                    ELSE coalesce(
                        (SELECT o.label FROM options o WHERE o.rubric_sha256 = c.rubric_sha256
                             AND o.question_id = a.question_id AND o.code = json_extract(a.value, '$')),
                        json_extract(a.value, '$'))
               END AS answer,
               a.value AS answer_code, a.note, a.state, a.applies, a.counted, a.answered_by, a.answered_at,
               c.uuid AS case_uuid, c.deleted_at
        FROM answers a
        JOIN cases c ON c.uuid = a.case_uuid
        LEFT JOIN questions q ON q.rubric_sha256 = c.rubric_sha256 AND q.question_id = a.question_id""",
]


# Schema 3: the case list at a million cases. Every order the list offers has an index on its
# key and uuid (the tie-break), so a page is a keyset range scan, never an OFFSET; the index
# carries the site, status and deletion too, so that a filter is checked without reading the
# row (SQLite reads a case's row only once its index entry matches); the filters
# (site, status, deleted, a prefix of ref / site / inspector) have indexes to count and to find a
# few matching cases among many; the returned cases, listed first, have each order to themselves
# (audit/store.py, Store.case_page).
_MIGRATION_3 = [
    'CREATE INDEX "idx_cases_order_updated_at"\n    ON "cases" ("updated_at", "uuid", "site_key", "status", "deleted_at")',
    'CREATE INDEX "idx_cases_order_created_at"\n    ON "cases" ("created_at", "uuid", "site_key", "status", "deleted_at")',
    'CREATE INDEX "idx_cases_order_case_ref"\n    ON "cases" ("case_ref", "uuid", "site_key", "status", "deleted_at")',
    'CREATE INDEX "idx_cases_order_site"\n    ON "cases" ("site", "uuid", "site_key", "status", "deleted_at")',
    'CREATE INDEX "idx_cases_order_inspector"\n    ON "cases" (coalesce("inspector", \'\'), "uuid", "site_key", "status", "deleted_at")',
    'CREATE INDEX "idx_cases_order_status"\n    ON "cases" ("status", "uuid", "site_key", "deleted_at")',
    'CREATE INDEX "idx_cases_order_progress"\n    ON "cases" (("answered_count" * 1.0 / max("applicable_count", 1)), "uuid", "site_key", "status", "deleted_at")',
    'CREATE INDEX "idx_cases_site_key_status"\n    ON "cases" ("site_key", "status")',
    'CREATE INDEX "idx_cases_ref_key"\n    ON "cases" ("ref_key")',
    'CREATE INDEX "idx_cases_inspector_nocase"\n    ON "cases" ("inspector" COLLATE NOCASE)',
    'CREATE INDEX "idx_cases_deleted_at"\n    ON "cases" ("deleted_at") WHERE deleted_at IS NOT NULL',
    # the cases a reviewer returned come first in the list: each order again, over them only
    'CREATE INDEX "idx_cases_returned_updated_at"\n    ON "cases" ("updated_at", "uuid", "site_key", "status", "deleted_at") WHERE status = \'returned\'',
    'CREATE INDEX "idx_cases_returned_created_at"\n    ON "cases" ("created_at", "uuid", "site_key", "status", "deleted_at") WHERE status = \'returned\'',
    'CREATE INDEX "idx_cases_returned_case_ref"\n    ON "cases" ("case_ref", "uuid", "site_key", "status", "deleted_at") WHERE status = \'returned\'',
    'CREATE INDEX "idx_cases_returned_site"\n    ON "cases" ("site", "uuid", "site_key", "status", "deleted_at") WHERE status = \'returned\'',
    'CREATE INDEX "idx_cases_returned_inspector"\n    ON "cases" (coalesce("inspector", \'\'), "uuid", "site_key", "status", "deleted_at") WHERE status = \'returned\'',
    'CREATE INDEX "idx_cases_returned_status"\n    ON "cases" ("status", "uuid", "site_key", "deleted_at") WHERE status = \'returned\'',
    'CREATE INDEX "idx_cases_returned_progress"\n    ON "cases" (("answered_count" * 1.0 / max("applicable_count", 1)), "uuid", "site_key", "status", "deleted_at") WHERE status = \'returned\'',
]


def _run(statements: list[str], backfill: Callable[[sqlite3.Connection], None] | None = None):
    def migration(conn: sqlite3.Connection) -> None:
        for statement in statements:
            if statement.startswith("-- backfill"):
                if backfill is not None:
                    backfill(conn)
                continue
            conn.execute(statement)

    return migration


def _backfill_keys(conn: sqlite3.Connection) -> None:
    """Identity keys for every case; of cases sharing a key, the first created stays the original
    and the others are flagged as duplicates of it (as merge flagged them before)."""
    from audit.identity import key

    rows = conn.execute("SELECT uuid, site, case_ref FROM cases ORDER BY created_at, uuid").fetchall()
    first: dict[tuple[str, str], str] = {}
    updates = []
    for uuid, site, case_ref in rows:
        pair = (key(site), key(case_ref))
        original = first.setdefault(pair, uuid)
        updates.append((pair[0], pair[1], None if original == uuid else original, uuid))
    conn.executemany("UPDATE cases SET site_key = ?, ref_key = ?, duplicate_of = ? WHERE uuid = ?", updates)


def new_change_id() -> str:
    """A fresh change token: random, so two copies of one file that change apart never share one."""
    return secrets.token_hex(16)


# Schema 4: watermarks for a cheap no-op merge (docs/merge.md, "Merging the same source again").
# Every write transaction that changes a row replaces meta.change_id (Store.transaction); a merge
# records the token of each source it merged in merges.source_change. A file at schema 4 is never
# written by an older audit (it refuses a newer schema), so every writer of it renews the token.
def _migration_4(conn: sqlite3.Connection) -> None:
    conn.execute('ALTER TABLE "merges" ADD COLUMN "source_change" TEXT')
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('change_id', ?)", [new_change_id()])


# Schema 5: compact storage (docs/database.md, "How the file is laid out"). A case's UUID is stored
# once, in ``cases``; answers and history refer to it by ``cases.id``, an integer key that is the
# row's own (INTEGER PRIMARY KEY, so VACUUM never renumbers it). Answers live in ``answer_data``,
# WITHOUT ROWID on (case, question), with the question as a small integer (``question_keys``), the
# time as integer microseconds (``stored_stamp``) and the state NULL while current. The views
# ``answers`` and ``history`` show them as before (UUIDs, question ids, times as text), so readers,
# Datasette and SQL typed by hand are unchanged; only the case service writes the tables.
_CASES_5 = (
    'CREATE TABLE "cases" (\n   "id" INTEGER PRIMARY KEY,\n   "uuid" TEXT NOT NULL UNIQUE,\n   "case_ref" TEXT NOT NULL,\n'
    '   "site" TEXT NOT NULL,\n   "inspector" TEXT,\n   "status" TEXT NOT NULL DEFAULT \'in_progress\',\n'
    '   "created_at" TEXT NOT NULL,\n   "updated_at" TEXT NOT NULL,\n   "rubric_id" TEXT NOT NULL,\n'
    '   "rubric_version" TEXT NOT NULL,\n   "rubric_sha256" TEXT NOT NULL REFERENCES "rubrics"("sha256"),\n'
    '   "applicable_count" INTEGER DEFAULT 0,\n   "answered_count" INTEGER DEFAULT 0,\n   "origin_db" TEXT,\n'
    '   "origin_file" TEXT,\n   "site_key" TEXT,\n   "ref_key" TEXT,\n   "duplicate_of" TEXT,\n   "copy_of" TEXT,\n'
    '   "deleted_at" TEXT,\n   "deleted_reason" TEXT,\n   "review_comment" TEXT,\n   "review_question" TEXT\n)'
)
_CASE_COLUMNS_5 = ("uuid", "case_ref", "site", "inspector", "status", "created_at", "updated_at", "rubric_id",
                   "rubric_version", "rubric_sha256", "applicable_count", "answered_count", "origin_db", "origin_file",
                   "site_key", "ref_key", "duplicate_of", "copy_of", "deleted_at", "deleted_reason", "review_comment",
                   "review_question")
#: the indexes on cases of schemas 2 and 3 (the two of schema 1 served no query plan), the case list's
#: orders now broken by the case's integer id instead of its 36-character UUID
_CASE_INDEXES_5 = [
    'CREATE UNIQUE INDEX "idx_cases_identity"\n    ON "cases" ("site_key", "ref_key")\n'
    "    WHERE duplicate_of IS NULL AND copy_of IS NULL AND deleted_at IS NULL",
    'CREATE INDEX "idx_cases_copy_of"\n    ON "cases" ("copy_of") WHERE copy_of IS NOT NULL',
    *(statement.replace('"uuid", ', '"id", ') for statement in _MIGRATION_3),
]
_ANSWERS_5 = [
    'CREATE TABLE "question_keys" (\n   "id" INTEGER PRIMARY KEY,\n   "question_id" TEXT NOT NULL UNIQUE\n)',
    # answered_at has no type, so that an integer stays an integer and any other text stays text
    'CREATE TABLE "answer_data" (\n   "case_id" INTEGER NOT NULL REFERENCES "cases"("id"),\n'
    '   "question_key" INTEGER NOT NULL REFERENCES "question_keys"("id"),\n   "value" TEXT,\n   "note" TEXT,\n'
    '   "answered_by" TEXT,\n   "answered_at",\n   "state" TEXT,\n   "applies" INTEGER NOT NULL DEFAULT 0,\n'
    '   "counted" INTEGER NOT NULL DEFAULT 0,\n   PRIMARY KEY ("case_id", "question_key")\n) WITHOUT ROWID',
    'CREATE INDEX "idx_answer_data_question_counted"\n    ON "answer_data" ("question_key", "counted")',
    'CREATE TABLE "history_data" (\n   "id" INTEGER PRIMARY KEY,\n   "case_id" INTEGER NOT NULL REFERENCES "cases"("id"),\n'
    '   "question_id" TEXT,\n   "field" TEXT NOT NULL,\n   "old_value" TEXT,\n   "new_value" TEXT,\n   "changed_by" TEXT,\n'
    '   "changed_at" TEXT NOT NULL,\n   "reason" TEXT NOT NULL,\n   "origin" TEXT\n)',
    'CREATE INDEX "idx_history_data_case_id"\n    ON "history_data" ("case_id")',
]
#: SQL that turns a stored answered_at back into the text the tool wrote (the inverse of stored_stamp)
STAMP_TEXT_SQL = ("CASE WHEN typeof({0}) = 'integer' THEN strftime('%Y-%m-%dT%H:%M:%S', {0} / 1000000, 'unixepoch') "
                  "|| printf('.%06dZ', {0} % 1000000) ELSE {0} END")
_VIEWS_5 = [
    f"""CREATE VIEW answers AS
        SELECT c.uuid AS case_uuid, k.question_id AS question_id, a.value AS value, a.note AS note,
               a.answered_by AS answered_by, {STAMP_TEXT_SQL.format('a.answered_at')} AS answered_at,
               coalesce(a.state, 'current') AS state, a.applies AS applies, a.counted AS counted
        FROM answer_data a
        LEFT JOIN cases c ON c.id = a.case_id
        LEFT JOIN question_keys k ON k.id = a.question_key""",
    """CREATE VIEW history AS
        SELECT h.id AS id, c.uuid AS case_uuid, h.question_id AS question_id, h.field AS field,
               h.old_value AS old_value, h.new_value AS new_value, h.changed_by AS changed_by,
               h.changed_at AS changed_at, h.reason AS reason, h.origin AS origin
        FROM history_data h
        LEFT JOIN cases c ON c.id = h.case_id""",
    _MIGRATION_2[-1],  # answers_readable, as schema 2 made it (it reads the answers view)
]

_STAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})Z", re.ASCII)  # not "２０２６"
_EPOCH_DAY = dt.date(1970, 1, 1)
_DAY_US = 86_400_000_000


@functools.lru_cache(maxsize=1024)
def _day_start(date: str) -> int | None:
    """'YYYY-MM-DD' (digits already checked) as microseconds since 1970 at its midnight; None for a day
    that does not exist or comes before 1970."""
    try:
        day = dt.date(int(date[:4]), int(date[5:7]), int(date[8:10]))
    except ValueError:
        return None
    days = (day - _EPOCH_DAY).days
    return days * _DAY_US if days >= 0 else None


def stored_stamp(text: Any) -> Any:
    """How answered_at is stored: a time the tool writes (``store.now()``: UTC, microseconds) as integer
    microseconds since 1970, 8 bytes instead of 27; anything else as it is, so nothing is lost.
    (Called for every answer an import or a merge writes: a day's start is worked out once, the time
    of day by arithmetic; a test checks it against datetime's.)"""
    if not isinstance(text, str) or _STAMP.fullmatch(text) is None:
        return text
    day = _day_start(text[:10])
    hour, minute, second = int(text[11:13]), int(text[14:16]), int(text[17:19])
    if day is None or hour > 23 or minute > 59 or second > 59:
        return text
    return day + ((hour * 60 + minute) * 60 + second) * 1_000_000 + int(text[20:26])


def _migration_5(conn: sqlite3.Connection) -> None:
    orphans = conn.execute(
        "SELECT (SELECT count(*) FROM answers WHERE case_uuid NOT IN (SELECT uuid FROM cases)) + "
        "(SELECT count(*) FROM history WHERE case_uuid NOT IN (SELECT uuid FROM cases))"
    ).fetchone()[0]
    if orphans:  # the old tables never enforced this; such a row would have no case to point to
        raise sqlite3.IntegrityError(f"{orphans} answer or history rows belong to no case; the file cannot be upgraded")
    conn.create_function("audit_stored_stamp", 1, stored_stamp, deterministic=True)
    conn.execute("DROP VIEW answers_readable")
    conn.execute('ALTER TABLE "cases" RENAME TO "cases_4"')
    conn.execute(_CASES_5)
    columns = ", ".join(f'"{name}"' for name in _CASE_COLUMNS_5)
    conn.execute(f'INSERT INTO "cases" ({columns}) SELECT {columns} FROM "cases_4" ORDER BY created_at, uuid')
    for statement in _ANSWERS_5:
        conn.execute(statement)
    conn.execute('INSERT INTO question_keys (question_id) SELECT DISTINCT question_id FROM answers ORDER BY question_id')
    conn.execute(
        "INSERT INTO answer_data (case_id, question_key, value, note, answered_by, answered_at, state, applies, counted) "
        "SELECT c.id, k.id, a.value, a.note, a.answered_by, audit_stored_stamp(a.answered_at), nullif(a.state, 'current'), "
        "a.applies, a.counted FROM answers a JOIN cases c ON c.uuid = a.case_uuid "
        "JOIN question_keys k ON k.question_id = a.question_id ORDER BY c.id, k.id"
    )
    conn.execute(
        "INSERT INTO history_data (id, case_id, question_id, field, old_value, new_value, changed_by, changed_at, reason, origin) "
        "SELECT h.id, c.id, h.question_id, h.field, h.old_value, h.new_value, h.changed_by, h.changed_at, h.reason, h.origin "
        "FROM history h JOIN cases c ON c.uuid = h.case_uuid ORDER BY h.id"
    )
    conn.execute('DROP TABLE "answers"')
    conn.execute('DROP TABLE "history"')
    conn.execute('DROP TABLE "cases_4"')
    for statement in (*_CASE_INDEXES_5, *_VIEWS_5):
        conn.execute(statement)


# Schema 6: the answers and history views join with inner joins. Schema 5's left joins fixed the join
# order, so a query for some questions read every answer; an inner join lets it start from their keys
# (figures read a tenth of the file). Foreign keys keep every row joined, and ``audit verify`` names a
# file whose rows point nowhere (dbcheck.content_report).
def _inner(statement: str) -> str:
    return statement.replace("LEFT JOIN cases c", "JOIN cases c").replace("LEFT JOIN question_keys k", "JOIN question_keys k")


def _migration_6(conn: sqlite3.Connection) -> None:
    conn.execute("DROP VIEW answers_readable")
    conn.execute("DROP VIEW answers")
    conn.execute("DROP VIEW history")
    for statement in _VIEWS_5:
        conn.execute(_inner(statement))


#: MIGRATIONS[i] brings a database from schema version i to i + 1, inside the caller's transaction.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _run(_MIGRATION_1), _run(_MIGRATION_2, _backfill_keys), _run(_MIGRATION_3), _migration_4, _migration_5, _migration_6,
]
assert len(MIGRATIONS) == SCHEMA_VERSION


def migrate(conn: sqlite3.Connection, from_version: int) -> None:
    """Apply the migrations after ``from_version`` and record the new version (caller holds the transaction)."""
    for migration in MIGRATIONS[from_version:]:
        migration(conn)
    version = len(MIGRATIONS)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", [str(version)])


def _squeeze(sql: str | None) -> str | None:
    return None if sql is None else " ".join(sql.split())


@functools.lru_cache(maxsize=None)
def expected_objects(version: int) -> dict[str, tuple[str, str, str | None]]:
    """name -> (type, table, SQL) of every object a file at ``version`` holds, as the migrations make it."""
    conn = sqlite3.connect(":memory:")
    try:
        for migration in MIGRATIONS[:version]:
            migration(conn)
        return {
            name: (kind, table, _squeeze(sql))
            for kind, name, table, sql in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")
        }
    finally:
        conn.close()


def unexpected_objects(conn: sqlite3.Connection, version: int) -> list[str]:
    """Schema objects that differ from what the migrations create for ``version``, in words.

    Reads only ``sqlite_master``: nothing of the file runs (triggers fire only on writes).
    """
    expected = expected_objects(version)
    found = {
        name: (kind, table, _squeeze(sql))
        for kind, name, table, sql in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")
    }
    problems = []
    for name, (kind, table, sql) in sorted(found.items()):
        if name in SQLITE_INTERNAL and kind == "table":
            continue
        if name not in expected:
            problems.append(f"{kind} '{name}' (on {table}) is not one the tool creates")
        elif expected[name] != (kind, table, sql):
            problems.append(f"{kind} '{name}' differs from the one the tool creates")
    for name, (kind, _table, _sql) in sorted(expected.items()):
        if name not in found:
            problems.append(f"{kind} '{name}' is missing")
    return problems
