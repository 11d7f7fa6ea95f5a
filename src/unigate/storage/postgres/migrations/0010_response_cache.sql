-- The response cache of chat requests (core/response_cache.py; storage/postgres/cache.py), for
-- deployments without Redis. scope is 'a:<account id>' or 'global'; key the SHA-256 of the
-- canonical request; body the encoded answer (core/cache_codec.py). Times are Unix seconds.
CREATE TABLE response_cache (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    model TEXT NOT NULL,
    body BYTEA NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    expires DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX response_cache_model ON response_cache (model);
CREATE INDEX response_cache_expiry ON response_cache (expires);
