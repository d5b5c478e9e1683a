"""The SQLite library: round trips, dedupe, cascades, search, filters, paging, migrations."""

from __future__ import annotations

import dataclasses
import functools
import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.errors import LibraryError, NotInLibrary
from engine.library.export import entry_to_json, entry_to_markdown, row_to_json
from engine.library.migrations import SCHEMA_VERSION
from engine.library.queries import fts_query
from engine.library.records import NewEntry
from engine.library.store import Library
from engine.schema import GENERAL_FIELDS, Grounding, Summary
from tests.factories import make_entry, make_provenance, make_summary, make_transcript_info

TIMES = [(0.0, 505.0), (505.0, 2024.0), (2024.0, 3000.0), (3000.0, 4000.0), (4000.0, 5000.0)]


@pytest.fixture
def lib(tmp_path: Path) -> Iterator[Library]:
    with Library(tmp_path / "lib.sqlite3") as library:
        yield library


def ids(rows: list) -> list[int]:
    return [r.id for r in rows]


# --- opening ----------------------------------------------------------------------------------


def test_default_path_wal_and_foreign_keys(isolated_home: Path) -> None:
    with Library() as lib:
        assert lib.path == isolated_home / "data" / "library.sqlite3"
        conn = lib._db()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
    # Reopening an up-to-date library applies nothing again.
    with Library() as lib:
        assert lib._version() == SCHEMA_VERSION


def test_corrupt_file_is_named_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    junk = b"this is not a database\n" * 100
    path.write_bytes(junk)
    with pytest.raises(LibraryError, match="not a vidsum library") as err:
        Library(path)
    assert str(path) in str(err.value)
    assert path.read_bytes() == junk
    assert not (tmp_path / "library.sqlite3-wal").exists()


def test_damaged_sqlite_file_is_an_error_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    with Library(path) as lib:
        lib.add(make_entry(1))
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wipe the schema page after the header
    path.write_bytes(bytes(data))
    with pytest.raises(LibraryError) as err:
        Library(path)
    assert str(path) in str(err.value)
    assert path.read_bytes() == bytes(data)


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes(x)")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(LibraryError, match="not a vidsum library"):
        Library(path)
    assert path.read_bytes() == before


# --- writing and reading ----------------------------------------------------------------------


def test_round_trip(lib: Library) -> None:
    new = make_entry(7, times=TIMES, flags=["copied the few-shot example"])
    entry_id = lib.add(new)
    got = lib.get(entry_id)
    assert got.id == entry_id
    assert got.transcript == new.transcript
    assert got.summary == new.summary
    assert got.summary.sections[1].start == 505.0 and got.summary.sections[1].end == 2024.0
    assert got.provenance == new.provenance
    assert got.coverage == new.coverage
    assert got.flags == new.flags
    assert got.dedupe_key == new.dedupe_key
    assert got.title == "Talk 7"
    datetime.fromisoformat(got.created_at)  # ISO 8601


def test_round_trip_untimed_and_nulls(lib: Library) -> None:
    t = make_transcript_info(3, channel=None, url=None, video_id=None, duration=None, chapters=[])
    new = make_entry(3, transcript=t, provenance=make_provenance(quant=None))
    got = lib.get(lib.add(new))
    assert got.transcript == t
    assert got.provenance.quant is None
    assert all(s.start is None for s in got.summary.sections)


def test_rerun_is_a_noop(lib: Library) -> None:
    new = make_entry(1)
    first = lib.add(new)
    assert lib.find(new.dedupe_key) == first
    assert lib.add(new) == first
    assert lib.count() == 1
    assert lib.find("no-such-key") is None
    # The same video by another model is a second summary sharing one transcript row.
    other = make_entry(1, provenance=make_provenance("mixtral-8x7b-instruct:Q4_K_M"))
    second = lib.add(other)
    assert second != first
    assert lib.count() == 2
    assert lib._db().execute("SELECT count(*) FROM transcripts").fetchone()[0] == 1
    assert ids(lib.same_video(first)) == [second]
    assert lib.models() == ["mistral-7b-instruct-v0.2:Q4_K_M", "mixtral-8x7b-instruct:Q4_K_M"]


def test_dedupe_key_is_a_unique_constraint(lib: Library) -> None:
    conn = lib._db()
    unique_cols = [
        [c[2] for c in conn.execute(f"PRAGMA index_info('{name}')")]
        for _, name, unique, *_ in conn.execute("PRAGMA index_list('summaries')")
        if unique
    ]
    assert ["dedupe_key"] in unique_cols


def test_add_many_is_one_transaction(lib: Library) -> None:
    good = make_entry(1)
    bad = dataclasses.replace(make_entry(2), summary="not a summary")  # type: ignore[arg-type]
    with pytest.raises(LibraryError, match="not a validated Summary"):
        lib.add_many([good, bad])
    assert lib.count() == 0


def test_unvalidated_summary_is_refused(lib: Library) -> None:
    s = make_summary()
    broken = Summary.model_construct(
        introduction=s.introduction,
        sections=s.sections[:3],
        topics=s.topics,
        general_topics=s.general_topics,
    )
    with pytest.raises(LibraryError, match="does not meet the schema"):
        lib.add(NewEntry(**{**make_entry(1).__dict__, "summary": broken}))
    assert lib.count() == 0


def test_delete_cascades_and_cleans_search(lib: Library) -> None:
    a = lib.add(make_entry(1, word="zanzibar"))
    b = lib.add(make_entry(1, word="zanzibar", provenance=make_provenance("other-model")))
    c = lib.add(make_entry(2, word="zanzibar"))
    lib.delete(a)
    with pytest.raises(NotInLibrary, match=f"#{a}"):
        lib.get(a)
    with pytest.raises(NotInLibrary):
        lib.delete(a)
    conn = lib._db()
    for table in ("sections", "topics", "general_topics"):
        n = conn.execute(f"SELECT count(*) FROM {table} WHERE summary_id = ?", (a,)).fetchone()[0]
        assert n == 0, table
    assert sorted(ids(lib.list(query="zanzibar"))) == [b, c]
    # The transcript row goes with its last summary, not before.
    assert conn.execute("SELECT count(*) FROM transcripts").fetchone()[0] == 2
    lib.delete(b)
    assert conn.execute("SELECT count(*) FROM transcripts").fetchone()[0] == 1
    assert ids(lib.list(query="zanzibar")) == [c]
    lib.integrity_check()


def test_get_missing(lib: Library) -> None:
    with pytest.raises(NotInLibrary, match="no summary #42"):
        lib.get(42)


def test_closed_library_says_so(tmp_path: Path) -> None:
    lib = Library(tmp_path / "l.sqlite3")
    lib.close()
    lib.close()
    with pytest.raises(LibraryError, match="closed"):
        lib.count()


def test_usable_from_worker_threads(lib: Library) -> None:
    # The TUI calls the engine from Textual worker threads.
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            lib.add(make_entry(i))
            lib.list(query="talk")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert lib.count() == 4


# --- search, filters, order -------------------------------------------------------------------


@pytest.fixture
def small(lib: Library) -> dict[str, int]:
    G = GENERAL_FIELDS
    base = datetime(2025, 1, 1, tzinfo=timezone.utc)
    made = {
        "intro": make_entry(
            1,
            title="alpha talk",
            word="photosynthesis",
            general=[(G[0], 0.9), (G[1], 0.5), (G[2], 0.1)],
        ),
        "section": make_entry(
            2,
            title="Beta talk",
            section_word="kubernetes",
            general=[(G[1], 0.3), (G[3], 0.2), (G[4], 0.1)],
        ),
        "topic": make_entry(
            3,
            title="gamma talk",
            topics=("Zig", "Comptime", "Allocators", "Build", "Safety"),
            general=[(G[0], 0.6), (G[5], 0.55), (G[6], 0.1)],
            provenance=make_provenance("gemma-3-270m"),
        ),
        "transcript": make_entry(
            4,
            title="Delta talk",
            transcript=make_transcript_info(
                4,
                title="Delta talk",
                duration=None,
                text="We benchmark the café borrow checker quickly.",
            ),
            general=[(G[7], 0.75), (G[8], 0.7), (G[9], 0.05)],
        ),
    }
    out = {}
    # Created out of id order, so created_* ordering cannot pass by sorting on id.
    for k, (name, entry) in enumerate(made.items()):
        out[name] = lib.add(entry, created_at=base + timedelta(days=(k * 3) % 4))
    return out


@pytest.mark.parametrize(
    ("query", "which"),
    [
        ("photosynthesis", "intro"),
        ("Photosynth", "intro"),  # prefix, case-insensitive
        ("kubernetes", "section"),
        ("comptime", "topic"),
        ("borrow checker", "transcript"),
        ("cafe", "transcript"),  # diacritics folded
        ("delta quickly", "transcript"),  # title word AND transcript word
        ("gamma", "topic"),
    ],
)
def test_search_finds_each_column(
    lib: Library, small: dict[str, int], query: str, which: str
) -> None:
    assert ids(lib.list(query=query)) == [small[which]]
    assert lib.count(query=query) == 1


def test_search_needs_every_term(lib: Library, small: dict[str, int]) -> None:
    assert lib.list(query="photosynthesis kubernetes") == []
    assert lib.list(query="photosynthesis ") != []
    assert lib.list(query="photosynth ") == []  # a finished word is not a prefix


@pytest.mark.parametrize(
    "query",
    [
        'c++ "unterminated',
        "AND OR",
        "NOT",
        '"',
        "*",
        "(",
        "title:x",
        "NEAR(a b)",
        "a AND",
        "''",
        "-",
        "^x",
        "\\",
        "%",
        "{x}",
        "  ",
        "🙂",
        "col: :",
        'a"b"c',
        "\x00",
    ],
)
def test_unsafe_queries_do_not_raise(lib: Library, small: dict[str, int], query: str) -> None:
    rows = lib.list(query=query)
    assert lib.count(query=query) == len(rows)


def test_fts_query_quotes_terms() -> None:
    assert fts_query('c++ "unterminated') == '"c++" """unterminated"*'
    assert fts_query("AND OR ") == '"AND" "OR"'
    assert fts_query("++ --") is None
    assert fts_query("") is None


def test_filters(lib: Library, small: dict[str, int]) -> None:
    G = GENERAL_FIELDS
    assert sorted(ids(lib.list(general_topic=G[0]))) == sorted([small["intro"], small["topic"]])
    # With a field, the range applies to that field's complexity.
    assert ids(lib.list(general_topic=G[0], complexity=(0.7, 1.0))) == [small["intro"]]
    # Without one, to the summary's highest complexity.
    assert sorted(ids(lib.list(complexity=(0.6, 0.8)))) == sorted(
        [small["topic"], small["transcript"]]
    )
    assert ids(lib.list(complexity=(0.3, 0.3))) == [small["section"]]  # bounds inclusive
    assert ids(lib.list(model="gemma-3-270m")) == [small["topic"]]
    assert lib.list(model="gemma-3-270m", query="photosynthesis") == []
    assert lib.count(general_topic=G[1]) == 2
    assert lib.count(general_topic=G[1], complexity=(0.4, 1.0), query="alpha") == 1
    assert G[0] in lib.general_topics() and G[10] not in lib.general_topics()
    assert lib.general_topics() == sorted(lib.general_topics())


def test_orders(lib: Library, small: dict[str, int]) -> None:
    s = small
    # created_at offsets by insertion: intro 0, section 3, topic 2, transcript 1 (days)
    assert ids(lib.list(order="created_desc")) == [
        s["section"],
        s["topic"],
        s["transcript"],
        s["intro"],
    ]
    assert ids(lib.list(order="created_asc")) == [
        s["intro"],
        s["transcript"],
        s["topic"],
        s["section"],
    ]
    assert ids(lib.list(order="title")) == [s["intro"], s["section"], s["transcript"], s["topic"]]
    assert ids(lib.list(order="complexity_desc")) == [
        s["intro"],
        s["transcript"],
        s["topic"],
        s["section"],
    ]
    # Unknown duration sorts last.
    assert ids(lib.list(order="duration_desc")) == [
        s["topic"],
        s["section"],
        s["intro"],
        s["transcript"],
    ]
    assert ids(lib.list(order="created_desc", offset=1, limit=2)) == [s["topic"], s["transcript"]]
    with pytest.raises(LibraryError, match="Unknown sort order"):
        lib.list(order="sideways")  # type: ignore[arg-type]


def test_relevance_ranks_title_hits_first(lib: Library) -> None:
    body = lib.add(make_entry(1, transcript=make_transcript_info(1, text="pagerank " * 3)))
    title = lib.add(make_entry(2, title="PageRank explained"))
    assert ids(lib.list(query="pagerank", order="relevance")) == [title, body]
    # Without a query, relevance means newest first.
    assert ids(lib.list(order="relevance")) == [title, body]


def test_rows_carry_what_the_list_shows(lib: Library, small: dict[str, int]) -> None:
    (row,) = lib.list(query="photosynthesis")
    G = GENERAL_FIELDS
    assert row.title == "alpha talk" and row.channel == "Channel 1"
    assert row.general_topics == ((G[0], 0.9), (G[1], 0.5), (G[2], 0.1))
    assert row.max_complexity == 0.9
    assert row.duration == 601.0
    assert row.model_id == "mistral-7b-instruct-v0.2:Q4_K_M"
    assert json.loads(json.dumps(row_to_json(row)))["general_topics"][0] == {
        "topic": G[0],
        "complexity": 0.9,
    }


# --- 10,000 summaries -------------------------------------------------------------------------

N_BIG = 10_000
MODELS = ("m-a", "m-b", "m-c")


@functools.cache
def _big_summary(field: int, cx: float) -> Summary:
    G = GENERAL_FIELDS
    return make_summary(
        general=[
            (G[field], cx),
            (G[(field + 1) % 12], round(cx / 2, 2)),
            (G[(field + 2) % 12], 0.0),
        ]
    )


def _big_entry(i: int) -> NewEntry:
    return make_entry(
        i,
        transcript=make_transcript_info(
            i,
            title=f"Talk {i:05d}",
            duration=float(i % 500),
            text=f"Transcript number {i} mentions word{i} often.",
        ),
        provenance=make_provenance(MODELS[i % 3]),
        summary=_big_summary(i % 12, (i * 37 % 101) / 100),
    )


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    path = tmp_path_factory.mktemp("big") / "lib.sqlite3"
    with Library(path) as lib:
        lib.add_many(_big_entry(i) for i in range(N_BIG))  # one transaction
        yield lib


def test_big_paging_visits_every_row_once_in_order(big: Library) -> None:
    assert big.count() == N_BIG
    seen: list[str] = []
    page = 0
    while rows := big.list(order="title", offset=page * 700, limit=700):
        seen += [r.title for r in rows]
        page += 1
    assert seen == [f"Talk {i:05d}" for i in range(N_BIG)]
    assert big.list(offset=N_BIG, limit=10) == []


def test_big_filters_count_and_search(big: Library) -> None:
    G = GENERAL_FIELDS
    want = [i for i in range(N_BIG) if i % 3 == 1 and (i * 37 % 101) / 100 >= 0.9]
    assert big.count(model="m-b", complexity=(0.9, 1.0)) == len(want)
    got = big.list(model="m-b", complexity=(0.9, 1.0), order="complexity_desc", limit=N_BIG)
    assert sorted(int(r.title.split()[1]) for r in got) == want
    assert [r.max_complexity for r in got] == sorted((r.max_complexity for r in got), reverse=True)
    in_field = [i for i in range(N_BIG) if G[5] in (G[i % 12], G[(i + 1) % 12], G[(i + 2) % 12])]
    assert big.count(general_topic=G[5]) == len(in_field)
    (hit,) = big.list(query="word4321")
    assert hit.title == "Talk 04321"
    assert big.count(query="word432") == 1 + 10  # prefix: word432 and word4320..word4329
    durations = [r.duration for r in big.list(order="duration_desc", limit=50)]
    assert durations == [499.0] * 20 + [498.0] * 20 + [497.0] * 10


# --- migrations -------------------------------------------------------------------------------

# The v1 schema exactly as a v1 vidsum wrote it (frozen here on purpose).
V1_SQL = """
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                                applied_at TEXT NOT NULL);
INSERT INTO schema_migrations VALUES (1, 'tables', '2025-01-01T00:00:00+00:00');
CREATE TABLE transcripts (id INTEGER PRIMARY KEY, content_hash TEXT NOT NULL UNIQUE,
                          text TEXT NOT NULL);
CREATE TABLE summaries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, transcript_id INTEGER NOT NULL REFERENCES transcripts(id),
    dedupe_key TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, source_path TEXT NOT NULL,
    format TEXT NOT NULL, title TEXT NOT NULL, channel TEXT, url TEXT, video_id TEXT,
    duration REAL, chapters TEXT NOT NULL DEFAULT '[]', introduction TEXT NOT NULL,
    max_complexity REAL NOT NULL, flags TEXT NOT NULL DEFAULT '[]', model_id TEXT NOT NULL,
    model_path TEXT NOT NULL, model_sha256 TEXT NOT NULL, quant TEXT,
    prompt_version TEXT NOT NULL, grammar_version TEXT NOT NULL, sampling TEXT NOT NULL,
    n_ctx INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, prompt_seconds REAL NOT NULL,
    generated_tokens INTEGER NOT NULL, generation_seconds REAL NOT NULL,
    vidsum_version TEXT NOT NULL, coverage_fraction REAL NOT NULL,
    coverage_passes INTEGER NOT NULL, coverage_chunks TEXT NOT NULL,
    coverage_truncated INTEGER NOT NULL);
CREATE INDEX summaries_transcript ON summaries(transcript_id);
CREATE TABLE sections (summary_id INTEGER NOT NULL REFERENCES summaries(id) ON DELETE CASCADE,
    position INTEGER NOT NULL, title TEXT NOT NULL, content TEXT NOT NULL, topics TEXT NOT NULL,
    start_s REAL, end_s REAL, PRIMARY KEY (summary_id, position)) WITHOUT ROWID;
CREATE TABLE topics (summary_id INTEGER NOT NULL REFERENCES summaries(id) ON DELETE CASCADE,
    position INTEGER NOT NULL, topic TEXT NOT NULL, PRIMARY KEY (summary_id, position))
    WITHOUT ROWID;
CREATE TABLE general_topics (summary_id INTEGER NOT NULL REFERENCES summaries(id)
    ON DELETE CASCADE, position INTEGER NOT NULL, topic TEXT NOT NULL,
    complexity REAL NOT NULL, PRIMARY KEY (summary_id, position)) WITHOUT ROWID;
INSERT INTO transcripts VALUES (1, 'hash1', 'an old transcript about quaternions');
INSERT INTO summaries VALUES (1, 1, 'key1', '2025-01-01T00:00:00+00:00', '/old.srt', 'srt',
    'Old talk', NULL, NULL, NULL, 60.0, '[]', 'An introduction to rotations.', 0.6, '[]',
    'mistral-7b-instruct-v0.1:Q4_K_M', '/m.gguf', 'sha', 'Q4_K_M', 'p1', 'g1', '{}', 8192,
    100, 1.0, 50, 2.0, '0.0.1', 1.0, 1, '[]', 0);
"""


def _v1_children(conn: sqlite3.Connection) -> None:
    for n in range(1, 6):
        conn.execute(
            "INSERT INTO sections VALUES (1, ?, ?, ?, ?, NULL, NULL)",
            (
                n,
                f"Section {n}: Gimbal lock {n}",
                json.dumps([f"b{n}{k}" for k in range(4)]),
                json.dumps(["x", "y", "z"]),
            ),
        )
    for n, t in enumerate(["Rotations", "Matrices", "Slerp", "Euler", "Graphics"], start=1):
        conn.execute("INSERT INTO topics VALUES (1, ?, ?)", (n, t))
    for n, (t, c) in enumerate(
        [(GENERAL_FIELDS[9], 0.6), (GENERAL_FIELDS[0], 0.3), (GENERAL_FIELDS[10], 0.2)], start=1
    ):
        conn.execute("INSERT INTO general_topics VALUES (1, ?, ?, ?)", (n, t, c))


def test_v1_library_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(V1_SQL)
    _v1_children(conn)
    conn.commit()
    conn.close()
    with Library(path) as lib:
        assert lib._version() == SCHEMA_VERSION
        # Data written before search existed is searchable after the upgrade.
        assert ids(lib.list(query="gimbal")) == [1]
        assert ids(lib.list(query="quaternions")) == [1]
        assert ids(lib.list(query="slerp")) == [1]
        assert lib.get(1).summary.sections[0].title == "Section 1: Gimbal lock 1"
        lib.integrity_check()
        new = lib.add(make_entry(2))
        assert new == 2 and lib.count() == 2


def test_newer_library_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    Library(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES (?, 'future', 'x')", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(LibraryError, match="newer vidsum") as err:
        Library(path)
    assert str(path) in str(err.value)
    assert path.read_bytes() == before


def test_failed_migration_leaves_old_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.library.migrations as L

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(V1_SQL)
    _v1_children(conn)
    conn.commit()
    conn.close()

    def boom(c: sqlite3.Connection) -> None:
        c.execute("CREATE TABLE half_done(x)")
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(L, "MIGRATIONS", (*L.MIGRATIONS, (SCHEMA_VERSION + 1, "boom", boom)))
    monkeypatch.setattr(L, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(LibraryError, match="could not be opened"):
        Library(path)
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert [r[0] for r in conn.execute("SELECT version FROM schema_migrations")] == [1]
    assert "half_done" not in tables and "summary_fts" not in tables
    conn.close()


# --- integrity --------------------------------------------------------------------------------


def test_integrity_check_finds_damage(lib: Library) -> None:
    a = lib.add(make_entry(1))
    lib.integrity_check()
    conn = lib._db()
    conn.execute("DELETE FROM sections WHERE summary_id = ? AND position = 5", (a,))
    with pytest.raises(LibraryError, match=f"summary #{a} is incomplete"):
        lib.integrity_check()
    with pytest.raises(LibraryError, match=f"Summary #{a} .* incomplete or invalid"):
        lib.get(a)


# --- exports ----------------------------------------------------------------------------------


def test_entry_to_json_shape(lib: Library) -> None:
    entry = lib.get(lib.add(make_entry(5, times=TIMES, flags=["repeated bullets"])))
    doc = json.loads(json.dumps(entry_to_json(entry)))
    assert {
        "id",
        "title",
        "source",
        "channel",
        "url",
        "video_id",
        "created_at",
        "summary",
        "coverage",
        "flags",
        "provenance",
    } <= doc.keys()
    assert doc["source"] == "/videos/talk-5.srt" and doc["flags"] == ["repeated bullets"]
    assert doc["summary"]["sections"][1]["start"] == 505.0
    assert doc["summary"]["sections"][1]["end"] == 2024.0
    assert Summary.model_validate(doc["summary"]) == entry.summary
    assert doc["coverage"]["fraction"] == 1.0 and doc["coverage"]["chunks"][0]["tokens"] == 3000
    # The scripting shape: keys are added, never renamed or dropped (every field is exported:
    # tests/library/test_library_provenance.py).
    assert set(doc["provenance"]) >= {
        "model",
        "model_path",
        "model_sha256",
        "quant",
        "prompt_version",
        "grammar_version",
        "sampling",
        "n_ctx",
        "prompt_tokens",
        "prompt_seconds",
        "generated_tokens",
        "generation_seconds",
        "vidsum_version",
        "style",
        "backend",
        "endpoint",
        "endpoint_url",
        "server_build",
    }
    assert doc["provenance"]["style"] == "abstractive"
    assert doc["provenance"]["backend"] == "local" and doc["provenance"]["endpoint"] is None
    assert doc["provenance"]["generated_tokens"] == 700
    assert doc["provenance"]["generation_seconds"] == 9.25


def test_entry_to_markdown(lib: Library) -> None:
    entry = lib.get(lib.add(make_entry(5, times=TIMES)))
    md = entry_to_markdown(entry)
    assert md.startswith("# Talk 5\n")
    assert "### Section 2: Part 2 (00:08:25–00:33:44)" in md
    assert "- Point 2.1 of the talk." in md
    for g in entry.summary.general_topics:
        assert f"| {g.topic} | {g.complexity:.2f} |" in md
    untimed = entry_to_markdown(lib.get(lib.add(make_entry(6))))
    assert "### Section 1: Part 1\n" in untimed


# --- grounding and failed summaries -------------------------------------------------------------


def test_grounding_and_failed_status_round_trip_and_show_everywhere(lib: Library) -> None:
    good = lib.add(make_entry(1, grounding=Grounding(0.62, 0.01, 150)))
    bad = lib.add(
        make_entry(
            2,
            grounding=Grounding(0.13, 0.87, 160),
            failed="ungrounded: 87% of its words come from a few-shot example's video",
        )
    )
    unknown = lib.add(make_entry(3))
    g, b, u = lib.get(good), lib.get(bad), lib.get(unknown)
    assert g.grounding == Grounding(0.62, 0.01, 150) and g.failed is None
    assert b.grounding == Grounding(0.13, 0.87, 160)
    assert b.failed is not None and b.failed.startswith("ungrounded: ")
    assert u.grounding is None and u.failed is None
    rows = {r.id: r for r in lib.list()}
    assert rows[bad].failed == b.failed and rows[good].failed is None
    assert row_to_json(rows[bad])["failed"] == b.failed
    assert row_to_json(rows[good])["failed"] is None
    data = entry_to_json(b)
    assert data["failed"] == b.failed
    assert data["grounding"] == {"grounded": 0.13, "leaked": 0.87, "words": 160}
    assert entry_to_json(u)["grounding"] is None
    md = entry_to_markdown(b).splitlines()
    assert md[2].startswith("> **This summary failed the quality check (ungrounded: ")
    assert "vidsum models pull mistral-7b-instruct-v0.2:Q4_K_M" in md[2]
    assert "- Grounding: 13% of its words occur in the transcript, 87% come from" in "\n".join(md)
    assert "failed the quality check" not in entry_to_markdown(g)


def test_rows_stored_before_grounding_read_as_not_measured(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(V1_SQL)
    _v1_children(conn)
    conn.commit()
    conn.close()
    with Library(path) as lib:
        old = lib.get(1)
        assert old.grounding is None and old.failed is None
        assert lib.list()[0].failed is None
        assert entry_to_json(old)["grounding"] is None
