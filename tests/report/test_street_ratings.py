"""The per-street monthly ratings report (pipeline/report/street_ratings.py) and
``hotspot report ratings`` on a chDB warehouse holding two months of compound ratings."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from typer.testing import CliRunner

from jobs.cli import app
from pipeline.exceptions import ConfigurationError
from pipeline.ratings import Month
from pipeline.report import street_ratings, street_ratings_tables
from pipeline.report.street_ratings import RectifiedCompound
from pipeline.warehouse import migrate, open_warehouse

OCT, NOV = Month(2026, 10), Month(2026, 11)

#: (month, compound, street, rating, under_rectification, company, alerts)
RATED = [
    (OCT, "S1R1", "S1", "red", 0, "Acme", 5),
    (OCT, "S1R2", "S1", "yellow", 0, "Acme", 2),
    (OCT, "S1R3", "S1", "green", 0, "", 0),
    (OCT, "S2R1", "S2", "yellow", 0, "Beta", 2),
    (OCT, "S2R2", "S2", "green", 0, "Beta", 1),
    # November: S1R1 red -> yellow and S1R2 yellow -> yellow are under rectification; S1R3
    # green -> red is not yet; S2R1 yellow -> red (no company named) is; S2R2 stays green.
    (NOV, "S1R1", "S1", "yellow", 1, "Acme", 2),
    (NOV, "S1R2", "S1", "yellow", 1, "Acme", 2),
    (NOV, "S1R3", "S1", "red", 0, "", 4),
    (NOV, "S2R1", "S2", "red", 1, "", 3),
    (NOV, "S2R2", "S2", "green", 0, "Beta", 0),
    # a third street rated in November only: no change to show
    (NOV, "S3R1", "S3", "green", 0, "Gamma", 0),
]


def _rows(rated) -> dict:
    month, compound, street, rating, under, company, alerts = zip(*rated, strict=True)
    n = len(rated)
    return {
        "month": [m.first_day() for m in month],
        "compound_code": list(compound),
        "community_code": ["C"] * n,
        "street_code": list(street),
        "district_code": ["D1"] * n,
        "station_id": ["PS1"] * n,
        "alerts": np.array(alerts, np.uint32),
        "rating": list(rating),
        "red_two_months": np.zeros(n, np.uint8),
        "under_rectification": np.array(under, np.uint8),
        "company": list(company),
        "yellow_at": np.full(n, 2, np.uint32),
        "red_at": np.full(n, 3, np.uint32),
        "rated_at": np.full(n, np.datetime64(1_700_000_000_000, "ms")),
    }


@pytest.fixture
def data_dir(tmp_path):
    data = tmp_path / "data"
    with open_warehouse(f"chdb://{(data / 'warehouse').resolve()}") as wh:
        migrate(wh)
        wh.insert("compound_ratings", _rows(RATED))
    return data


@pytest.fixture
def warehouse(data_dir):
    with open_warehouse(f"chdb://{(data_dir / 'warehouse').resolve()}") as wh:
        yield wh


def test_each_street_gets_its_counts_changes_and_rectified_compounds(warehouse):
    s1, s2, s3 = street_ratings(warehouse, NOV)
    assert (s1.street_code, s1.compounds, s1.counts) == (
        "S1",
        3,
        {"green": 0, "yellow": 2, "red": 1},
    )
    assert s1.change == {"green": -1, "yellow": 1, "red": 0}
    assert (s1.better, s1.worse) == (1, 1)  # S1R1 red -> yellow; S1R3 green -> red
    assert s1.rectification == (
        RectifiedCompound("S1R1", "S1R1", "Acme", "yellow", "red", 2),
        RectifiedCompound("S1R2", "S1R2", "Acme", "yellow", "yellow", 2),
    )
    assert s2.counts == {"green": 1, "yellow": 0, "red": 1}
    assert s2.change == {"green": 0, "yellow": -1, "red": 1}
    assert s2.rectification == (RectifiedCompound("S2R1", "S2R1", "", "red", "yellow", 3),)
    assert s3.change == {"green": 1, "yellow": 0, "red": 0}  # its compound was not rated then
    assert (s3.better, s3.worse, s3.rectification) == (0, 0, ())


def test_a_first_rated_month_shows_no_change(warehouse):
    (s1, s2) = street_ratings(warehouse, OCT)
    assert s1.change is None and s2.change is None
    assert s1.counts == {"green": 1, "yellow": 1, "red": 1}


def test_one_street_and_unrated_months_or_streets(warehouse):
    (only,) = street_ratings(warehouse, NOV, street="S2")
    assert only.street_code == "S2" and only.compounds == 2
    with pytest.raises(ConfigurationError, match="hotspot ratings --month 2026-12"):
        street_ratings(warehouse, Month(2026, 12))
    with pytest.raises(ConfigurationError, match="no ratings of street S9 stored for 2026-11"):
        street_ratings(warehouse, NOV, street="S9")


def test_the_tables_hold_a_row_per_street_and_per_rectified_compound(warehouse):
    streets, listed = street_ratings_tables(street_ratings(warehouse, NOV))
    assert streets.row_count == 3 and listed.row_count == 3
    red = next(c for c in streets.columns if c.header == "red")
    assert list(red.cells) == ["1 (0)", "1 (+1)", "0 (0)"]
    company = next(c for c in listed.columns if c.header == "company")
    assert list(company.cells) == ["Acme", "Acme", "(unknown company)"]


def test_cli_prints_the_report_full_width_when_piped(data_dir, monkeypatch):
    for name in ("HOTSPOT_SETTINGS_FILE", "HOTSPOT_WAREHOUSE_URL", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    env = {"HOTSPOT_DATA_DIR": str(data_dir)}
    result = CliRunner().invoke(app, ["report", "ratings", "--month", "2026-11"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("S1R1" in line and "Acme" in line and "red" in line for line in lines)
    assert "(unknown company)" in result.output
    assert not any("…" in line for line in lines)  # nothing cut at 80 columns
    one = CliRunner().invoke(
        app, ["report", "ratings", "--month", "2026-10", "--street", "S2"], env=env
    )
    assert one.exit_code == 0, one.output
    assert "no compound under rectification in 2026-10" in one.output
    assert "S1" not in one.output.replace("S1R", "")
    bad = CliRunner().invoke(app, ["report", "ratings", "--month", "2026-12"], env=env)
    assert bad.exit_code != 0 and "hotspot ratings --month 2026-12" in str(bad.exception)


def test_rows_are_read_from_the_latest_rating(warehouse):
    """Re-rating a month replaces its rows (ReplacingMergeTree(rated_at), read FINAL)."""
    again = _rows([(NOV, "S2R2", "S2", "yellow", 0, "Beta", 2)])
    again["rated_at"] = np.full(1, np.datetime64(1_800_000_000_000, "ms"))
    warehouse.insert("compound_ratings", again)
    s2 = street_ratings(warehouse, NOV, street="S2")[0]
    assert s2.counts == {"green": 0, "yellow": 1, "red": 1}
    assert date(2026, 11, 1) == s2.month.first_day()
