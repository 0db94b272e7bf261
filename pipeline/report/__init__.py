"""Quick looks for analysts and patrol leads: the open flags as a table, a map as a PNG,
the notices' accountability list, the false alarms per cell, and each street office's monthly
compound ratings."""

from .flag_feed import FlagFeed
from .map import MapFigure, counted, draw_map, map_figure
from .notices import FalseAlarmCell, OverdueUnit, false_alarm_cells, overdue_units
from .street_ratings import StreetRatings, street_ratings, street_ratings_tables
from .top import OpenFlag, flags_table, open_flags

__all__ = [
    "FlagFeed",
    "OpenFlag",
    "open_flags",
    "flags_table",
    "draw_map",
    "map_figure",
    "MapFigure",
    "counted",
    "FalseAlarmCell",
    "OverdueUnit",
    "false_alarm_cells",
    "overdue_units",
    "StreetRatings",
    "street_ratings",
    "street_ratings_tables",
]
