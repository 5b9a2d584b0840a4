-- What each client id was first used for: the SHA-256 of the command (passwords blanked), so
-- a retry is told from a different command sent with a used id (refused, 409). Not a
-- projection: commands are not in the record, so `rebuild` leaves it alone. Client ids used
-- before this migration have no row and are taken as retries.
CREATE TABLE client_commands (
    client_id TEXT PRIMARY KEY,
    command_sha256 TEXT NOT NULL,
    seq BIGINT NOT NULL
);
