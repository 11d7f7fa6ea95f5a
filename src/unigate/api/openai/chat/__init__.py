"""OpenAI's chat endpoint: the handler, its wire schema and its renderer."""
