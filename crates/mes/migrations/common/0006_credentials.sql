-- Credentials live outside the hash-chained record: the events say that a password was set
-- or reset, never the hash, so a hash can be replaced or removed without breaking the chain.
-- Not a projection (it cannot be rebuilt from events): `rebuild` leaves it alone. Existing
-- hashes move here; the events that already hold them keep them (append-only), and every
-- audit output redacts them.
CREATE TABLE credentials (
    user_id TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    must_change BIGINT NOT NULL,
    changed_at TEXT NOT NULL
);
INSERT INTO credentials (user_id, password_hash, must_change, changed_at)
SELECT id, password_hash, 0, '1970-01-01T00:00:00.000000Z' FROM users;
UPDATE users SET password_hash = '';
