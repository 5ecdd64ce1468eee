-- Every audit row attributed and hash-chained (see src/store/audit.rs for
-- the canonical form that `hash` is the SHA-256 of).
--   actor     who caused the row (an e-mail address, an OS user, daemon@host)
--   command   the supplywatch command that wrote it, without its values
--   detail    a JSON object of further attributes (an acceptance's reason…)
--   prev_hash the hash of the row before it; 64 zeros for the first row
--   hash      hex SHA-256 of the row's canonical form
-- Rows written before this migration have NULL in all five until the store
-- chains them, once, the first time it opens the database.
ALTER TABLE audit_log ADD COLUMN actor TEXT;
ALTER TABLE audit_log ADD COLUMN command TEXT;
ALTER TABLE audit_log ADD COLUMN detail TEXT;
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;

-- The one UPDATE allowed: giving a row written before the chain existed its
-- prev_hash and hash, once, with every other column as it was.
DROP TRIGGER audit_log_no_update;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN NOT (
    OLD.hash IS NULL AND OLD.prev_hash IS NULL
    AND length(NEW.hash) = 64 AND length(NEW.prev_hash) = 64
    AND NEW.id IS OLD.id AND NEW.at IS OLD.at AND NEW.source IS OLD.source
    AND NEW.supplier_id IS OLD.supplier_id AND NEW.action IS OLD.action
    AND NEW.field IS OLD.field AND NEW.old_value IS OLD.old_value
    AND NEW.new_value IS OLD.new_value AND NEW.actor IS OLD.actor
    AND NEW.command IS OLD.command AND NEW.detail IS OLD.detail
)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- From now on a row comes with its link: one written without would be a
-- gap in the chain (an older supplywatch still running, say), so it is refused.
CREATE TRIGGER audit_log_chained BEFORE INSERT ON audit_log
WHEN NEW.hash IS NULL OR NEW.prev_hash IS NULL
BEGIN
    SELECT RAISE(ABORT, 'audit_log rows are hash-chained; append them through supplywatch');
END;
