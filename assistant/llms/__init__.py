"""Chat models behind the generative answerer: any OpenAI-compatible server."""
