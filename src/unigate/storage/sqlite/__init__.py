"""The SQLite store (the embedded default): the store, its write batching, checkpoints and schema."""
