"""Text to vectors: the local MiniLM embedder, the OpenAI embedder, the worker process."""
