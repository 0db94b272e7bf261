"""The baseline: how many counted alerts each lattice cell expects per hour of week.

:mod:`.model` is the rate the engine scores against (:class:`Baseline`: a constant rate, or a
level per cell that learns, times an hour-of-week profile); :mod:`.history` and
:mod:`.district_fit` fit rates from a period of past alerts; :mod:`.disks` fits whole scoring
disks; :mod:`.rate_cache` memoises the disk rates scoring reads at every slide; :mod:`.store`
writes fits to the warehouse and loads the newest one for a correlator.
"""

from .model import HOURS_PER_WEEK, Baseline, hour_of_week

__all__ = ["Baseline", "HOURS_PER_WEEK", "hour_of_week"]
