"""User-facing applications on top of the public API: the command line and the chat page."""
