-- Web console sessions (storage/sqlite/console.py). id is the SHA-256 of the cookie, never the
-- cookie; credential the digest of the key signed in with, so that a session ends with its key
-- (disabled, deleted, or a new management key).
CREATE TABLE console_sessions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    key_prefix TEXT,
    credential TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
