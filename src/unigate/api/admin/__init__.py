"""The management API: keys (``/v1/keys``) and account credits, behind the management key."""
