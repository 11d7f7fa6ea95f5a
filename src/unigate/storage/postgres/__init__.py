"""The PostgreSQL store (scaled-out mode): the store, its connection lane and schema."""
