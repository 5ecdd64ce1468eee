-- Findings that live across runs: the runs themselves, the lifecycle of each
-- finding, the score of each supplier per run, and observations kept only
-- when they change. Written by store/runs.rs and store/findings.rs, each run
-- in one transaction. Times are RFC 3339 UTC text, which sorts by time.

-- One row per recorded run (`check --save`, a daemon run). Pruned after
-- `daemon.retention_days`; the counts say what the run changed.
CREATE TABLE runs (
    -- AUTOINCREMENT: an id is never reused, even once every run is pruned.
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    source       TEXT NOT NULL,
    suppliers    INTEGER NOT NULL,
    findings     INTEGER NOT NULL,
    opened       INTEGER NOT NULL,
    reopened     INTEGER NOT NULL,
    resolved     INTEGER NOT NULL,
    observations INTEGER NOT NULL
) STRICT;

CREATE INDEX runs_by_time ON runs (at);

-- One row per (supplier, check, target), ever: its state is updated in
-- place, so a year of runs over the same problems adds no rows here.
-- Never pruned: open ones are the point, resolved ones count reopenings.
CREATE TABLE findings (
    id           INTEGER PRIMARY KEY,
    supplier_id  TEXT NOT NULL REFERENCES suppliers (id),
    check_id     TEXT NOT NULL,
    target       TEXT NOT NULL,
    -- pending: fired, but a damped check that has not yet failed enough runs
    -- in a row; accepted: open, but covered by an [[accept]] entry.
    state        TEXT NOT NULL CHECK (state IN ('pending', 'open', 'accepted', 'resolved')),
    severity     TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
    summary      TEXT NOT NULL,
    -- JSON, as the check gave it when it last fired.
    evidence     TEXT NOT NULL,
    -- 64 bits of SHA-256 over severity, summary and evidence: a refresh
    -- rewrites those three only when this differs, and a run need not read
    -- them back to know.
    content_hash INTEGER NOT NULL,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    -- Start of the current (or last) open period; NULL while a finding has
    -- never been open (pending for the first time).
    opened_at    TEXT,
    -- When it last resolved; NULL unless resolved (or pending after it).
    resolved_at  TEXT,
    -- Last change of state.
    changed_at   TEXT NOT NULL,
    reopen_count INTEGER NOT NULL DEFAULT 0,
    -- Consecutive runs that saw it fire (reset by a complete run that did
    -- not): what flap damping counts.
    streak       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (supplier_id, check_id, target)
) STRICT;

CREATE INDEX findings_by_state ON findings (state, supplier_id);

-- A supplier's score and grade as of each run that covered it: a row per
-- supplier per run (a year of six-hourly runs over 1,000 suppliers is 1.5
-- million rows), so it is kept narrow — the run's time is in `runs`, and
-- runs are ordered by id, the order they were recorded in. No foreign key
-- to runs: pruning deletes both in one transaction, and a foreign key would
-- make SQLite scan this table for every run row deleted.
CREATE TABLE scores (
    supplier_id TEXT NOT NULL REFERENCES suppliers (id),
    run_id      INTEGER NOT NULL,
    score       INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
    grade       TEXT NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D', 'F')),
    PRIMARY KEY (supplier_id, run_id)
) STRICT, WITHOUT ROWID;

-- What the probes saw, content-addressed: one row per distinct normalised
-- content, however many runs (and targets) showed it. store/runs.rs says
-- what is normalised away before hashing.
CREATE TABLE observation_facts (
    id    INTEGER PRIMARY KEY,
    -- SHA-256 of `facts`.
    hash  BLOB NOT NULL UNIQUE,
    -- The normalised facts: canonical JSON, volatile fields dropped.
    facts TEXT NOT NULL
) STRICT;

-- Which facts each (supplier, target, kind) showed, and when: a row is
-- added only when they change. The current row has superseded_at NULL;
-- last_seen is the last run that saw the same facts. Kept narrow, so that
-- moving last_seen every run rewrites little.
CREATE TABLE observations (
    id            INTEGER PRIMARY KEY,
    supplier_id   TEXT NOT NULL REFERENCES suppliers (id),
    target        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    facts_id      INTEGER NOT NULL REFERENCES observation_facts (id),
    first_seen    TEXT NOT NULL,
    last_seen     TEXT NOT NULL,
    superseded_at TEXT
) STRICT;

CREATE UNIQUE INDEX observations_current ON observations (supplier_id, target, kind)
    WHERE superseded_at IS NULL;
CREATE INDEX observations_history ON observations (supplier_id, target, kind, first_seen);
-- For pruning facts no row refers to any more (and the foreign key check).
CREATE INDEX observations_by_facts ON observations (facts_id);
