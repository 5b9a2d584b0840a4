-- Login sessions of the server, so a restart keeps them and several server processes on one
-- database share them. Not events: not in the chain, never replayed. Only the SHA-256 of each
-- token is stored, so a copy of the database does not let anyone act as a logged-in user.
CREATE TABLE sessions (
    token_sha256 TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    used_at_ms BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id, used_at_ms);
