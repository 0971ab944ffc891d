"""Errors the assistant raises on bad input; each carries a readable message."""


class AssistantError(Exception):
    """Base class: the CLI prints the message and exits non-zero."""

    exit_code = 1


class QuestionError(AssistantError, ValueError):
    """The question is empty, too long or not text."""

    exit_code = 2


class CorpusError(AssistantError):
    """The corpus folder is missing or holds no readable document."""

    exit_code = 3


class IndexStoreError(AssistantError):
    """The index is missing, corrupt or was built with other settings."""

    exit_code = 4


class SettingsError(AssistantError, ValueError):
    """A setting (environment variable, assistant.toml, command-line option or
    keyword argument) has a value that is not allowed; the message names it."""

    exit_code = 2


class IndexConfigError(IndexStoreError):
    """The index cannot be used as configured (Chroma server unreachable,
    vectors of another dimension); rebuilding would not help, so it is never
    wiped for this."""


class ForeignFilesError(IndexConfigError):
    """An index build would delete files that another corpus put on a shared
    Chroma server; nothing was deleted."""


class LLMError(AssistantError):
    """The model could not give an answer: unreachable, too slow, refused the
    request, or sent something that is not a completion."""


class ObeyedInstructions(LLMError):
    """Every claim of the model's answer carried out instructions planted in
    the passages: the caller answers offline instead, keeping what was dropped."""

    def __init__(self, unsupported: list[str], verification: dict, notes: list[str]):
        super().__init__("its answer carried out instructions found in the passages, and was left out")
        self.unsupported, self.verification, self.notes = unsupported, verification, notes


class GoldFileError(AssistantError, ValueError):
    """An eval gold set is missing, empty or malformed; `problems` holds one
    line per problem (`file:line (id): what is wrong`), the message all of them."""

    exit_code = 2

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ConversationError(AssistantError):
    """A saved conversation that is missing or another user's, a bad rating or
    title, or a conversations database that cannot be opened (the message
    names its path)."""

    exit_code = 5


class FileChanged(ValueError):
    """A large corpus file changed while it was read in segments (the file is
    skipped with this reason, and read again by the next build)."""
