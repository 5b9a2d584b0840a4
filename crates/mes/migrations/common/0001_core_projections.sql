-- Projections: current state, rebuilt from `events` by `lodestone mes rebuild`.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    roles TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    active BIGINT NOT NULL
);
CREATE TABLE equipment (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    level TEXT NOT NULL,
    parent TEXT,
    ideal_cycle_s DOUBLE PRECISION,
    state TEXT,
    state_since TEXT
);
CREATE TABLE equipment_states (
    equipment TEXT NOT NULL,
    at TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    seq BIGINT NOT NULL
);
CREATE INDEX equipment_states_by_unit ON equipment_states (equipment, at);
CREATE TABLE material_classes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE material_definitions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    class TEXT NOT NULL
);
CREATE TABLE work_masters (
    id TEXT NOT NULL,
    version BIGINT NOT NULL,
    segment TEXT NOT NULL,
    product TEXT NOT NULL,
    bill TEXT NOT NULL,
    parameters TEXT NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE TABLE lots (
    id TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    quantity_kg DOUBLE PRECISION NOT NULL,
    initial_kg DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    disposition TEXT NOT NULL,
    location TEXT,
    supplier_lot TEXT,
    composition TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX lots_by_supplier_lot ON lots (supplier_lot);
CREATE INDEX lots_by_definition ON lots (definition);
CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    work_master TEXT NOT NULL,
    work_master_version BIGINT NOT NULL,
    product TEXT NOT NULL,
    planned_kg DOUBLE PRECISION NOT NULL,
    equipment TEXT,
    state TEXT NOT NULL,
    held_from TEXT,
    priority BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT
);
CREATE INDEX orders_by_state ON orders (state);
-- Genealogy: a step (order, split, merge, continuous output) takes lots in and gives lots out.
CREATE TABLE steps (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    order_id TEXT,
    equipment TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX steps_by_equipment ON steps (equipment, started_at);
CREATE TABLE step_lots (
    step TEXT NOT NULL,
    lot TEXT NOT NULL,
    direction TEXT NOT NULL,
    material_use TEXT NOT NULL,
    quantity_kg DOUBLE PRECISION NOT NULL,
    at TEXT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX step_lots_by_lot ON step_lots (lot, direction);
CREATE INDEX step_lots_by_step ON step_lots (step, direction);
-- Feeds of continuous units, drawn on by outputs whose window overlaps.
CREATE TABLE continuous_feeds (
    equipment TEXT NOT NULL,
    lot TEXT NOT NULL,
    quantity_kg DOUBLE PRECISION NOT NULL,
    from_at TEXT NOT NULL,
    to_at TEXT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX continuous_feeds_by_unit ON continuous_feeds (equipment, from_at);
CREATE TABLE shipments (
    lot TEXT NOT NULL,
    customer TEXT NOT NULL,
    quantity_kg DOUBLE PRECISION NOT NULL,
    at TEXT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX shipments_by_lot ON shipments (lot);
