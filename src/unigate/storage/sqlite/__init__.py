"""The SQLite store (the embedded default): the store, its statements, write batching,
checkpoints, console views and migrations."""
