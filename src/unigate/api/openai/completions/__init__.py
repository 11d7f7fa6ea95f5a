"""OpenAI's completions endpoint: the handler, its wire schema and its renderer."""
