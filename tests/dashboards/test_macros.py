"""The macro expander: Grafana's ClickHouse plugin's macros and template variables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.dashboards import ALL, AllValues, QueryContext, expand
from pipeline.dashboards.exceptions import MacroError
from pipeline.dashboards.macros import macro_args

START = datetime(2026, 11, 3, 8, 0, 0, 250_000, tzinfo=UTC)  # 1793692800.25
END = START + timedelta(hours=2)


def ctx(**variables) -> QueryContext:
    return QueryContext(START, END, interval_s=30, variables=variables)


def test_time_filter_truncates_to_seconds_and_is_inclusive():
    assert expand("WHERE $__timeFilter(event_time)", ctx()) == (
        "WHERE event_time >= toDateTime(1793692800) AND event_time <= toDateTime(1793700000)"
    )


def test_millisecond_variants_keep_milliseconds():
    assert expand("$__timeFilter_ms(t)", ctx()) == (
        "t >= fromUnixTimestamp64Milli(1793692800250) "
        "AND t <= fromUnixTimestamp64Milli(1793700000250)"
    )
    assert expand("$__fromTime_ms $__toTime_ms", ctx()) == (
        "fromUnixTimestamp64Milli(1793692800250) fromUnixTimestamp64Milli(1793700000250)"
    )


def test_constants_and_interval():
    assert expand("$__fromTime,$__toTime,$__interval_s", ctx()) == (
        "toDateTime(1793692800),toDateTime(1793700000),30"
    )
    assert expand("$__timeInterval(t)", ctx()) == (
        "toStartOfInterval(toDateTime(t), INTERVAL 30 second)"
    )
    assert expand("$__timeInterval_ms(t)", ctx()) == (
        "toStartOfInterval(toDateTime64(t, 3), INTERVAL 30000 millisecond)"
    )


def test_interval_is_at_least_one_second():
    zero = QueryContext(START, END, interval_s=0)
    assert expand("$__interval_s", zero) == "1"


def test_date_filter_uses_the_range_dates():
    assert expand("$__dateFilter(d)", ctx()) == (
        "d >= toDate('2026-11-03') AND d <= toDate('2026-11-03')"
    )


def test_function_macro_arguments_may_hold_calls_and_commas_in_quotes():
    sql = "$__timeFilter(coalesce(a, b)) AND x = 'a,b)'"
    assert expand(sql, ctx()).startswith("coalesce(a, b) >= toDateTime(")
    assert macro_args("f(a, g(b, c), 'x,)')", 1) == (["a", "g(b, c)", "'x,)'"], 20)


def test_conditional_all_drops_the_condition_when_all_is_selected():
    sql = "WHERE $__conditionalAll(d IN (${district:singlequote}), $district) AND 1"
    assert expand(sql, ctx(district=ALL)) == "WHERE 1=1 AND 1"
    assert expand(sql, ctx(district=["D1", "D2"])) == "WHERE d IN ('D1','D2') AND 1"
    assert expand(sql, ctx(district="D1")) == "WHERE d IN ('D1') AND 1"


def test_conditional_all_accepts_braced_variables_and_nests():
    sql = "$__conditionalAll(a IN ($x) AND $__conditionalAll(b = $y, ${y}), ${x})"
    assert expand(sql, ctx(x="1", y=ALL)) == "a IN (1) AND 1=1"
    assert expand(sql, ctx(x=ALL, y="2")) == "1=1"


def test_variable_formats():
    values = ["a", "o'b"]
    assert expand("$v", ctx(v=values)) == "'a','o'b'"  # the plugin's own formatter
    assert expand("${v:singlequote}", ctx(v=values)) == "'a','o\\'b'"
    assert expand("${v:sqlstring}", ctx(v=values)) == "'a','o''b'"
    assert expand("${v:csv}", ctx(v=values)) == "a,o'b"
    assert expand("${v}", ctx(v="one")) == "one"
    assert expand("${v:singlequote}", ctx(v=AllValues(("x", "y")))) == "'x','y'"


def test_grafana_globals_are_epoch_milliseconds():
    assert expand("$__from ${__to} $__interval_ms", ctx()) == ("1793692800250 1793700000250 30000")


def test_time_zone_of_the_range_does_not_change_the_instant():
    shanghai = timezone(timedelta(hours=8))
    local = QueryContext(START.astimezone(shanghai), END.astimezone(shanghai))
    assert expand("$__fromTime", local) == "toDateTime(1793692800)"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("$missing", "has no value"),
        ("$__nope", "unknown macro"),
        ("$__timeFilter", "needs a column"),
        ("$__timeFilter(a, b)", "takes one column"),
        ("$__timeFilter(a", "unbalanced"),
        ("$__conditionalAll(a)", r"takes \(condition"),
        ("$__conditionalAll(a, b)", "must be a variable"),
        ("${v:percentencode}", "not supported"),
    ],
)
def test_what_cannot_be_expanded_is_an_error(sql, message):
    with pytest.raises(MacroError, match=message):
        expand(sql, ctx(v="x"))


def test_a_range_needs_aware_datetimes_in_order():
    with pytest.raises(MacroError, match="time-zone-aware"):
        QueryContext(datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(MacroError, match="before it starts"):
        QueryContext(END, START)


@pytest.fixture(scope="module")
def stamps(tmp_path_factory):
    """A chDB table of event times, one every 7.3 s over two hours, millisecond precision."""
    from pipeline.warehouse.embedded import EmbeddedWarehouse

    wh = EmbeddedWarehouse(tmp_path_factory.mktemp("macros-chdb"))
    wh.execute("CREATE TABLE hotspot.t (ts DateTime64(3, 'UTC')) ENGINE = Memory")
    ms = START.timestamp() * 1000 + np.arange(0, 7_200_000, 7_300)
    wh.insert("t", {"ts": ms.astype(np.int64).astype("datetime64[ms]")})
    yield wh, ms.astype(np.int64)
    wh.close()


@settings(max_examples=40, deadline=None)
@given(
    lo=st.integers(0, 7_200_000),
    span=st.integers(0, 7_200_000),
    interval=st.sampled_from([1, 10, 60, 300]),
)
def test_expanded_filters_select_what_the_plugin_would_on_chdb(stamps, lo, span, interval):
    """``$__timeFilter`` compares with the range cut to whole seconds (so the last partial
    second is out, as with the plugin), ``$__timeFilter_ms`` with milliseconds, and
    ``$__timeInterval`` buckets every row into its interval."""
    wh, ms = stamps
    start = START + timedelta(milliseconds=lo)
    ctx = QueryContext(start, start + timedelta(milliseconds=span), interval_s=interval)
    sql = (
        "SELECT countIf($__timeFilter(ts)), countIf($__timeFilter_ms(ts)), "
        "uniqExact($__timeInterval(ts)) FROM hotspot.t"
    )
    got = wh.query(expand(sql, ctx))[0]
    sec = ms // 1000
    by_seconds = int(((ms >= ctx.from_s * 1000) & (ms <= ctx.to_s * 1000)).sum())
    by_ms = int(((ms >= ctx.from_ms) & (ms <= ctx.to_ms)).sum())
    buckets = len(np.unique(sec // interval))
    assert got == (by_seconds, by_ms, buckets)
