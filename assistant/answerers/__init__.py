"""Passages to a cited answer: the offline answerers, the LLM answerer, citation checks, query rewriting."""
