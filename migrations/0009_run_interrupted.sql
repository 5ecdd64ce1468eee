-- A probe run stopped by a signal before it probed every supplier: what it
-- judged is recorded, the suppliers it did not reach are untouched.
ALTER TABLE runs ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;
