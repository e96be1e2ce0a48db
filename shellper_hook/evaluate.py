"""`shellper eval`: measure the model's tool-call accuracy on a test set.

Each test row goes to the model server exactly as the daemon would send it
(backend.build_messages / request_kwargs / parser, via Backend.call),
with the row's own history as the earlier exchanges. An answer is right
when its tool name and arguments equal the expected call once omitted
optional arguments are filled in with their defaults.

Rows are independent (the history is the test set's, not the model's own
earlier answers), so they run concurrently.

With several --model names the same rows go to each model in turn, one
request at a time after one warm-up request (model loaded, shared prompt
prefix cached, as the daemon keeps it), so each request's latency is its own
and not time spent queued behind the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass
from typing import NamedTuple

from . import tools
from .errors import ModelMissing, ServerUnreachable, SettingsError, ShellperError
from .settings import model_key
from .tools import ToolCall

EXIT_OK = 0
EXIT_UNAVAILABLE = 1  # server unreachable or model missing: nothing could be scored
EXIT_BAD_INPUT = 2
CONCURRENCY = 4  # one model: requests in flight at once
COMPARE_CONCURRENCY = 1  # several: one at a time, so a latency is one request's own

DEFAULT_DATASET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "bfcl_fs_eval.jsonl")
IMPLIED_TURNS = 5  # the model card's "5-turn tool call accuracy"
_TURN_ID = re.compile(r"(.+)/turn\d+\Z", re.S)
_EXCERPT = 70
# Test-set text is echoed to a terminal: never let it carry escape sequences.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0080-\u009f\u2028\u2029]+")


class DatasetError(ShellperError):
    """The test set cannot be read; the message names the file and line."""

    kind = "input"


class _Bad(Exception):
    """One row is malformed (the caller adds file and line)."""


class Unavailable(ShellperError):
    """No row could be scored: the server is down or the model is missing."""

    kind = "backend"


# ---------------------------------------------------------------- the test set


@dataclass(frozen=True)
class Case:
    id: str
    line: int
    history: tuple  # ((request text, AsGiven), ...), oldest first
    request: str
    expected: ToolCall

    @property
    def conversation(self) -> str:
        """Rows with ids "NAME/turnK" belong to conversation NAME."""
        m = _TURN_ID.match(self.id)
        return m.group(1) if m else self.id

    @property
    def turns(self) -> int:
        return len(self.history) + 1


def _arguments(value, where: str) -> dict:
    if value is None:
        return {}
    if isinstance(value, str):  # the OpenAI wire form: a JSON string
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise _Bad(f"{where}: arguments are a string that is not JSON") from None
    if not isinstance(value, dict):
        raise _Bad(f"{where}: arguments must be a JSON object")
    return value


def _call(name, arguments, where: str) -> ToolCall:
    try:
        return tools.validate(name, _arguments(arguments, where))
    except ShellperError as exc:
        # validate() words its errors for model answers; keep the reason.
        raise _Bad(f"{where}: {exc}".replace("the model gave ", "").replace("the model ", "")) from None


class AsGiven(NamedTuple):
    """A history call as the test set spells it: sent to the model verbatim,
    as the model card's evaluation does (checked, but defaults not filled in)."""

    name: str
    arguments: dict


def _function(msg: dict, where: str) -> dict:
    calls = msg.get("tool_calls")
    if not isinstance(calls, list) or len(calls) != 1 or not isinstance(calls[0], dict):
        raise _Bad(f"{where}: an assistant turn must carry exactly one entry in tool_calls")
    fn = calls[0].get("function")
    if not isinstance(fn, dict):
        raise _Bad(f"{where}: the tool call has no 'function' object")
    return fn


def _assistant_call(msg: dict, where: str) -> ToolCall:
    fn = _function(msg, where)
    return _call(fn.get("name"), fn.get("arguments"), where)


def _history_call(msg: dict, where: str) -> AsGiven:
    fn = _function(msg, where)
    _call(fn.get("name"), fn.get("arguments"), where)
    return AsGiven(fn["name"], _arguments(fn.get("arguments"), where))


def _user_text(msg: dict, where: str) -> str:
    text = msg.get("content")
    if not isinstance(text, str) or not text.strip():
        raise _Bad(f"{where}: a user turn needs its request as non-empty text in 'content'")
    return text


def parse_row(obj, line: int) -> Case:
    """One test row in either accepted format; raises _Bad."""
    if not isinstance(obj, dict):
        raise _Bad("each line must be a JSON object")
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _Bad("'messages' must be a non-empty list")
    for i, msg in enumerate(messages, 1):
        if not isinstance(msg, dict):
            raise _Bad(f"message {i} is not a JSON object")
    start = 1 if messages[0].get("role") == "system" else 0  # we send our own prompt
    turns = list(enumerate(messages, 1))[start:]
    if "expected" in obj:
        exp = obj["expected"]
        if not isinstance(exp, dict):
            raise _Bad("'expected' must be an object with 'name' and 'arguments'")
        expected = _call(exp.get("name"), exp.get("arguments"), "expected")
    else:  # the trainer's format: the last assistant call is the answer
        if not turns or turns[-1][1].get("role") != "assistant":
            raise _Bad("no 'expected' call, and 'messages' does not end with the assistant's tool call")
        i, last = turns.pop()
        expected = _assistant_call(last, f"message {i}")
    history, pending = [], None
    for i, msg in turns:
        role, where = msg.get("role"), f"message {i}"
        want = "user" if pending is None else "assistant"
        if role != want:
            raise _Bad(f"{where}: expected a {want} turn, found role {role!r} (turns must alternate user, assistant, ..., user)")
        if role == "user":
            pending = _user_text(msg, where)
        else:
            history.append((pending, _history_call(msg, where)))
            pending = None
    if pending is None:
        raise _Bad("the conversation must end with a user request before the expected call")
    raw_id = obj.get("id")
    if raw_id is None:
        ident = f"line {line}"
    elif isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) and str(raw_id).strip():
        ident = str(raw_id)
    else:
        raise _Bad("'id' must be a non-empty string")
    return Case(ident, line, tuple(history), pending, expected)


def load_cases(path: str, parse=None) -> list:
    """Every row of a JSONL test set, each read by parse(obj, line) (parse_row: this set's
    rows; general_eval has its own). Raises DatasetError at the first bad line."""
    parse = parse_row if parse is None else parse
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the test set: {exc.strerror or exc}") from None
    cases, seen = [], {}
    with fh:
        for line, raw in enumerate(fh, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DatasetError(f"{path}, line {line}: not UTF-8 text") from None
            if not text.strip():
                continue
            try:
                case = parse(json.loads(text), line)
            except (ValueError, RecursionError) as exc:
                why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
                raise DatasetError(f"{path}, line {line}: not valid JSON ({why})") from None
            except _Bad as exc:
                raise DatasetError(f"{path}, line {line}: {exc}") from None
            if case.id in seen:
                raise DatasetError(f"{path}, line {line}: id {case.id!r} repeats line {seen[case.id]}")
            seen[case.id] = line
            cases.append(case)
    if not cases:
        raise DatasetError(f"{path}: the test set has no rows")
    return cases


# ---------------------------------------------------------------- running


@dataclass(frozen=True)
class Outcome:
    case: Case
    got: ToolCall | None = None
    error: str | None = None
    fatal: str | None = None  # the fix when the server is unreachable or the model missing
    seconds: float | None = None  # request to answer (None: no answer came)

    @property
    def correct(self) -> bool:
        return self.got is not None and same_call(self.got, self.case.expected)


def same_call(a: ToolCall, b: ToolCall) -> bool:
    return a == b  # one definition: validated calls, defaults filled in


class Progress:
    """A one-line bar on a terminal's stderr; silent when it is not a tty."""

    WIDTH = 30

    def __init__(self, total: int, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.total, self.done = total, 0
        try:
            self.enabled = self.stream.isatty()
        except (AttributeError, ValueError):
            self.enabled = False

    def step(self) -> None:
        self.done += 1
        if self.enabled:
            filled = self.WIDTH * self.done // max(self.total, 1)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self.stream.write(f"\r[{bar}] {self.done}/{self.total}")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\r" + " " * (self.WIDTH + 24) + "\r")
            self.stream.flush()


async def _score(backend, case: Case) -> Outcome:
    start = time.perf_counter()
    try:
        got = await backend.call(list(case.history), case.request)
    except ServerUnreachable as exc:
        return Outcome(case, error=str(exc), fatal="for another server, pass --base-url URL")
    except ModelMissing as exc:
        return Outcome(case, error=str(exc), fatal="for another model, pass --model NAME")
    except ShellperError as exc:  # the server answered, with something that is not a call
        return Outcome(case, error=str(exc), seconds=time.perf_counter() - start)
    except Exception as exc:  # a backend bug must cost one row, not the whole run
        return Outcome(case, error=f"unexpected {type(exc).__name__}: {exc}")
    return Outcome(case, got=got, seconds=time.perf_counter() - start)


def _nothing_scored(error: str, fix: str) -> str:
    joint = " " + fix[:1].upper() + fix[1:] if error.endswith(("?", ".")) else "; " + fix
    return f"nothing was scored: {error}{joint}"


async def run_cases(backend, cases: list, concurrency: int = 4, progress: Progress | None = None) -> list:
    """Outcomes in the order of `cases`. Raises Unavailable when the first row
    finds the server down or the model missing (one message, not one per row)."""
    progress = progress or Progress(len(cases), stream=_Quiet())
    first = await _score(backend, cases[0])
    progress.step()
    if first.fatal:
        raise Unavailable(_nothing_scored(first.error, first.fatal))
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(case):
        async with gate:
            out = await _score(backend, case)
        progress.step()
        return out

    rest = await asyncio.gather(*(one(c) for c in cases[1:]))
    return [first, *rest]


class _Quiet:
    def isatty(self) -> bool:
        return False


async def close(backend) -> None:
    try:
        await backend.aclose()
    except Exception:  # closing must not hide the results
        pass


def check_status(status: dict, missing: str) -> None:
    """Unavailable (nothing scored) when a server_status() says the server is down or the model
    is missing (said as `missing`)."""
    if not status.get("reachable"):
        raise Unavailable(
            _nothing_scored(status.get("message") or "the server is not reachable", "for another server, pass --base-url URL")
        )
    if status.get("model_present") is False:
        raise Unavailable(_nothing_scored(missing, "for another model, pass --model NAME"))


async def _run_with_backend(settings, cases, concurrency, progress) -> list:
    from .backend import Backend

    backend = Backend(settings)
    try:
        return await run_cases(backend, cases, concurrency, progress)
    finally:
        await close(backend)


async def _compare_run(settings, models: list, cases: list, concurrency: int, progress) -> list:
    """[outcomes of each model], the models one after the other. Raises Unavailable
    before any row is sent when the server is down or one of the models is missing."""
    from .backend import Backend

    backends = [Backend(dataclasses.replace(settings, model=m)) for m in models]
    try:
        for backend in backends:  # every model checked first: no run wasted on a typo in the last
            status = await backend.server_status()
            check_status(status, status.get("message") or f"no model '{backend.settings.model}'")
        runs = []
        for backend in backends:
            # Untimed: loads the model and has the server cache the prompt prefix every
            # request shares, as the daemon does, so no model pays for loading in its figures.
            await backend.warm_prompt_cache()
            runs.append(await run_cases(backend, cases, concurrency, progress))
        return runs
    finally:
        for backend in backends:
            await close(backend)


# ---------------------------------------------------------------- the report


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def nearest_rank(values: list, q: float) -> float:
    """The q-quantile by nearest rank: the smallest value with at least q of all at or below it."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def pct(value: float) -> str:
    return f"{100 * value:.2f}%"


@dataclass
class Report:
    outcomes: list

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def correct(self) -> int:
        return sum(o.correct for o in self.outcomes)

    @property
    def accuracy(self) -> float:
        return _ratio(self.correct, self.total)

    @property
    def max_turns(self) -> int:
        return max(o.case.turns for o in self.outcomes)

    def implied(self) -> list:
        """[(N, single^N)]: the chance of N right calls in a row if errors are independent."""
        ns = [IMPLIED_TURNS]
        if self.max_turns > 1 and self.max_turns != IMPLIED_TURNS:
            ns.append(self.max_turns)
        return [(n, self.accuracy**n) for n in sorted(ns)]

    def conversations(self) -> dict:
        groups: dict = {}
        for o in self.outcomes:
            groups.setdefault(o.case.conversation, []).append(o)
        return groups

    def conversation_counts(self) -> tuple:
        groups = self.conversations()
        return sum(all(o.correct for o in g) for g in groups.values()), len(groups)

    def per_tool(self) -> dict:
        counts: dict = {}
        for o in self.outcomes:
            c = counts.setdefault(o.case.expected.name, [0, 0])
            c[0] += o.correct
            c[1] += 1
        order = {n: i for i, n in enumerate(tools.names())}
        return {k: tuple(counts[k]) for k in sorted(counts, key=lambda n: order.get(n, len(order)))}

    def failures(self) -> list:
        return [o for o in self.outcomes if not o.correct]

    def latency(self) -> tuple:
        """(median, p90) seconds over the requests the server answered, or (None, None)."""
        times = [o.seconds for o in self.outcomes if o.seconds is not None]
        if not times:
            return None, None
        return statistics.median(times), nearest_rank(times, 0.9)

    def to_json(self, dataset: str, settings) -> dict:
        conv_ok, conv_n = self.conversation_counts()
        return {
            "dataset": dataset,
            "base_url": settings.base_url,
            "model": settings.model,
            "requests": self.total,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "max_turns": self.max_turns,
            "implied": [{"turns": n, "accuracy": a} for n, a in self.implied()],
            "conversations": {"total": conv_n, "correct": conv_ok, "accuracy": _ratio(conv_ok, conv_n)},
            "per_tool": {name: {"total": n, "correct": ok, "accuracy": _ratio(ok, n)} for name, (ok, n) in self.per_tool().items()},
            "failures": [_outcome_json(o) for o in self.failures()],
        }


def _outcome_json(o: Outcome) -> dict:
    return {
        "id": o.case.id,
        "line": o.case.line,
        "request": o.case.request,
        "expected": o.case.expected.to_dict(),
        "got": o.got.to_dict() if o.got is not None else None,
        "error": o.error,
    }


def _excerpt(text: str, limit: int = _EXCERPT) -> str:
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def show_call(call: ToolCall) -> str:
    return f"{call.name} {json.dumps(call.arguments, ensure_ascii=False, sort_keys=True)}"


def _table(header: list, rows: list) -> list:
    """A Markdown table with padded columns (readable raw, pasteable into docs)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]


def render_text(report: Report, dataset: str, settings) -> str:
    conv_ok, conv_n = report.conversation_counts()
    out = [
        f"dataset: {dataset} ({report.total} requests in {conv_n} conversations, up to {report.max_turns} turns)",
        f"model:   {settings.model} at {settings.base_url}",
        "",
    ]
    header = ["Model", "Tool call accuracy (test set)"]
    row = [settings.model, f"{pct(report.accuracy)} ({report.correct}/{report.total})"]
    for n, acc in report.implied():
        header.append(f"=> {n}-turn tool call accuracy (implied)")
        row.append(pct(acc))
    header.append("Whole conversations (measured)")
    row.append(f"{pct(_ratio(conv_ok, conv_n))} ({conv_ok}/{conv_n})")
    out += _table(header, [row])
    out += [
        "",
        *_table(["Tool", "Correct", "Accuracy"], [[name, f"{ok}/{n}", pct(_ratio(ok, n))] for name, (ok, n) in report.per_tool().items()]),
    ]
    failures = report.failures()
    out += ["", f"Failures ({len(failures)}):" if failures else "Failures: none"]
    for o in failures:
        out.append(f'- {_excerpt(o.case.id, 200)}: "{_excerpt(o.case.request)}"')
        out.append(f"    expected: {show_call(o.case.expected)}")
        out.append(f"    got:      {show_call(o.got)}" if o.got is not None else f"    error:    {o.error}")
    return "\n".join(out)


def _ms(seconds):
    return None if seconds is None else 1000 * seconds


def _show_ms(seconds, first=None) -> str:
    """A latency as "203 ms"; given the first model's, as "203 ms (+151 ms, 3.90x)"."""
    if seconds is None:
        return "-"
    text = f"{_ms(seconds):.0f} ms"
    if first is not None:
        ratio = f", {seconds / first:.2f}x" if first > 0 else ""
        text += f" ({_ms(seconds - first):+.0f} ms{ratio})"
    return text


def _minus(a, b):
    return None if a is None or b is None else a - b


def _points(diff: float) -> str:
    return f"{100 * diff:+.2f} pts"


def render_comparison(reports: list, dataset: str, settings, concurrency: int) -> str:
    """reports: [(model, Report)]; every figure after the first row also as its difference from the first."""
    first_model, first = reports[0]
    first_conv = _ratio(*first.conversation_counts())
    first_median, first_p90 = first.latency()
    how = (
        "one request at a time" if concurrency == 1 else f"{concurrency} requests in flight at once, so it includes waiting for the server"
    )
    out = [
        f"dataset: {dataset} ({first.total} requests in {first.conversation_counts()[1]} conversations, up to {first.max_turns} turns)",
        f"server:  {settings.base_url}",
        f"latency: request to answer, {how}, after one untimed warm-up request per model; p90: 9 in 10 requests took at most this",
        f"Each row after the first also shows its difference from {_excerpt(first_model, 200)}.",
        "",
    ]
    rows = []
    for i, (model, r) in enumerate(reports):
        ok, n = r.conversation_counts()
        median, p90 = r.latency()
        accuracy = f"{pct(r.accuracy)} ({r.correct}/{r.total})"
        whole = f"{pct(_ratio(ok, n))} ({ok}/{n})"
        if i:
            accuracy += f" {_points(r.accuracy - first.accuracy)}"
            whole += f" {_points(_ratio(ok, n) - first_conv)}"
        rows.append(
            [_excerpt(model, 200), accuracy, whole, _show_ms(median, first_median if i else None), _show_ms(p90, first_p90 if i else None)]
        )
    out += _table(["Model", "Tool call accuracy", "Whole conversations", "Median latency", "p90 latency"], rows)
    out += ["", "Failures (`shellper eval --model NAME` lists one model's in full):"]
    for model, r in reports:
        ids = [_excerpt(o.case.id, 40) for o in r.failures()]
        listed = ", ".join(ids[:8]) + (f", ... ({len(ids) - 8} more)" if len(ids) > 8 else "")
        out.append(f"- {_excerpt(model, 200)}: {len(ids)}" + (f" ({listed})" if ids else ""))
    return "\n".join(out)


def comparison_json(reports: list, dataset: str, settings, concurrency: int) -> dict:
    first = reports[0][1]
    first_conv = _ratio(*first.conversation_counts())
    first_median, first_p90 = (_ms(v) for v in first.latency())
    models = []
    for i, (model, r) in enumerate(reports):
        entry = r.to_json(dataset, dataclasses.replace(settings, model=model))
        del entry["dataset"], entry["base_url"]  # said once, above the models
        median, p90 = (_ms(v) for v in r.latency())
        entry["latency_ms"] = {"median": median, "p90": p90, "requests": sum(o.seconds is not None for o in r.outcomes)}
        entry["vs_first"] = (
            None
            if i == 0
            else {
                "accuracy": r.accuracy - first.accuracy,
                "conversation_accuracy": entry["conversations"]["accuracy"] - first_conv,
                "median_ms": _minus(median, first_median),
                "p90_ms": _minus(p90, first_p90),
            }
        )
        models.append(entry)
    return {"dataset": dataset, "base_url": settings.base_url, "concurrency": concurrency, "models": models}


# ---------------------------------------------------------------- the command


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"shellper eval: {message}\n")
    return code


def _models(args) -> list:
    """The --model names, checked (none given: [])."""
    given = getattr(args, "model", None)
    models = [given] if isinstance(given, str) else list(given or [])
    seen = set()
    for model in models:
        if not model.strip() or re.search(r"\s", model):
            raise SettingsError(f"--model must be a model name without spaces, not {model!r}")
        if model_key(model) in seen:
            raise SettingsError(f"--model {model} is given twice; name each model to compare once")
        seen.add(model_key(model))
    return models


def _overrides(settings, args):
    changes = {}
    base_url = getattr(args, "base_url", None)
    if base_url is not None:
        base_url = base_url.strip().rstrip("/")
        if not re.match(r"https?://[^/\s?#]+(/\S*)?\Z", base_url):
            raise SettingsError(f"--base-url must be an http:// or https:// URL such as http://localhost:11434/v1, not {args.base_url!r}")
        changes["base_url"] = base_url
    models = _models(args)
    if len(models) == 1:
        changes["model"] = models[0]
    return dataclasses.replace(settings, **changes) if changes else settings


def arguments(args, default_concurrency) -> tuple:
    """(--model names, the settings with --base-url and a single --model, --concurrency or
    default_concurrency(models)), for `shellper eval` and `eval --general`; SettingsError."""
    from . import settings as settings_mod

    models = _models(args)
    settings = _overrides(settings_mod.load(), args)
    concurrency = getattr(args, "concurrency", None)
    if concurrency is None:
        concurrency = default_concurrency(models)
    if not isinstance(concurrency, int) or concurrency < 1:
        raise SettingsError(f"--concurrency must be 1 or more, not {concurrency}")
    return models, settings, concurrency


def main(args) -> int:
    dataset = getattr(args, "dataset", None) or DEFAULT_DATASET
    try:
        models, settings, concurrency = arguments(args, lambda models: COMPARE_CONCURRENCY if len(models) > 1 else CONCURRENCY)
    except SettingsError as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)
    compare = len(models) > 1
    try:
        cases = load_cases(dataset)
    except DatasetError as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)
    # Send each row's whole history, whatever the daemon's own cap is.
    longest = max(len(c.history) for c in cases)
    settings = dataclasses.replace(settings, max_turns=max(settings.max_turns, longest))

    progress = Progress(len(cases) * max(1, len(models)))
    try:
        try:
            if compare:
                runs = asyncio.run(_compare_run(settings, models, cases, concurrency, progress))
            else:
                outcomes = asyncio.run(_run_with_backend(settings, cases, concurrency, progress))
        finally:  # clear the bar before any message, also on Ctrl-C
            progress.close()
    except ShellperError as exc:  # Unavailable, or the backend refused the settings
        return _fail(str(exc), EXIT_UNAVAILABLE)

    if compare:
        reports = [(m, Report(o)) for m, o in zip(models, runs)]
        if getattr(args, "json", False):
            print(json.dumps(comparison_json(reports, dataset, settings, concurrency), ensure_ascii=False, indent=2))
        else:
            print(render_comparison(reports, dataset, settings, concurrency))
        return EXIT_OK
    report = Report(outcomes)
    if getattr(args, "json", False):
        print(json.dumps(report.to_json(dataset, settings), ensure_ascii=False, indent=2))
    else:
        print(render_text(report, dataset, settings))
    return EXIT_OK
