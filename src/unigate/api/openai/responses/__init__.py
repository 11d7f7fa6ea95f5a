"""OpenAI's responses endpoint: the handler, its wire schema and its renderer."""
