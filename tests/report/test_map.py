"""``hotspot map``: a PNG of the alerts, flags and admin units of a time range."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np

from pipeline.geo.admin_units import load_registry
from pipeline.report import draw_map
from pipeline.warehouse import open_warehouse


def test_the_map_draws_every_alert_and_the_flags_of_the_range(backfilled_city, city, tmp_path):
    out = tmp_path / "map.png"
    with open_warehouse(backfilled_city.resolved_warehouse_url) as wh:
        lo, hi, n = wh.query(
            f"SELECT toUnixTimestamp64Milli(min(event_time)), "
            f"toUnixTimestamp64Milli(max(event_time)), count() "
            f"FROM {wh.database}.alerts FINAL"
        )[0]
        flags = wh.query(f"SELECT count() FROM {wh.database}.flags FINAL")[0][0]
        alerts, drawn = draw_map(wh, load_registry(city.registry), lo, hi + 1, out)
        empty = draw_map(wh, load_registry(city.registry), 0, 1, tmp_path / "empty.png")
    assert alerts == n and drawn == flags > 0
    assert empty == (0, 0) and (tmp_path / "empty.png").stat().st_size > 0
    image = mpimg.imread(out)
    assert image.shape[0] > 500 and image.shape[1] > 800
    red = (image[..., 0] > 0.8) & (image[..., 1] < 0.2) & (image[..., 2] < 0.2)
    assert red.sum() > 50  # the open flags' circles and the hottest cells are drawn in red
    assert np.std(image[..., :3]) > 0.05  # not a blank canvas
