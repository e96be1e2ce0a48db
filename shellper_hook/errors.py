"""Typed errors. Every message is one line a user can act on."""


class ShellperError(Exception):
    """Base class; str(err) is the one-line message shown at the prompt."""

    kind = "error"


class AnswerError(ShellperError):
    """The model's answer cannot be used as a tool call."""

    kind = "answer"


class NoToolCall(AnswerError):
    pass


class MalformedAnswer(AnswerError):
    pass


class UnknownTool(AnswerError):
    pass


class MissingArgument(AnswerError):
    pass


class WrongType(AnswerError):
    pass


class UnknownArgument(AnswerError):
    pass


class Refused(ShellperError):
    """The policy will not put this command on the prompt."""

    kind = "refused"


class SettingsError(ShellperError):
    kind = "settings"


class BackendError(ShellperError):
    kind = "backend"


class ServerUnreachable(BackendError):
    pass


class ModelMissing(BackendError):
    pass


class BackendTimeout(BackendError):
    pass


class ServerError(BackendError):
    pass
