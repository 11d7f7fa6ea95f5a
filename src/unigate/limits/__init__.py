"""Per-key rate limits: requests and tokens per minute, counted in memory or in Redis."""
