"""Expand a panel's SQL as Grafana and its ClickHouse plugin would, for a given time range.

Grafana runs three passes over ``rawSql`` before ClickHouse sees it, and :func:`expand` runs
the same three, in the same order:

1. the plugin's front end replaces ``$__conditionalAll(condition, $var)`` by ``1=1`` when the
   variable selects every value, else by ``condition``;
2. Grafana replaces template variables: ``$var``, ``${var}``, ``${var:format}``; a multi-value
   selection is written ``'a','b'`` (the plugin's own format) unless a format is named;
3. the plugin's back end expands time macros: ``$__timeFilter(col)``, ``$__timeFilter_ms(col)``,
   ``$__dateFilter(col)``, ``$__timeInterval(col)``, ``$__timeInterval_ms(col)``,
   ``$__fromTime``, ``$__toTime``, ``$__fromTime_ms``, ``$__toTime_ms``, ``$__interval_s``.

The expansions follow the plugin's (``pkg/macros/macros.go``): seconds are truncated, the
filter is inclusive at both ends. Unlike Grafana, an unknown variable or macro raises
:class:`MacroError` instead of reaching ClickHouse half-expanded.

>>> from datetime import UTC, datetime
>>> ctx = QueryContext(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC),
...                    interval_s=300, variables={"district": ALL})
>>> expand("SELECT $__timeInterval(t) AS time FROM a", ctx)
'SELECT toStartOfInterval(toDateTime(t), INTERVAL 300 second) AS time FROM a'
>>> expand("WHERE $__timeFilter(t) AND $__conditionalAll(d IN (${district:singlequote}), "
...        "$district)", ctx)
'WHERE t >= toDateTime(1793491200) AND t <= toDateTime(1793577600) AND 1=1'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .exceptions import MacroError

__all__ = ["ALL", "AllValues", "QueryContext", "expand", "macro_args"]


@dataclass(frozen=True)
class AllValues:
    """A variable with *All* selected; ``values`` are what Grafana would list for it."""

    values: tuple[str, ...] = ()


#: *All* selected, with no option values known (enough wherever ``$__conditionalAll`` guards).
ALL = AllValues()

Selection = str | Sequence[str] | AllValues


@dataclass(frozen=True)
class QueryContext:
    """What Grafana hands a query: the time range, the interval and the variables' selections."""

    start: datetime
    end: datetime
    interval_s: int = 60
    variables: Mapping[str, Selection] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise MacroError("the time range needs time-zone-aware datetimes (e.g. tzinfo=UTC)")
        if self.end < self.start:
            raise MacroError(f"time range ends ({self.end}) before it starts ({self.start})")

    @property
    def from_s(self) -> int:
        return int(self.start.timestamp())

    @property
    def to_s(self) -> int:
        return int(self.end.timestamp())

    @property
    def from_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def to_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


def expand(sql: str, ctx: QueryContext) -> str:
    """``sql`` with every macro and template variable replaced; see the module docstring."""
    sql = _conditional_all(sql, ctx)
    sql = _template_variables(sql, ctx)
    return _time_macros(sql, ctx)


# --- argument parsing ---------------------------------------------------------------------------


def macro_args(sql: str, open_paren: int) -> tuple[list[str], int]:
    """Top-level comma-separated arguments of the call whose ``(`` is at ``open_paren``, and the
    index just past its ``)``. Parentheses nest; quotes protect commas and parentheses."""
    depth, quote, args, start = 0, "", [], open_paren + 1
    for i in range(open_paren, len(sql)):
        ch = sql[i]
        if quote:
            if ch == quote and sql[i - 1] != "\\":
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[start:i].strip())
                return args, i + 1
        elif ch == "," and depth == 1:
            args.append(sql[start:i].strip())
            start = i + 1
    before = sql[max(0, open_paren - 30) : open_paren + 1]
    raise MacroError(f"unbalanced parentheses after {before!r}")


# --- pass 1: $__conditionalAll ------------------------------------------------------------------

_CONDITIONAL_ALL = "$__conditionalAll("
_VARIABLE_NAME = re.compile(r"^\$\{?(\w+)")


def _conditional_all(sql: str, ctx: QueryContext) -> str:
    # Innermost (last) first, as the plugin does, so a guarded condition may itself hold one.
    while (at := sql.rfind(_CONDITIONAL_ALL)) >= 0:
        args, end = macro_args(sql, at + len(_CONDITIONAL_ALL) - 1)
        if len(args) != 2:
            raise MacroError(f"$__conditionalAll takes (condition, $variable), got {args}")
        name = _VARIABLE_NAME.match(args[1])
        if name is None:
            raise MacroError(f"$__conditionalAll's second argument must be a variable: {args[1]!r}")
        selected = _selection(ctx, name.group(1))
        everything = isinstance(selected, AllValues) or selected in ("", "$__all")
        sql = sql[:at] + ("1=1" if everything else args[0]) + sql[end:]
    return sql


# --- pass 2: template variables -----------------------------------------------------------------

# $name, ${name} or ${name:format}; names starting with "__" are macros or Grafana globals.
_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)")
_GLOBALS = re.compile(r"\$\{?__(from|to|interval_ms)\}?(?!\w)")


def _selection(ctx: QueryContext, name: str) -> Selection:
    if name not in ctx.variables:
        raise MacroError(
            f"template variable ${name} has no value; pass it in QueryContext.variables "
            f"(known: {sorted(ctx.variables)})"
        )
    return ctx.variables[name]


def _values(selected: Selection) -> list[str]:
    if isinstance(selected, AllValues):
        return list(selected.values)
    if isinstance(selected, str):
        return [selected]
    return list(selected)


def _format(values: list[str], fmt: str | None, multi: bool) -> str:
    if fmt is None:  # the plugin's own formatter: quoted list for multi-value, raw otherwise
        return ",".join(f"'{v}'" for v in values) if multi else (values[0] if values else "")
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt == "doublequote":
        return ",".join('"' + v.replace('"', '\\"') + '"' for v in values)
    if fmt == "sqlstring":
        return ",".join("'" + v.replace("'", "''") + "'" for v in values)
    if fmt in ("csv", "raw"):
        return ",".join(values)
    if fmt == "pipe":
        return "|".join(values)
    raise MacroError(f"variable format :{fmt} is not supported; use singlequote, sqlstring, csv")


def _template_variables(sql: str, ctx: QueryContext) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(3)
        selected = _selection(ctx, name)
        multi = not isinstance(selected, str)
        return _format(_values(selected), match.group(2), multi)

    sql = _GLOBALS.sub(
        lambda m: str(
            {"from": ctx.from_ms, "to": ctx.to_ms, "interval_ms": ctx.interval_s * 1000}[m.group(1)]
        ),
        sql,
    )
    return _VARIABLE.sub(replace, sql)


# --- pass 3: time macros ------------------------------------------------------------------------

_MACRO = re.compile(r"\$__(\w+)")


def _datetime(seconds: int) -> str:
    return f"toDateTime({seconds})"


def _datetime64(ms: int) -> str:
    return f"fromUnixTimestamp64Milli({ms})"


def _date(moment: datetime) -> str:
    return f"toDate('{moment.strftime('%Y-%m-%d')}')"


def _between(column: str, low: str, high: str) -> str:
    return f"{column} >= {low} AND {column} <= {high}"


def _function_macro(name: str, args: list[str], ctx: QueryContext) -> str:
    if len(args) != 1:
        raise MacroError(f"$__{name} takes one column, got {len(args)} arguments: {args}")
    col = args[0]
    seconds = max(int(ctx.interval_s), 1)
    return {
        "timeFilter": lambda: _between(col, _datetime(ctx.from_s), _datetime(ctx.to_s)),
        "timeFilter_ms": lambda: _between(col, _datetime64(ctx.from_ms), _datetime64(ctx.to_ms)),
        "dateFilter": lambda: _between(col, _date(ctx.start), _date(ctx.end)),
        "timeInterval": lambda: f"toStartOfInterval(toDateTime({col}), INTERVAL {seconds} second)",
        "timeInterval_ms": lambda: (
            f"toStartOfInterval(toDateTime64({col}, 3), INTERVAL {seconds * 1000} millisecond)"
        ),
    }[name]()


_FUNCTIONS = {"timeFilter", "timeFilter_ms", "dateFilter", "timeInterval", "timeInterval_ms"}


def _time_macros(sql: str, ctx: QueryContext) -> str:
    constants = {
        "fromTime": _datetime(ctx.from_s),
        "toTime": _datetime(ctx.to_s),
        "fromTime_ms": _datetime64(ctx.from_ms),
        "toTime_ms": _datetime64(ctx.to_ms),
        "interval_s": str(max(int(ctx.interval_s), 1)),
    }
    out, pos = [], 0
    for match in _MACRO.finditer(sql):
        if match.start() < pos:  # inside the arguments of a macro already expanded
            continue
        name = match.group(1)
        out.append(sql[pos : match.start()])
        if name in _FUNCTIONS:
            if match.end() >= len(sql) or sql[match.end()] != "(":
                raise MacroError(f"$__{name} needs a column in parentheses: $__{name}(col)")
            args, pos = macro_args(sql, match.end())
            out.append(_function_macro(name, args, ctx))
        elif name in constants:
            out.append(constants[name])
            pos = match.end()
        else:
            raise MacroError(f"unknown macro $__{name}")
    out.append(sql[pos:])
    return "".join(out)
