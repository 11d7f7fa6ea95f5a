"""The PostgreSQL store (scaled-out mode): the store, its statements, group commit and connection
lane, vacuum, console views and migrations."""
