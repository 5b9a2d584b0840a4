-- Quality: specifications per material definition (versioned), lab results (never overwritten:
-- a correction is a new row), and nonconformance records.
CREATE TABLE specifications (
    definition TEXT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    limits TEXT NOT NULL,
    sampling TEXT NOT NULL,
    defined_at TEXT NOT NULL,
    PRIMARY KEY (definition, version)
);
CREATE TABLE results (
    seq BIGINT NOT NULL,
    lot TEXT NOT NULL,
    sample TEXT,
    property TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    unit TEXT NOT NULL,
    method TEXT,
    at TEXT NOT NULL
);
CREATE INDEX results_by_lot ON results (lot, property, seq);
CREATE TABLE nonconformances (
    id TEXT PRIMARY KEY,
    lot TEXT NOT NULL,
    description TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    decision TEXT,
    opened_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE INDEX nonconformances_by_lot ON nonconformances (lot);
