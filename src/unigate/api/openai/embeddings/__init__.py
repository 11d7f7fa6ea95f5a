"""OpenAI's embeddings endpoint: the handler, its wire schema and its renderer."""
