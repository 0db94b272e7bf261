"""``hotspot demo``: everything embedded, a simulated city, the worker, then what it found."""

from __future__ import annotations

import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipeline.alerts import SOURCES
from pipeline.backfill.files import count_records
from pipeline.kafka import Pacing, send_chunks
from pipeline.replay import read_jsonl_chunks
from pipeline.settings import Settings
from pipeline.sim import run_simulation

from .commands.console import stdout_console
from .commands.progress import RecordProgress, format_ms
from .runtime import Runtime, open_runtime
from .stations import SimulatedStations
from .worker import run_worker

__all__ = ["run_demo"]

REPLAY_WALL_S = 45.0  # how long the replay of the simulated hours takes, seconds
HISTORY = timedelta(days=2)  # simulated history the baseline is fitted on before the replay


def run_demo(data_dir: Path, *, hours: float, scale: float, seed: int) -> None:
    console = stdout_console()
    if data_dir.exists():
        shutil.rmtree(data_dir)  # a demo starts from nothing, so its figures are reproducible
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=hours)
    with console.status("simulating the city"):
        files = run_simulation(
            data_dir / "sim",
            seed=seed,
            start=start,
            duration=timedelta(hours=hours),
            scale=scale,
            n_hotspots=max(1, round(hours)),
        )
        # The same city (same seed) in the days before, without hotspots: what a deployment
        # fits its baseline on (`hotspot baseline fit`) before it trusts its flags.
        history = run_simulation(
            data_dir / "history",
            seed=seed,
            start=start - HISTORY,
            duration=HISTORY,
            scale=scale,
            n_hotspots=0,
        )
    # The registry also where every other command looks for it (data_dir/registry.geojson),
    # so HOTSPOT_DATA_DIR=<the demo's folder> is a working data folder for map, top, ratings.
    shutil.copyfile(files.registry, data_dir / "registry.geojson")
    settings = Settings(data_dir=data_dir, partitions=2)
    # The feeds are replayed at their recorded pace, sped up, while the worker runs: as live
    # traffic, interleaved the way it arrived, so event-time lateness means what it means live.
    speed = hours * 3600.0 / REPLAY_WALL_S
    with open_runtime(settings) as runtime:
        _fit_baseline(console, runtime, history.replay, start - HISTORY, start)
        sent, done, ready, stop = [0], threading.Event(), threading.Event(), threading.Event()
        bar = RecordProgress(
            f"replaying {hours:g} h at {speed:.0f}x", count_records(files.replay), console=console
        )
        # The stations answer their notices as the replay's event clock goes (jobs/stations.py).
        clock = [None]
        stations = SimulatedStations(
            runtime.brokers, settings.topics.notices, settings.topics.acks, seed, lambda: clock[0]
        )

        def progress(n: int, event_ms: int | None = None) -> None:
            bar.advance(n, event_ms)
            if event_ms is not None:
                clock[0] = max(clock[0] or event_ms, event_ms)

        def replay() -> None:
            try:
                ready.wait()
                stations.start()
                sent[0] = send_chunks(
                    read_jsonl_chunks(files.replay, []),
                    runtime.brokers,
                    pacing=Pacing(speed=speed),
                    stop=stop,
                    progress=progress,
                )
            finally:
                done.set()

        sender = threading.Thread(target=replay, name="replay", daemon=True)
        began = time.perf_counter()
        with bar:  # messages sent; the worker drains them meanwhile and just after
            sender.start()
            run_worker(runtime, until_drained=True, inputs_complete=done, ready=ready)
        stop.set()  # the worker also ends on Ctrl-C: then the replay must not go on
        stations.stop.set()  # it answered the notices until the worker stopped
        ready.set()
        sender.join()
        if stations.is_alive():
            stations.join()
        elapsed = time.perf_counter() - began
        console.print(
            f"replayed {sent[0]:,} messages through Tansu on {runtime.bootstrap} "
            f"and processed them in {elapsed:.1f} s; simulated stations sent {stations.sent} acks"
        )
        _report(console, runtime, files)


def _fit_baseline(
    console: Console, runtime: Runtime, replay: Path, since: datetime, until: datetime
) -> None:
    """Fit the history replay as `hotspot baseline fit` fits a stored period, and store it as
    the newest baseline, which the correlators load when they start. Two progress bars: the
    history's records read, then the fit's steps (city, each district, the scoring disks)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from pipeline.backfill.fit import fit_replay
    from pipeline.correlate.baseline.store import store_fit

    since_ms, until_ms = int(since.timestamp() * 1000), int(until.timestamp() * 1000)
    settings = runtime.settings
    days = f"{HISTORY.days} simulated days of history"
    bars = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=console,
    )
    read = bars.add_task(f"baseline: reading {days}", total=count_records(replay), note="")
    fit = bars.add_task("baseline: fitting rates", total=None, note="", start=False)

    def records(n: int, event_ms: int | None) -> None:
        bars.update(read, advance=n, note=f"records, event time {format_ms(event_ms)}")

    def steps(done: int, total: int) -> None:
        if done == 1:
            bars.start_task(fit)
        bars.update(fit, completed=done, total=total, note="steps: city, districts, disks")

    with bars:
        fitted, n = fit_replay(
            settings, runtime.registry, [replay], since_ms, until_ms, progress=records, steps=steps
        )
    fit_id = store_fit(runtime.warehouse, fitted, settings.correlation, since_ms, until_ms)
    console.print(
        f"baseline fitted on {n:,} alerts of {days}: {len(fitted.cell_ids):,} cells with "
        f"history (baseline {fit_id[:8]})"
    )


def _notices_report(console: Console, runtime: Runtime) -> None:
    """The patrol loop: receipt times, reminders, escalations, late receipts (notice_events)."""
    db = runtime.warehouse.database
    ((issued, within, late, escalated, reminded, never, p50, p90, false_alarms),) = (
        runtime.warehouse.query(
            "SELECT count(), countIf(receipt_seconds <= 300), countIf(received_late), "
            "countIf(escalated), countIf(reminded), countIf(receipt_seconds IS NULL), "
            "quantile(0.5)(receipt_seconds), quantile(0.9)(receipt_seconds), "
            f"countIf(last_state = 'false_alarm') FROM {db}.notices"
        )
    )
    table = Table(title="Notices to stations (the patrol loop)")
    table.add_column("what")
    table.add_column("count", justify="right")
    minutes = "n/a" if p50 is None or p50 != p50 else f"{p50 / 60:.1f} / {p90 / 60:.1f} min"
    for what, value in (
        ("notices issued", f"{issued:,}"),
        ("received within 5 min", f"{within:,}"),
        ("reminders (no receipt at 5 min)", f"{reminded:,}"),
        ("escalations (none at 30 min)", f"{escalated:,}"),
        ("received after the escalation (late)", f"{late:,}"),
        ("not received", f"{never:,}"),
        ("called a false alarm", f"{false_alarms:,}"),
        ("receipt time, median / 90th percentile", minutes),
    ):
        table.add_row(what, value)
    console.print(table)


def _draw_map(runtime: Runtime, out: Path) -> None:
    """The whole simulated span as a PNG: alert heat, flags and admin boundaries."""
    from pipeline.report import draw_map

    first, last = runtime.warehouse.query(
        f"SELECT toUnixTimestamp64Milli(min(event_time)), toUnixTimestamp64Milli(max(event_time))"
        f" FROM {runtime.warehouse.database}.alerts"
    )[0]
    draw_map(runtime.warehouse, runtime.registry, int(first), int(last) + 1, out)


def _report(console: Console, runtime: Runtime, files) -> None:
    db = runtime.warehouse.database
    query = runtime.warehouse.query
    stored = dict(query(f"SELECT source, count() FROM {db}.alerts FINAL GROUP BY source"))
    dead = dict(query(f"SELECT source, count() FROM {db}.deadletters FINAL GROUP BY source"))
    metrics = runtime.metrics

    feeds = Table(title="Feeds")
    for column in ("feed", "received", "stored", "dead letters", "duplicates", "unknown enum"):
        feeds.add_column(column, justify="right" if column != "feed" else "left")
    for source in SOURCES:
        feeds.add_row(
            source,
            f"{metrics.received.labels(source)._value.get():,.0f}",
            f"{stored.get(source, 0):,}",
            f"{dead.get(source, 0):,}",
            f"{metrics.duplicates.labels(source)._value.get():,.0f}",
            f"{metrics.unknown_enum.labels(source)._value.get():,.0f}",
        )
    console.print(feeds)

    reasons = Table(title="Dead letters by reason")
    reasons.add_column("reason")
    reasons.add_column("count", justify="right")
    for reason, count in query(
        f"SELECT reason, count() AS n FROM {db}.deadletters FINAL GROUP BY reason ORDER BY n DESC"
    ):
        reasons.add_row(reason, f"{count:,}")
    console.print(reasons)

    flags = Table(title="Hotspot flags (latest version of each)")
    for column in (
        "flag",
        "status",
        "score",
        "observed / expected",
        "sources",
        "community",
        "station",
        "opened (UTC)",
    ):
        flags.add_column(column)
    for row in query(
        f"SELECT flag_id, status, round(score, 1), concat(toString(observed), ' / ', "
        f"toString(round(expected, 1))), n_sources, community_code, station_id, "
        f"formatDateTime(opened_time, '%H:%i') FROM {db}.flags FINAL "
        f"ORDER BY score DESC LIMIT 10"
    ):
        flags.add_row(*map(str, row))
    console.print(flags)
    incidents, corroborated = query(
        f"SELECT count(), countIf(n_sources > 1) FROM {db}.incidents FINAL"
    )[0]
    console.print(f"{incidents:,} incidents, {corroborated:,} corroborated by several feeds")
    _notices_report(console, runtime)

    top = Table(title="Busiest communities (severity-weighted alerts)")
    for column in ("community", "street", "district", "station", "alerts", "weight"):
        top.add_column(column)
    for row in query(
        f"SELECT community_code, any(street_code), any(district_code), any(station_id), "
        f"count() AS n, round(sum(severity), 1) AS w FROM {db}.alerts FINAL "
        f"WHERE community_code != '' GROUP BY community_code ORDER BY w DESC LIMIT 8"
    ):
        top.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    console.print(top)

    picture = runtime.settings.data_dir / "hotspots.png"
    _draw_map(runtime, picture)
    console.print(
        f"[bold]Where the data is[/bold]\n"
        f"  map (PNG)          {picture}\n"
        f"  warehouse (chDB)   {runtime.settings.resolved_warehouse_url}\n"
        f"  admin registry     {files.registry}\n"
        f"  replay file        {files.replay}\n"
        f"  ground truth       {files.truth}"
    )
    folder = runtime.settings.data_dir
    first, last = (
        datetime.fromtimestamp(s, UTC).isoformat()
        for s in query(
            f"SELECT toUnixTimestamp(min(event_time)), toUnixTimestamp(max(event_time)) + 1 "
            f"FROM {db}.alerts"
        )[0]
    )
    console.print(
        f"[bold]Look further[/bold] (this folder is a data folder for every command)\n"
        f"  export HOTSPOT_DATA_DIR={folder}\n"
        f"  hotspot top --once\n"
        f"  hotspot report notices --month {first[:7]}\n"
        f"  hotspot map --out {folder / 'map.png'}\n"
        f"  hotspot export flags --since {first} --until {last} --out flags.csv\n"
        f"  hotspot deadletter show --limit 5\n"
        f"  hotspot dashboards preview --from {first} --to {last}",
        markup=True,
        highlight=False,
    )
