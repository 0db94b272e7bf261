"""Quick looks for analysts and patrol leads: the open flags as a table, a map as a PNG,
the notices' accountability list and the false alarms per cell."""

from .flag_feed import FlagFeed
from .map import MapFigure, counted, draw_map, map_figure
from .notices import FalseAlarmCell, OverdueUnit, false_alarm_cells, overdue_units
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
]
