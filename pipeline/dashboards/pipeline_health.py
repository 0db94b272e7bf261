"""Pipeline health: what an on-call engineer opens first — is every worker up, is any input
falling behind, is bad input piling up, is the warehouse refusing writes, are checkpoints
being written.

Worker state (lags, open flags, checkpoints, retries, notice events) comes from Prometheus,
which scrapes every worker's ``/metrics`` (``pipeline/metrics.py``; README "Metrics"): it is
the live figure of every worker, summed over the group. Dead letters and late alerts come from
the warehouse, which keeps them with their reason and feed for as long as the range asks.
"""

from __future__ import annotations

from .dashboard import Dashboard
from .panels import PromQuery, Query, Threshold, stat, table, timeseries

__all__ = ["pipeline_health", "METRICS_USED"]

#: Prometheus' job for the workers (infra/prometheus/prometheus.yml)
_JOB = "hotspot-worker"

_DEAD_LETTERS = """
    SELECT $__timeInterval(received_time) AS time, reason, count() AS dead_letters
    FROM deadletters FINAL
    WHERE $__timeFilter(received_time)
    GROUP BY time, reason
    ORDER BY time
"""

_LATE = """
    SELECT $__timeInterval(received_time) AS time, source, count() AS late_alerts
    FROM deadletters FINAL
    WHERE $__timeFilter(received_time) AND reason = 'late'
    GROUP BY time, source
    ORDER BY time
"""

_BY_REASON = """
    SELECT reason, source, count() AS dead_letters, max(received_time) AS latest
    FROM deadletters FINAL
    WHERE $__timeFilter(received_time)
    GROUP BY reason, source
    ORDER BY dead_letters DESC
"""

_CHECKPOINT_AGE = "time() - max by (partition) (hotspot_checkpoint_written_timestamp_seconds)"

#: every worker metric a panel reads (a test ties them to pipeline/metrics.py)
METRICS_USED = (
    "hotspot_consumer_lag",
    "hotspot_watermark_lag_seconds",
    "hotspot_open_flags",
    "hotspot_warehouse_retries_total",
    "hotspot_checkpoint_written_timestamp_seconds",
    "hotspot_notice_events_total",
)


def pipeline_health() -> Dashboard:
    panels = (
        stat(
            "Workers up",
            PromQuery(f'count(up{{job="{_JOB}"}} == 1)'),
            steps=(Threshold("red"), Threshold("green", 1)),
            description="Workers Prometheus scrapes successfully.",
        ),
        stat(
            "Open flags",
            PromQuery("sum(hotspot_open_flags)"),
            description="Hotspot flags open in the correlators, all partitions.",
        ),
        stat(
            "Oldest checkpoint",
            PromQuery(f"max({_CHECKPOINT_AGE})"),
            unit="s",
            steps=(Threshold("green"), Threshold("orange", 60), Threshold("red", 300)),
            description="Seconds since the stalest partition's correlator was checkpointed "
            "(every checkpoint_every_s while alerts arrive): a restart re-reads from there.",
        ),
        stat(
            "Warehouse retries in the range",
            PromQuery("sum(increase(hotspot_warehouse_retries_total[$__range]))"),
            steps=(Threshold("green"), Threshold("orange", 1)),
            description="Warehouse calls retried: an outage or a refused write.",
        ),
        timeseries(
            "Consumer lag by topic",
            PromQuery("sum by (topic) (hotspot_consumer_lag)", "{{topic}}"),
            description="Messages received but not yet processed and committed.",
        ),
        timeseries(
            "Watermark lag by partition",
            PromQuery("max by (partition) (hotspot_watermark_lag_seconds)", "p{{partition}}"),
            unit="s",
            description="Wall clock minus the correlator's watermark: windows close this late.",
        ),
        timeseries(
            "Dead letters by reason",
            Query(_DEAD_LETTERS, time_series=True),
            bars=True,
            description="Messages refused, by machine-readable reason (README: the reasons).",
        ),
        timeseries(
            "Late alerts by feed",
            Query(_LATE, time_series=True),
            bars=True,
            description="Alerts that arrived after their window closed (dead-lettered 'late').",
        ),
        table(
            "Dead letters in the range",
            Query(_BY_REASON),
            sort="dead_letters",
            description="`hotspot deadletter show --reason R` shows them with their bytes.",
        ),
        timeseries(
            "Checkpoint age by partition",
            PromQuery(_CHECKPOINT_AGE, "p{{partition}}"),
            unit="s",
            width=12,
        ),
        timeseries(
            "Warehouse retries",
            PromQuery(
                "sum by (operation, table) "
                "(increase(hotspot_warehouse_retries_total[$__rate_interval]))",
                "{{operation}} {{table}}",
            ),
            bars=True,
        ),
        timeseries(
            "Notice events by kind",
            PromQuery(
                "sum by (kind) (increase(hotspot_notice_events_total[$__rate_interval]))",
                "{{kind}}",
            ),
            bars=True,
            description="Notices issued, raised, reminded and escalated, and acks taken.",
        ),
    )
    return Dashboard(
        uid="hotspot-pipeline-health",
        title="Hotspot: pipeline health",
        description=__doc__.splitlines()[0],
        panels=panels,
        time_from="now-6h",
        refresh="30s",
    )
