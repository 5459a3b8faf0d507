"""A model file's own chat template, rendered as untrusted code: sandboxed, time-bounded, size-bounded.

A GGUF's ``tokenizer.chat_template`` is Jinja written by whoever made the file.  Jinja's sandbox
stops it reaching Python's internals (``''.__class__``) and bounds ``range()`` to 100,000 steps,
but not the total work: two nested 100,000-step loops kept the engine busy for minutes
(ENGINE-FACTS.md), a macro may call itself, a string may double in a loop.  Python cannot stop a
running render from outside portably (no thread can be interrupted; ``signal.alarm`` is Unix-only
and main-thread-only), so the render stops itself:

* **time**: the code generator writes a deadline check at the top of every block body the
  template runs (each loop iteration, each branch taken, each macro call) and into every loop
  filter (``for x in xs if ...``), and every call, filter, attribute and item lookup checks it
  too.  No construct of the language repeats work without passing one of these checks.
* **size**: numbers given to calls and filters (``center(10**9)``), the results of ``*``, ``**``,
  ``+``, ``%``, calls and filters, and the output itself are bounded; every way into text
  (printing, ``~``, ``join``, ``tojson``, ``string``, formatting) is sized first, since a list
  holding one long string 100,000 times is short as a list and enormous as text; and string
  operations whose result multiplies their inputs (``replace``, ``format``, ``indent``,
  ``expandtabs``, repetition) are sized before they run.  So a template cannot build a gigabyte
  in one C call between two checks; what one bounded call can do (sorting a million items)
  takes well under a second.
* **recursion**: Python's own limit; the ``RecursionError`` is caught like any failure.

Constant folding at compile time is off (``optimized=False``): with it, Jinja would run a filter
such as ``'x'|center(10**9)`` while compiling, outside any check.

A failure is a :class:`TemplateFailure` saying which kind it was; :func:`fallback_notice` turns it
into the sentence the user reads.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache, wraps
from string import Formatter
from typing import TYPE_CHECKING, Any, Literal

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from desktop_app.errors import UserError

if TYPE_CHECKING:
    from jinja2 import Template

TIME_LIMIT_S = 2.0
"""How long one render may take.  The official Gemma 3 template renders a 200-message
conversation in 2.3 ms here with these checks (1.0 ms without), so this is several hundred times
what an honest template needs, and short enough that a hostile one costs a pause, not a hang."""

MAX_SOURCE_CHARS = 200_000
"""Longest template compiled (compiling cannot be interrupted).  Real ones are 1-20 KB."""

MAX_NUMBER_ARGUMENT = 1_000_000
"""Largest integer a template may pass to a call or filter (a width, a count, a length)."""

MIN_VALUE_CHARS = 1_000_000
"""Bound on any string, list or dict a template builds, and on its output, for a short
conversation; it grows with the conversation (:data:`VALUE_CHARS_PER_INPUT_CHAR`)."""

VALUE_CHARS_PER_INPUT_CHAR = 4
"""A prompt is the conversation plus a few markers per turn: four times its text is generous."""

MAX_INT_BITS = 100_000
"""Largest integer a template may compute (``**`` and ``*`` on integers), about 30,000 digits."""

MAX_DETAIL_CHARS = 160
"""How much of an error's own text a sentence quotes."""

Problem = Literal["raised", "sandbox", "time", "limits", "broken", "not a prompt"]


class TemplateFailure(Exception):
    """A chat template could not make this prompt; ``problem`` says why, ``detail`` quotes the
    template's own words ("raised") or the error ("broken")."""

    def __init__(self, problem: Problem, detail: str = "") -> None:
        self.problem: Problem = problem
        self.detail = _one_line(detail)
        super().__init__(f"{problem}: {self.detail}" if self.detail else problem)


def fallback_notice(failure: TemplateFailure, model_name: str) -> UserError:
    """The sentence for the user: which file, what went wrong, and that the built-in template
    (Gemma 3's official one, written out) takes over."""
    if failure.problem == "raised":
        return UserError(
            "The chat template in '{name}' stopped with its own error ('{detail}'), so Gemma "
            "Desktop uses its built-in Gemma 3 template instead.",
            name=model_name,
            detail=failure.detail,
        )
    if failure.problem == "sandbox":
        return UserError(
            "The chat template in '{name}' tried to reach outside its sandbox and was stopped, "
            "so Gemma Desktop uses its built-in Gemma 3 template instead.",
            name=model_name,
        )
    if failure.problem == "time":
        return UserError(
            "The chat template in '{name}' ran for more than {seconds} seconds and was stopped, "
            "so Gemma Desktop uses its built-in Gemma 3 template instead.",
            name=model_name,
            seconds=failure.detail,
        )
    if failure.problem == "limits":
        return UserError(
            "The chat template in '{name}' tried to build more text, numbers or nesting than a "
            "chat template may and was stopped, so Gemma Desktop uses its built-in Gemma 3 "
            "template instead.",
            name=model_name,
        )
    if failure.problem == "broken":
        return UserError(
            "The chat template in '{name}' does not work ('{detail}'), so Gemma Desktop uses its "
            "built-in Gemma 3 template instead.",
            name=model_name,
            detail=failure.detail,
        )
    return UserError(
        "The chat template in '{name}' produced something that is not a prompt for this "
        "conversation, so Gemma Desktop uses its built-in Gemma 3 template instead.",
        name=model_name,
    )


def refusal(failure: TemplateFailure, model_name: str) -> UserError:
    """The sentence when no built-in template can stand in (a Gemma 4 model's turns are its own)."""
    if failure.problem == "raised":
        return UserError(
            "The chat template in '{name}' stopped with its own error ('{detail}'), and Gemma "
            "Desktop has no built-in template for this kind of model, so it cannot be used.",
            name=model_name,
            detail=failure.detail,
        )
    if failure.problem == "sandbox":
        return UserError(
            "The chat template in '{name}' tried to reach outside its sandbox and was stopped, so "
            "this model cannot be used.",
            name=model_name,
        )
    if failure.problem == "time":
        return UserError(
            "The chat template in '{name}' ran for more than {seconds} seconds and was stopped, "
            "and Gemma Desktop has no built-in template for this kind of model, so it cannot be used.",
            name=model_name,
            seconds=failure.detail,
        )
    if failure.problem == "limits":
        return UserError(
            "The chat template in '{name}' tried to build more text, numbers or nesting than a "
            "chat template may and was stopped, so this model cannot be used.",
            name=model_name,
        )
    if failure.problem == "broken":
        return UserError(
            "The chat template in '{name}' does not work ('{detail}'), and Gemma Desktop has no "
            "built-in template for this kind of model, so it cannot be used.",
            name=model_name,
            detail=failure.detail,
        )
    return UserError(
        "The chat template in '{name}' produced something that is not a prompt for this "
        "conversation, and Gemma Desktop has no built-in template for this kind of model, so it "
        "cannot be used.",
        name=model_name,
    )


def render_template(
    source: str,
    variables: Mapping[str, Any],
    *,
    input_chars: int,
) -> str:
    """Render ``source`` with ``variables`` within the limits; TemplateFailure otherwise.

    ``input_chars`` is the size of the conversation's text: values and output may be
    :data:`VALUE_CHARS_PER_INPUT_CHAR` times that (at least :data:`MIN_VALUE_CHARS`).
    """
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateFailure("limits")
    limit = max(MIN_VALUE_CHARS, VALUE_CHARS_PER_INPUT_CHAR * input_chars)
    token = _budget.set(_Budget(time.monotonic() + TIME_LIMIT_S, TIME_LIMIT_S, limit))
    try:
        template = _compile(source)
        out: list[str] = []
        size = 0
        for piece in template.generate(**variables):
            size += len(piece)
            if size > limit:
                raise TemplateFailure("limits")
            out.append(piece)
        return "".join(out)
    except TemplateFailure:
        raise
    except SecurityError as exc:
        raise TemplateFailure("sandbox", str(exc)) from exc
    except (RecursionError, MemoryError, OverflowError) as exc:
        raise TemplateFailure("limits", type(exc).__name__) from exc
    except Exception as exc:  # anything else the template's code raised
        raise TemplateFailure("broken", str(exc) or type(exc).__name__) from exc
    finally:
        _budget.reset(token)


# --- the bounded environment --------------------------------------------------------------------


@dataclass(frozen=True)
class _Budget:
    deadline: float
    time_limit_s: float
    max_chars: int


_budget: ContextVar[_Budget | None] = ContextVar("chat_template_budget", default=None)
"""The render in progress in this thread (the engine renders on one thread; tests may not)."""

_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d*)(?:\.(\d*))?[a-zA-Z%]")
_DIGITS = re.compile(r"\d+")


def _tick() -> bool:
    budget = _budget.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise TemplateFailure("time", f"{budget.time_limit_s:g}")
    return True


def _max_chars() -> int:
    budget = _budget.get()
    return budget.max_chars if budget is not None else MIN_VALUE_CHARS


def _bounded(value: Any) -> Any:
    """``value``, unless it is a string or collection beyond the budget, or a giant integer."""
    if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)):
        if len(value) > _max_chars():
            raise TemplateFailure("limits")
    elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateFailure("limits")
    return value


def _text_size(value: Any, limit: int) -> int:
    """About how many characters ``value`` becomes as text, counted only up to ``limit``.

    A list holding one long string a hundred thousand times is small as a list (references)
    and enormous as text: printing it, joining it, ``~`` or ``|tojson`` would build that text in
    one C call, so every way into text asks this first.
    """
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, dict):
        value = [item for pair in value.items() for item in pair]
    if isinstance(value, (list, tuple, set, frozenset)):
        total = 0
        for item in value:
            total += _text_size(item, limit - total) + 2
            if total > limit:
                break
        return total
    return 32  # a number, None, an undefined value: short however it prints


def _check_text(*values: Any) -> None:
    limit = _max_chars()
    total = 0
    for value in values:
        total += _text_size(value, limit - total)
        if total > limit:
            raise TemplateFailure("limits")


def _check_numbers(args: Iterable[Any]) -> None:
    """Widths, counts and lengths given to a call or filter (``center(10**9)``)."""
    for value in args:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER_ARGUMENT:
            raise TemplateFailure("limits")


def _check_format_string(text: str, values: list[Any]) -> None:
    """``str.format``: no width beyond the bound, and fields x the largest value within it."""
    fields = 0
    for _literal, field, spec, _conversion in Formatter().parse(text):
        if field is not None:
            fields += 1
            _check_numbers(int(digits) for digits in _DIGITS.findall(spec or ""))
    largest = max((_text_size(value, _max_chars()) for value in values), default=0)
    if len(text) + fields * largest > _max_chars():
        raise TemplateFailure("limits")


def _check_percent_format(text: str, values: Any) -> None:
    """``'%5d' % x`` and the ``format`` filter, checked like :func:`_check_format_string`."""
    fields = 0
    for match in _PERCENT_FIELD.finditer(text):
        fields += 1
        _check_numbers(int(digits) for digits in match.groups() if digits)
    items = list(values.values() if isinstance(values, dict) else values if isinstance(values, tuple) else (values,))
    _check_numbers(items)  # "%*d" takes its width from the values
    largest = max((_text_size(value, _max_chars()) for value in items), default=0)
    if len(text) + fields * largest > _max_chars():
        raise TemplateFailure("limits")


def _check_growth(name: str, subject: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse before it runs a string operation whose result multiplies its inputs' sizes
    (``s.replace('', big)``, ``'{0}{0}{0}'.format(big)``, ``indent(99999)`` on many lines)."""
    if not isinstance(subject, str):
        if name == "join" and isinstance(subject, (list, tuple, set, frozenset, dict)):  # the filter
            separator = args[0] if args and isinstance(args[0], str) else ""
            _check_text(subject, separator * min(len(subject), _max_chars() + 1))
        return
    size = len(subject)
    if name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        hits = len(subject) + 1 if not old else subject.count(old)
        size += hits * len(new)
    elif name == "join" and args:  # the string method: the separator is the subject
        items = args[0]
        if isinstance(items, (list, tuple, set, frozenset, dict)):
            _check_text(items)
            size *= len(items)
    elif name == "indent":
        width = args[0] if args else kwargs.get("width", 4)
        size += (subject.count("\n") + 1) * (width if isinstance(width, int) else len(str(width)))
    elif name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        size += subject.count("\t") * (tab if isinstance(tab, int) else 8)
    elif name in ("format", "format_map"):
        values = [*args, *kwargs.values()]
        if name == "format_map" and args and isinstance(args[0], dict):
            values = list(args[0].values())
        _check_format_string(subject, values)
    if size > _max_chars():
        raise TemplateFailure("limits")


def _check_multiply(left: Any, right: Any) -> None:
    for sequence, count in ((left, right), (right, left)):
        is_repeat = isinstance(sequence, (str, bytes, list, tuple)) and isinstance(count, int) and count > 0
        # Counted as text, not as items: a list of one long string, repeated, is long text.
        if is_repeat and _text_size(sequence, _max_chars()) * count > _max_chars():
            raise TemplateFailure("limits")
    is_product = isinstance(left, int) and isinstance(right, int)
    if is_product and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise TemplateFailure("limits")


def _check_power(base: Any, exponent: Any) -> None:
    is_power = isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0
    if is_power and base.bit_length() * exponent > MAX_INT_BITS:
        raise TemplateFailure("limits")


_INTO_TEXT_FILTERS = frozenset({"string", "tojson", "pprint", "urlencode", "e", "escape", "forceescape"})
"""Filters that turn any value, a list too, into text in one step."""


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that checks the clock, its numeric parameters, what it would grow to, and the
    size of what it returns.

    ``functools.wraps`` copies the ``jinja_pass_arg`` marker, so Jinja still passes the context
    or environment to filters that ask for it (first, before the filtered value).
    """
    first = 1 if getattr(function, "jinja_pass_arg", None) else 0

    @wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        value, parameters = (args[first], args[first + 1 :]) if len(args) > first else (None, ())
        _check_numbers(parameters)
        _check_numbers(kwargs.values())
        if name in _INTO_TEXT_FILTERS:
            _check_text(value)
        elif name == "format" and isinstance(value, str):
            _check_percent_format(value, (*parameters, *kwargs.values()))
        else:
            _check_growth(name, value, tuple(parameters), kwargs)
        return _bounded(function(*args, **kwargs))

    return bounded


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator with a deadline check where the template can repeat work."""

    def blockvisit(self, nodes: Iterable[nodes.Node], frame: Frame) -> None:
        # Every body: the template, each loop iteration, each branch taken, each macro call.
        self.writeline("environment.tick()")
        super().blockvisit(nodes, frame)

    def visit_For(self, node: nodes.For, frame: Frame) -> None:  # noqa: N802 - Jinja's name
        # ``for x in xs if test`` filters in a generator whose rejected items never reach the
        # body: check the clock in the test as well.
        if node.test is not None:  # each compile parses afresh: the tree is this compile's own
            tick = nodes.Call(nodes.EnvironmentAttribute("tick"), [], [], None, None)
            node.test = nodes.And(tick, node.test)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 - Jinja's name
        # ``~`` makes text of its operands outside the binary operators the sandbox intercepts:
        # each operand is checked as text first (a list of repeated references is long text).
        node = nodes.Concat([nodes.Call(nodes.EnvironmentAttribute("as_text"), [n], [], None, None)
                             for n in node.nodes], lineno=node.lineno)
        super().visit_Concat(node, frame)


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the time and size bounds of this module."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self) -> None:
        # ``finalize`` sees every value the template prints, before it becomes text.
        super().__init__(trim_blocks=True, lstrip_blocks=True, optimized=False, finalize=_printed)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.globals["raise_exception"] = _raise_exception
        del self.globals["lipsum"]  # generates paragraphs in one call; no chat template needs it

    # Called by the generated code.
    def tick(self) -> bool:
        return _tick()

    def as_text(self, value: Any) -> Any:
        _check_text(value)
        return value

    # The sandbox's hooks, each also a deadline check.
    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _tick()
        _check_numbers(args)
        _check_numbers(kwargs.values())
        method = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
        _check_growth(getattr(method, "__name__", ""), getattr(method, "__self__", None), args, kwargs)
        return _bounded(super().call(context, obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "*":
            _check_multiply(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_percent_format(left, right)
        return _bounded(super().call_binop(context, operator, left, right))

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # Jinja's own answer is an undefined value that only raises when used, so a template
        # printing ``''.__class__`` got an empty string; an attempt is reason enough to stop.
        raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__} is unsafe")


def _printed(value: Any) -> Any:
    """What ``{{ value }}`` prints, checked as text first."""
    _check_text(value)
    return value


def _raise_exception(message: str) -> None:
    """The helper Hugging Face gives chat templates to refuse a conversation."""
    raise TemplateFailure("raised", str(message))


@lru_cache(maxsize=4)
def _compile(source: str) -> Template:
    return _BoundedSandbox().from_string(source)


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"
