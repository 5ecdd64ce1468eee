-- Configuration-driven state as registry data: accepted risks and severity
-- overrides enter the record at `sync` (and the daemon's reload), with
-- their own audit rows, never as a side effect of a read command. Written
-- by store/registry.rs. Dates are ISO 8601 text, times RFC 3339 UTC.

-- `[[accept]]` entries as last synced.
CREATE TABLE acceptances (
    supplier_id TEXT NOT NULL REFERENCES suppliers (id),
    check_id    TEXT NOT NULL,
    -- '' covers every target of the supplier.
    target      TEXT NOT NULL DEFAULT '',
    -- The last day it holds.
    until       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    synced_at   TEXT NOT NULL,
    PRIMARY KEY (supplier_id, check_id, target)
) STRICT;

-- `[findings] severity` (supplier_id '') and each supplier's `severity`.
CREATE TABLE severity_overrides (
    supplier_id TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    severity    TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
    PRIMARY KEY (supplier_id, check_id)
) STRICT;

-- What the stored registry was last synced from: read commands compare the
-- config they are given with `fingerprint` and say so when they differ.
CREATE TABLE registry_sync (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    at          TEXT NOT NULL,
    source      TEXT NOT NULL,
    fingerprint TEXT NOT NULL
) STRICT;

-- Why a finding last resolved when it was not simply no longer seen
-- ("target removed from the registry", "supplier exited"); NULL otherwise.
ALTER TABLE findings ADD COLUMN resolution TEXT;
-- When it last resolved, kept while it is open again: "reopened (was
-- resolved on …)".
ALTER TABLE findings ADD COLUMN last_resolved_at TEXT;
UPDATE findings SET last_resolved_at = resolved_at WHERE resolved_at IS NOT NULL;

-- Whether a probe run could see: 1 when most of its probes went unanswered
-- (our own network or resolver, not the suppliers) — such a run records no
-- findings and changes no grade; 0 for a probe run that could see; NULL for
-- runs that probe nothing (paperwork).
ALTER TABLE runs ADD COLUMN blind INTEGER;
