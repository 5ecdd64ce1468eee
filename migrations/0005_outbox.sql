-- E-mail: the durable outbox, the notices that say who was told of what,
-- and the daemon's job runs. Written by store/outbox.rs. Times are RFC 3339
-- UTC text.

-- One row per message per recipient: a 5xx for one recipient does not hold
-- up the others. Written in the transaction of the change that causes it;
-- the delivery loop sends rows in order and marks them sent.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Unique per message and recipient: queueing the same one twice is a no-op.
    key             TEXT NOT NULL UNIQUE,
    -- alert, escalation, repeat, resolved, reminder, blind, sighted, digest
    kind            TEXT NOT NULL,
    supplier_id     TEXT,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    in_reply_to     TEXT,
    -- Space-separated message ids, oldest first.
    refs            TEXT,
    body_text       TEXT NOT NULL,
    body_html       TEXT,
    created_at      TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    sent_at         TEXT
) STRICT;

CREATE INDEX outbox_queue ON outbox (state, next_attempt_at);

-- Who was told what, and when: what escalation, repeats and resolution
-- notices are decided from. `subject` is `finding:<id>`,
-- `questionnaire:<id>` or `monitor`.
CREATE TABLE notices (
    id         INTEGER PRIMARY KEY,
    -- The finding told of, if a finding.
    finding_id INTEGER REFERENCES findings (id),
    subject    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    at         TEXT NOT NULL,
    message_id TEXT NOT NULL,
    -- JSON array of addresses.
    recipients TEXT NOT NULL,
    -- e.g. the days-before of a questionnaire reminder.
    detail     TEXT
) STRICT;

CREATE INDEX notices_by_subject ON notices (subject, kind, at);
CREATE INDEX notices_by_finding ON notices (finding_id) WHERE finding_id IS NOT NULL;

-- The daemon's jobs: when each last ran and how it went.
CREATE TABLE job_runs (
    job           TEXT PRIMARY KEY NOT NULL,
    last_started  TEXT,
    last_finished TEXT,
    last_outcome  TEXT,
    next_at       TEXT
) STRICT;
