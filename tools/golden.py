"""Golden outputs: every flag, incident, dead letter and warehouse row of fixed simulated cities.

A refactor that must not change behaviour dumps these before and after and compares the two
folders byte for byte::

    python tools/golden.py dump /tmp/golden-before           # at the old commit
    python tools/golden.py dump /tmp/golden-after            # at the new one
    python tools/golden.py compare /tmp/golden-before /tmp/golden-after

It drives the ``hotspot`` command line only (simulate, to-parquet, backfill, baseline fit,
evaluate) in the checkout it is run from, so it survives any rearrangement inside the library.
Warehouse tables are read with chDB directly, every row sorted; columns that hold the wall
clock or random bytes (ingest and receipt times, Fernet-sealed payloads, fit ids and times) are
left out and named in each dump's header. The sealed payloads are opened with the run's key and
compared in clear instead.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Columns that hold the wall clock or random bytes, by table.
VOLATILE = {
    "alerts": ["ingest_time"],
    "deadletters": ["received_time", "payload_sealed"],
    "baselines": ["fit_id", "fitted_time"],
    "baseline_disks": ["fit_id"],
    "schema_migrations": ["applied_at"],
    "admin_units": ["loaded_at"],
    "cameras": ["loaded_at"],
}

#: The cities' device-clock resets (2001) are older than the warehouse keeps; with max_age_s=0
#: a backfill would refuse them (issue 19). Loaded anyway, the TTL drops them, as it always did.
KEEP_ALL = ["--ignore-retention"]

#: (name, simulate arguments, history days before it or 0, backfill variants).
CITIES = [
    ("city7", ["--seed", "7", "--scale", "1", "--hours", "6", "--hotspots", "4"], 2),
    ("city11", ["--seed", "11", "--scale", "2", "--hours", "4", "--hotspots", "3"], 0),
]
START = datetime(2026, 11, 2, tzinfo=UTC)
#: A fixed pseudonymisation key, so pseudonymised ids are the same in every dump.
KEY = "golden-outputs-fixed-pseudonym-key"


def hotspot(args: list[str], env: dict, out: Path | None = None) -> str:
    """Run ``python -m jobs ARGS`` in the checkout; return its standard output."""
    run = subprocess.run(
        [sys.executable, "-m", "jobs", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if run.returncode != 0:
        raise SystemExit(f"hotspot {' '.join(args)} failed:\n{run.stdout}\n{run.stderr}")
    if out is not None:
        out.write_text(_stable(run.stdout))
    return run.stdout


def _stable(text: str) -> str:
    """Command output without its timings (lines that report seconds or rates) and with a
    baseline's random fit id masked."""
    text = re.sub(r"baseline [0-9a-f]{32}", "baseline <fit id>", text)
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if not any(w in line for w in (" s ", "/s", "elapsed", "second"))
    )


def dump_warehouse(data_dir: Path, out: Path) -> None:
    """Every table and view of the warehouse under ``data_dir``, sorted, one file each."""
    code = f"""
import json, sys
from pathlib import Path
from chdb import session
s = session.Session({str(data_dir / "warehouse")!r})
volatile = {VOLATILE!r}
out = Path({str(out)!r})
tables = s.query("SELECT name, engine FROM system.tables WHERE database = 'hotspot' "
                 "ORDER BY name", "JSONCompact").bytes()
for name, engine in json.loads(tables)["data"]:
    if engine in ("MaterializedView", "AggregatingMergeTree"):
        continue  # rollup states: read through their views
    cols = json.loads(s.query(f"SELECT name FROM system.columns WHERE database = 'hotspot' "
                              f"AND table = '{{name}}' ORDER BY position", "JSONCompact").bytes())
    keep = [c for (c,) in cols["data"] if c not in volatile.get(name, [])]
    select = ", ".join(f"`{{c}}`" for c in keep)
    # FINAL: what a query sees, whatever insert blocks and merges the rows came in
    final = " FINAL" if engine.startswith(("Replacing", "Collapsing", "Summing")) else ""
    rows = s.query(f"SELECT {{select}} FROM hotspot.`{{name}}`{{final}} ORDER BY ALL",
                   "JSONCompactEachRow").bytes().decode()
    left_out = volatile.get(name, [])
    (out / f"{{name}}.jsonl").write_text(
        f"# {{name}}: {{len(rows.splitlines())}} rows; left out: {{left_out}}\\n" + rows)
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def open_deadletters(data_dir: Path, env: dict, out: Path) -> None:
    """The dead letters' sealed payloads opened with the run's key, sorted."""
    code = f"""
import json
from chdb import session
from pipeline.settings import Settings
from pipeline.deadletter import Sealer
sealer = Sealer(Settings().pseudonym_secret())
s = session.Session({str(data_dir / "warehouse")!r})
rows = s.query("SELECT topic, partition, offset, alert_id, payload_sealed FROM "
               "hotspot.deadletters FINAL", "JSONCompactEachRow").bytes().decode().splitlines()
opened = sorted(json.dumps(r[:4] + [sealer.open(r[4]).decode('utf-8', 'replace')])
                for r in map(json.loads, rows))
print("\\n".join(opened))
"""
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    out.write_text(run.stdout)


def dump(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=False)
    work = folder / "work"
    for name, sim_args, history_days in CITIES:
        city = work / name
        out = folder / name
        out.mkdir(parents=True)
        start = START.isoformat()
        env = dict(
            os.environ,
            HOTSPOT_DATA_DIR=str(city / "data"),
            HOTSPOT_REGISTRY_PATH=str(city / "sim" / "registry.geojson"),
            HOTSPOT_MAX_AGE_S="0",
            HOTSPOT_PSEUDONYM_KEY=KEY,
        )
        hotspot(["simulate", "--out", str(city / "sim"), "--start", start, *sim_args], env)
        (out / "truth.json").write_text((city / "sim" / "truth.json").read_text())
        evaluate = [
            "evaluate",
            "--replay",
            str(city / "sim" / "replay.jsonl"),
            "--truth",
            str(city / "sim" / "truth.json"),
            "--registry",
            str(city / "sim" / "registry.geojson"),
        ]
        hotspot(evaluate, env, out / "evaluate-fallback.txt")
        if history_days:
            hours = str(history_days * 24)
            seed = sim_args[sim_args.index("--seed") + 1]
            scale = sim_args[sim_args.index("--scale") + 1]
            history_start = (START - timedelta(days=history_days)).isoformat()
            hotspot(
                [
                    "simulate",
                    "--out",
                    str(city / "history"),
                    "--start",
                    history_start,
                    "--seed",
                    seed,
                    "--scale",
                    scale,
                    "--hours",
                    hours,
                    "--hotspots",
                    "0",
                ],
                env,
            )
            hotspot(
                [*evaluate, "--history", str(city / "history" / "replay.jsonl")],
                env,
                out / "evaluate-history.txt",
            )
            hotspot(
                ["backfill", str(city / "history" / "replay.jsonl"), "--no-correlate", *KEEP_ALL],
                env,
                out / "backfill-history.txt",
            )
            hotspot(
                ["baseline", "fit", "--since", history_start, "--until", start],
                env,
                out / "baseline-fit.txt",
            )
        hotspot(
            ["backfill", str(city / "sim" / "replay.jsonl"), *KEEP_ALL], env, out / "backfill.txt"
        )
        dump_warehouse(city / "data", out)
        open_deadletters(city / "data", env, out / "deadletters-opened.jsonl")
        # The typed Parquet path and a run that stops where a live worker would stand, each
        # into a fresh warehouse.
        for variant, args in (("parquet", ["--typed"]), ("no-flush", None)):
            data = city / f"data-{variant}"
            data.mkdir()
            venv = dict(env, HOTSPOT_DATA_DIR=str(data))
            source = city / "sim" / "replay.jsonl"
            if args is not None:
                hotspot(["to-parquet", str(source), str(city / "replay.parquet"), *args], venv)
                source = city / "replay.parquet"
            flags = ["--no-flush"] if variant == "no-flush" else []
            vout = out / variant
            vout.mkdir()
            hotspot(["backfill", str(source), *flags, *KEEP_ALL], venv, vout / "backfill.txt")
            dump_warehouse(data, vout)
    print(f"golden outputs in {folder}")


def compare(before: Path, after: Path) -> int:
    """0 when every file is byte-identical; else prints the files that differ."""

    def files(root: Path) -> set[Path]:
        return {
            p.relative_to(root)
            for p in root.rglob("*")
            if p.is_file() and "work" not in p.relative_to(root).parts
        }

    a, b = files(before), files(after)
    bad = 0
    for rel in sorted(a | b):
        if rel not in a or rel not in b:
            print(f"only in {'after' if rel in b else 'before'}: {rel}")
            bad += 1
        elif not filecmp.cmp(before / rel, after / rel, shallow=False):
            print(f"differs: {rel}")
            bad += 1
    rows = sum(
        max(0, len((before / r).read_text().splitlines()) - 1) for r in a if r.suffix == ".jsonl"
    )
    print(f"{len(a & b)} files compared, {rows:,} rows; {bad} differ")
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dump").add_argument("folder", type=Path)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "dump":
        dump(args.folder)
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    raise SystemExit(main())
