"""Saved conversations: the chat page's history and its thumbs up/down,
kept in a SQLite file beside the index (`db_path(settings)`), one user's
conversations never visible to another. `export` turns the rated turns
into gold-set candidates (`assistant feedback export`).
"""

from assistant.conversations.store import (
    Conversation,
    ConversationStore,
    Feedback,
    Summary,
    Turn,
    db_path,
)

__all__ = ["Conversation", "ConversationStore", "Feedback", "Summary", "Turn", "db_path"]
