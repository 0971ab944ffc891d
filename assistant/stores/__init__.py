"""The index: the vector store (Chroma), the BM25 index, the manifest and the builder."""
