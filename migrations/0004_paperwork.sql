-- Paperwork: the renewal term of auto-renewing contracts, and due-diligence
-- questionnaires (sent → answered → reviewed). Written by store/registry.rs
-- and store/paperwork.rs; dates are ISO 8601 text (YYYY-MM-DD).

-- Months per renewal term; NULL without a contract.
ALTER TABLE suppliers ADD COLUMN contract_renewal_months INTEGER;
-- The default term (12 months) for contracts synced before: a sync after the
-- upgrade then sees nothing changed.
UPDATE suppliers SET contract_renewal_months = 12 WHERE contract_reference IS NOT NULL;

CREATE TABLE questionnaires (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    supplier_id     TEXT NOT NULL REFERENCES suppliers (id),
    template        TEXT NOT NULL,
    sent_on         TEXT NOT NULL,
    sent_to         TEXT,
    due             TEXT NOT NULL CHECK (due >= sent_on),
    answered_on     TEXT CHECK (answered_on >= sent_on),
    -- The answered document, stored as documents/<sha256> beside the database.
    document_sha256 TEXT,
    document_name   TEXT,
    document_size   INTEGER,
    reviewed_on     TEXT CHECK (reviewed_on >= answered_on),
    score           INTEGER CHECK (score BETWEEN 0 AND 100),
    reviewer        TEXT,
    notes           TEXT,
    outcome         TEXT CHECK (outcome IN ('accepted', 'remediation', 'rejected')),
    -- A review needs an answer first, and carries its score and reviewer.
    CHECK (reviewed_on IS NULL OR (answered_on IS NOT NULL AND score IS NOT NULL
                                   AND reviewer IS NOT NULL AND outcome IS NOT NULL)),
    CHECK ((document_sha256 IS NULL) = (document_name IS NULL)
           AND (document_sha256 IS NULL) = (document_size IS NULL))
) STRICT;

-- At most one questionnaire in progress (not yet reviewed) per supplier.
CREATE UNIQUE INDEX questionnaires_in_progress ON questionnaires (supplier_id)
    WHERE reviewed_on IS NULL;
CREATE INDEX questionnaires_by_supplier ON questionnaires (supplier_id, sent_on);
