"""Documents to chunks: finding and reading files, cleaning the text, chunking."""
