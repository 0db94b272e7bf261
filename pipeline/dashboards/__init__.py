"""Grafana dashboards as code: panels and their SQL, the macro expander, build and push.

Why a small builder of our own and not grafana-foundation-sdk (issue 22, item 6; checked
2026-12-06). The SDK installs from PyPI (no dependencies, Python >= 3.11; wheel 329 KB, 2.2 MB
and about 55,600 lines installed, one builder module per panel type and data source), and its
output passes Grafana's schema: a stat panel built with it, carrying our ClickHouse query as a
custom ``Dataquery`` subclass, validated with no error against ``../shared/grafana-schema/``.
But:

- its releases are numbered by build epoch, one build per Grafana version, and the newest epoch
  is a Grafana 10.1 build: ``pip install grafana-foundation-sdk`` silently brings 10.1's models,
  and the newest Grafana it has models for is 11.6 (``==1769699379!11.6.0``), while the
  deployment runs Grafana 12.1 (``infra/compose.yaml``);
- it has no ClickHouse query type, so the part that matters here (the SQL, its macros, and
  running every panel on chDB: :mod:`.macros`, :mod:`.preview`) stays ours either way;
- these dashboards use six panel types; ``panels.py`` and ``dashboard.py`` (about 500 lines)
  make them, and ``tests/dashboards/test_grafana_schema.py`` checks every generated dashboard,
  and each panel's options and custom field config, against the same schemas the SDK is
  generated from, which is the guarantee the SDK would bring.

Move to the SDK when it publishes models for the Grafana the deployment runs and the panel
types outgrow ``panels.py``; the schema test then shows the output is unchanged in meaning.
"""

from .builder import all_dashboards, generated_files, stale_files, write_generated
from .macros import ALL, AllValues, QueryContext, expand

__all__ = [
    "ALL",
    "AllValues",
    "QueryContext",
    "expand",
    "all_dashboards",
    "generated_files",
    "stale_files",
    "write_generated",
]
