-- The response cache of chat requests (core/response_cache.py; storage/sqlite/cache.py). scope is
-- 'a:<account id>' or 'global'; key the SHA-256 of the canonical request; body the encoded
-- answer (core/cache_codec.py). Times are Unix seconds (REAL).
CREATE TABLE response_cache (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    model TEXT NOT NULL,
    body BLOB NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (scope, key)
);
-- Invalidation by model; the sweep of expired entries (and the oldest, past the size limit).
CREATE INDEX response_cache_model ON response_cache (model);
CREATE INDEX response_cache_expiry ON response_cache (expires);
