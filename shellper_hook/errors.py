"""Typed errors. Every message is one line a user can act on: what happened,
then what to do. A class names its usual action; str() appends it unless the
message already ends with one of its own."""

from __future__ import annotations

import re

# Imperatives a clause can start with when it says what to do.
_ACTIONS = (
    "add",
    "ask",
    "cd",
    "check",
    "choose",
    "chmod",
    "correct",
    "create",
    "delete",
    "edit",
    "fix",
    "free",
    "give",
    "install",
    "move",
    "open",
    "point",
    "pull",
    "raise",
    "recreate",
    "reinstall",
    "remove",
    "rename",
    "rephrase",
    "report",
    "restart",
    "retry",
    "retype",
    "run",
    "say",
    "see",
    "set",
    "start",
    "try",
    "type",
    "unset",
    "update",
    "use",
    "wait",
)
_ENDS_WITH_ACTION = re.compile(r"(?:^|[;:] |, then |, or )(?:then |or |and )?(?:if [^,;:]*, )?(?:" + "|".join(_ACTIONS) + r")\b[^;:]*$")


def names_action(message: str) -> bool:
    """Whether the message's last clause says what to do."""
    return bool(_ENDS_WITH_ACTION.search(message.strip()))


def with_action(message: str, action: str | None) -> str:
    """The message, one line, ending with what to do (action, unless it already ends with one)."""
    message = " ".join(message.split())
    if not action or message.endswith(action) or names_action(message):
        return message
    return f"{message}; {action}"


# Characters that would drive the terminal or break the line a message is shown on.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0080-\u009f\u2028\u2029]+")


def one_line(text, limit: int) -> str:
    """str(text) as one line of at most limit characters (controls and runs of whitespace made
    one space; cut with "..."), for quoting a server's, a program's or the model's text."""
    flat = " ".join(_CONTROL.sub(" ", str(text)[: limit * 50]).split())  # a prefix: bounded work
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class ShellperError(Exception):
    """Base class; str(err) is the one-line message shown at the prompt."""

    kind = "error"
    action: str | None = "run `shellper doctor`, which says what to fix"
    # Messages that quote the model's own text cannot be trusted to end with an
    # action of ours, so the class's action always follows them.
    quotes_model = False

    def __str__(self) -> str:
        message = super().__str__()
        if self.quotes_model:
            message = " ".join(message.split())
            return message if message.endswith(self.action or "") else f"{message}; {self.action}"
        return with_action(message, self.action)


class AnswerError(ShellperError):
    """The model's answer cannot be used as a tool call."""

    kind = "answer"
    action = "rephrase the request, or try again"
    quotes_model = True


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


class OutOfReach(ShellperError):
    """The request asks for a program the model's 18 file tools do not cover."""

    kind = "out_of_reach"


class Refused(ShellperError):
    """The policy will not put this command on the prompt."""

    kind = "refused"
    action = "rephrase the request, or type the command yourself if you mean it"


class SettingsError(ShellperError):
    kind = "settings"
    action = "correct that setting (`shellper config` shows them all)"


class BackendError(ShellperError):
    kind = "backend"
    action = "run `shellper doctor`, which checks the model server"


class ServerUnreachable(BackendError):
    action = "start the model server or correct base_url, then try again (`shellper doctor` checks it)"


class ModelMissing(BackendError):
    pass


class BackendTimeout(BackendError):
    action = "try again"


class ServerError(BackendError):
    action = "try again; if it keeps failing, run `shellper doctor`"
