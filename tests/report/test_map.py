"""``hotspot map``: a PNG of the alerts, flags and admin units of a time range."""

from __future__ import annotations

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.text import Text

from pipeline.geo.admin_units import load_registry
from pipeline.report import counted, draw_map, map_figure
from pipeline.report.labels import Label, place_labels
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


def _overlap(a, b) -> bool:
    return a.overlaps(b)


def test_labels_lie_inside_the_map_and_hide_nothing(backfilled_city, city):
    """Issue 21: labels overlapped and ran off the edge; the legend covered a district name."""
    registry = load_registry(city.registry)
    with open_warehouse(backfilled_city.resolved_warehouse_url) as wh:
        lo, hi = wh.query(
            f"SELECT toUnixTimestamp64Milli(min(event_time)), "
            f"toUnixTimestamp64Milli(max(event_time)) FROM {wh.database}.alerts FINAL"
        )[0]
        drawn = map_figure(wh, registry, lo, hi + 1)
    try:
        renderer = drawn.fig.canvas.get_renderer()
        frame = drawn.ax.get_window_extent(renderer)
        labels = [Text.get_window_extent(t, renderer) for t in drawn.labels]
        districts = [t.get_window_extent(renderer) for t in drawn.district_names]
        legend = drawn.ax.get_legend().get_window_extent(renderer)
        assert len(labels) > 0 and len(labels) + drawn.unlabelled == drawn.flags
        texts = [t.get_text() for t in drawn.labels]
        # an open flag's label says how often chance alone would make it (issue 23)
        assert any(", every " in t for t in texts), texts
        for box in labels + districts:
            assert frame.x0 <= box.x0 and box.x1 <= frame.x1, "a label is cut at the edge"
            assert frame.y0 <= box.y0 and box.y1 <= frame.y1, "a label is cut at the edge"
        boxes = labels + districts
        for k, a in enumerate(boxes):
            assert not any(_overlap(a, b) for b in boxes[k + 1 :]), "two labels overlap"
        assert not _overlap(legend, frame), "the legend covers the map"
        circles = [c.get_window_extent(renderer) for c in drawn.ax.patches]
        assert not any(_overlap(d, c) for d in districts for c in circles), "a flag hides a name"
    finally:
        plt.close(drawn.fig)


def test_labels_name_the_community_as_top_does(backfilled_city, city):
    registry = load_registry(city.registry)
    names = set(registry.communities.names.tolist())
    stations = set(registry.stations.codes.tolist())
    with open_warehouse(backfilled_city.resolved_warehouse_url) as wh:
        drawn = map_figure(wh, registry, 0, 2**42)
    try:
        texts = [t.get_text() for t in drawn.labels]
        assert texts
        for text in texts:
            place = text.rsplit("  ", 1)[0]
            assert place in names, f"{text!r} does not start with a community name"
            assert not any(s and s in text for s in stations)
    finally:
        plt.close(drawn.fig)


def test_crowded_labels_never_overlap_or_leave_the_map():
    """Four flags in the corners, then twelve on one spot: every label placed is inside the
    axes and clear of every other; those that fit nowhere are counted, not drawn over."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    fig.canvas.draw()
    spots = [(0.0, 0.0), (1.0, 1.0), (0.0, 1.0), (1.0, 0.0)] + [(0.5, 0.5)] * 12
    wanted = [
        Label(x, y, f"Community number {k}  {k}", "#d7191c") for k, (x, y) in enumerate(spots)
    ]
    placed, left_out = place_labels(ax, wanted, [], fontsize=9)
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    boxes = [Text.get_window_extent(t, renderer) for t in placed]
    assert len(placed) + left_out == len(wanted) and len(placed) >= 8
    assert all(frame.contains(b.x0, b.y0) and frame.contains(b.x1, b.y1) for b in boxes)
    assert not any(a.overlaps(b) for k, a in enumerate(boxes) for b in boxes[k + 1 :])
    assert {t.get_text() for t in placed} >= {w.text for w in wanted[:4]}, "corner labels fit"
    plt.close(fig)


def test_counts_read_in_the_right_number():
    assert counted(1, "hotspot flag") == "1 hotspot flag"
    assert counted(0, "hotspot flag") == "0 hotspot flags"
    assert counted(1234, "alert") == "1,234 alerts"
