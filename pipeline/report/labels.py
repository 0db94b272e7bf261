"""Labels on a map that hide nothing: inside the axes, clear of each other and of what to keep.

Flags cluster where alerts cluster, so labels at a fixed offset overlap each other and run off
the map's edge (issue 21: five labels stacked on one station, two cut at the border). Each
label tries positions around its point, nearest first, in display coordinates measured with
the figure's renderer, and takes the first that lies inside the axes and overlaps no label
placed before it nor any box to keep clear (district names, other flags' centres). A label
moved away from its point gets a thin leader line. One that fits nowhere is left out rather
than drawn over another, and counted, so the caller can say so. A loop per label: a map holds
a dozen.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.text import Annotation, Text
from matplotlib.transforms import Bbox

__all__ = ["Label", "keep_inside", "place_labels"]

#: distances from the point tried, in points: the first without a leader line
_DISTANCES = (8, 22, 40, 62, 90)
#: directions tried at each distance (right-up first: the reader's eye goes there)
_DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))
#: pixels around every label's text: its frame's pad (0.2 em) and a little air
_PAD_PX = 4.0


@dataclass(frozen=True, slots=True)
class Label:
    x: float
    y: float
    text: str
    colour: str


def _box(text: Text, renderer) -> Bbox:
    """The text's extent in pixels with its rounded frame and a little air (a leader line,
    if any, left out: ``Text``'s extent, not ``Annotation``'s)."""
    if isinstance(text, Annotation):
        text.update_positions(renderer)  # where its offset puts it, as drawing would
    return Text.get_window_extent(text, renderer).padded(_PAD_PX)


def _inside(box: Bbox, frame: Bbox) -> bool:
    return box.x0 >= frame.x0 and box.y0 >= frame.y0 and box.x1 <= frame.x1 and box.y1 <= frame.y1


def place_labels(
    ax: Axes, labels: list[Label], keep_clear: list[Bbox], **text_kw
) -> tuple[list[Annotation], int]:
    """Annotate ``labels`` in order (the most important first) where they hide nothing.

    The figure must be laid out (``fig.canvas.draw()``) with its final limits, aspect,
    colour bar and legend. Returns the annotations placed and how many labels fit nowhere.
    ``keep_clear`` (pixel boxes) is extended with every label placed.
    """
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed: list[Annotation] = []
    left_out = 0
    for label in labels:  # a dozen labels, each a few dozen tries at most
        note = _first_fit(ax, label, frame, keep_clear, renderer, text_kw)
        if note is None:
            left_out += 1
            continue
        keep_clear.append(_box(note, renderer))
        placed.append(note)
    return placed, left_out


def _first_fit(ax, label: Label, frame: Bbox, keep_clear, renderer, text_kw):
    for distance in _DISTANCES:
        leader = (
            {"arrowprops": {"arrowstyle": "-", "color": label.colour, "lw": 0.8}}
            if distance > _DISTANCES[0]  # away from its point: a line says which point
            else {}
        )
        for dx, dy in _DIRECTIONS:
            note = ax.annotate(
                label.text,
                (label.x, label.y),
                xytext=(dx * distance, dy * distance),
                textcoords="offset points",
                ha={1: "left", -1: "right", 0: "center"}[dx],
                va={1: "bottom", -1: "top", 0: "center"}[dy],
                color=label.colour,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": label.colour},
                annotation_clip=False,
                **leader,
                **text_kw,
            )
            box = _box(note, renderer)
            if _inside(box, frame) and not any(box.overlaps(k) for k in keep_clear):
                return note
            note.remove()
    return None


def keep_inside(ax: Axes, text: Text, keep_clear: list[Bbox] | None = None) -> Bbox:
    """Move ``text`` (placed in data coordinates) to the nearest spot, in steps of its own
    height, that lies inside the axes and clear of ``keep_clear`` (e.g. the flags' circles);
    it stays where it was when no spot within a few steps is clear. Returns its box."""
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    keep_clear = keep_clear or []
    home = ax.transData.transform(text.get_position())
    box = _box(text, renderer)
    step = box.height
    # first inside the axes: a name at the map's edge is cut
    dx = max(frame.x0 - box.x0, 0.0) - max(box.x1 - frame.x1, 0.0)
    dy = max(frame.y0 - box.y0, 0.0) - max(box.y1 - frame.y1, 0.0)
    home = home + (dx, dy)
    tries = [(0, 0)] + [
        (i * sx, j * sy)
        for r in (1, 2, 3)
        for i, j in ((0, r), (r, 0), (r, r))
        for sx, sy in ((1, 1), (-1, -1), (1, -1), (-1, 1))
    ]
    for i, j in tries:  # a few dozen tries for each of a handful of names
        at = home + (i * step, j * step)
        text.set_position(ax.transData.inverted().transform(at))
        box = _box(text, renderer)
        if _inside(box, frame) and not any(box.overlaps(k) for k in keep_clear):
            return box
    text.set_position(ax.transData.inverted().transform(home))
    return _box(text, renderer)
