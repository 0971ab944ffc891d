"""Queries to passages: hybrid keyword + vector search and fusion."""
