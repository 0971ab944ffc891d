"""Text shared by every stage: sentence splitting, the keyword tokenizer, names."""
