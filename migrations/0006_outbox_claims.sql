-- Delivery claims: a process about to send a row claims it first, so that
-- two processes delivering at once (the daemon and `digest --send`, say)
-- never send the same row twice. A claim by a process that no longer runs
-- (killed mid-send) is released at the next delivery pass.
ALTER TABLE outbox ADD COLUMN claimed_by INTEGER;
ALTER TABLE outbox ADD COLUMN claimed_until TEXT;
