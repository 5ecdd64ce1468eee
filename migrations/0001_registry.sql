-- The supplier registry as last synced from the config file.
-- List-valued fields are JSON arrays; dates are ISO 8601 text.
CREATE TABLE suppliers (
    id                   TEXT PRIMARY KEY NOT NULL,
    name                 TEXT NOT NULL,
    criticality          TEXT NOT NULL CHECK (criticality IN ('critical', 'important', 'standard')),
    status               TEXT NOT NULL CHECK (status IN ('onboarding', 'active', 'offboarding', 'exited')),
    owner                TEXT,
    security_contact     TEXT,
    services             TEXT NOT NULL DEFAULT '[]',
    domains              TEXT NOT NULL DEFAULT '[]',
    endpoints            TEXT NOT NULL DEFAULT '[]',
    contract_reference   TEXT,
    contract_start       TEXT,
    contract_end         TEXT,
    contract_notice_days INTEGER,
    contract_auto_renew  INTEGER,
    certifications       TEXT NOT NULL DEFAULT '[]',
    exit_plan            TEXT,
    lei                  TEXT,
    country              TEXT,
    -- 0 once the supplier has left the config: it is kept, marked exited.
    in_registry          INTEGER NOT NULL DEFAULT 1,
    onboarded_at         TEXT NOT NULL,
    updated_at           TEXT NOT NULL
) STRICT;
