"""Least privilege in a ClickHouse server: roles, users and row policies from
``schemas/clickhouse/access/``, applied by ``hotspot migrate`` with the admin connection.

Who connects as whom (README "Production"):

- the admin (``warehouse_admin_url``) runs migrations, this module and backfill's deletes;
- the worker's writer (the user of ``warehouse_url``) reads and inserts, no DDL;
- the command centre's Grafana reader sees every row, read-only;
- a district's Grafana reader (``hotspot_district_<code>``) sees its district's rows only.

Passwords never appear in the SQL files nor in the statements sent: each user is created
``IDENTIFIED WITH sha256_hash BY '<hex>' SALT '<salt>'``, the hash computed here from the
secret with a fresh salt, so the server's query log holds no password either.

chDB (clickhouse-local) has no writeable access storage (only its users.xml), so it refuses
``CREATE ROLE/USER/ROW POLICY``; the statements are checked there with its parser
(``formatQuery``) and the policies' conditions against the migrated schema
(``tests/warehouse/test_access.py``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..exceptions import ConfigurationError
from ..settings import Settings
from .base import Warehouse
from .migrations import SCHEMA_DIR, split_statements

__all__ = ["ACCESS_DIR", "DISTRICT_USER_PREFIX", "AccessPlan", "apply_access"]

ACCESS_DIR = SCHEMA_DIR / "access"
#: a district's reader is this prefix plus its code; stale ones (a district no longer
#: configured) are dropped by :func:`apply_access`
DISTRICT_USER_PREFIX = "hotspot_district_"


@dataclass(frozen=True)
class AccessPlan:
    """The statements that give each user its rights; ``users`` names them for a summary."""

    statements: list[str]
    users: list[str]
    districts: list[str]

    @classmethod
    def from_settings(cls, settings: Settings, database: str, access_dir: Path = ACCESS_DIR):
        """The plan for ``settings``: the writer is warehouse_url's user (unless it is the
        admin itself), the readers come from ``settings.warehouse_access``."""
        access = settings.warehouse_access
        files = {path.name[:2]: path.read_text() for path in sorted(access_dir.glob("*.sql"))}
        statements = _render(
            files["10"], db=database, max_execution_time=str(access.max_execution_time_s)
        )
        users = []
        writer, password = _user_of(settings.resolved_warehouse_url)
        admin, _ = _user_of(settings.resolved_admin_warehouse_url)
        if writer != admin:
            if not password:
                raise ConfigurationError(
                    f"warehouse_url's user {writer!r} has no password: put it in the URL "
                    "(HOTSPOT_WAREHOUSE_URL), or `hotspot migrate` would create it without one"
                )
            statements += _render(files["20"], writer=_name(writer), auth=_auth(password))
            users.append(writer)
        if access.reader_password is not None:
            secret = access.reader_password.get_secret_value()
            statements += _render(files["30"], reader=_name(access.reader_user), auth=_auth(secret))
            users.append(access.reader_user)
        districts = sorted(access.district_passwords)
        for code in districts:
            user = DISTRICT_USER_PREFIX + code.replace("-", "_")
            secret = access.district_passwords[code].get_secret_value()
            statements += _render(
                files["40"], db=database, code=code, user=_name(user), auth=_auth(secret)
            )
            users.append(user)
        district_users = [DISTRICT_USER_PREFIX + c.replace("-", "_") for c in districts]
        whole_to = "ALL EXCEPT " + ", ".join(map(_name, district_users)) if districts else "ALL"
        statements += _render(files["50"], db=database, whole_to=whole_to)
        return cls(statements, users, districts)


def apply_access(warehouse: Warehouse, settings: Settings) -> AccessPlan:
    """Create or replace the roles, users and row policies of ``settings`` on the server of
    ``warehouse`` (an admin connection), and drop the readers of districts no longer
    configured; returns what was applied."""
    plan = AccessPlan.from_settings(settings, warehouse.database)
    for statement in plan.statements:
        warehouse.execute(statement)
    wanted = set(plan.users)
    rows = warehouse.query(
        f"SELECT name FROM system.users WHERE startsWith(name, '{DISTRICT_USER_PREFIX}')"
    )
    for (name,) in rows:
        if name not in wanted:
            # the policy bears the user's name (40_district.sql)
            tables = ", ".join(f"{warehouse.database}.{t}" for t in _POLICY_TABLES)
            warehouse.execute(f"DROP ROW POLICY IF EXISTS {_name(name)} ON {tables}")
            warehouse.execute(f"DROP USER IF EXISTS {_name(name)}")
    return plan


#: the tables the row policies cover (50_whole.sql and 40_district.sql name the same ones)
_POLICY_TABLES = (
    "alerts",
    "incidents",
    "flags",
    "unit_hour_states",
    "compound_ratings",
    "cell_trends",
    "cameras",
    "camera_status",
    "notice_events",
)


def _render(text: str, **values: str) -> list[str]:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return [s.rstrip(";") for s in split_statements(text)]


def _user_of(url: str) -> tuple[str, str]:
    """The user and password a warehouse URL connects with (chDB: the local ``default``)."""
    parts = urlparse(url)
    if parts.scheme != "clickhouse":
        return "default", ""
    return unquote(parts.username or "default"), unquote(parts.password or "")


def _name(user: str) -> str:
    """A user name as an identifier; refused unless plain (it goes into SQL text)."""
    if not user or not all(c.isalnum() or c == "_" for c in user):
        raise ConfigurationError(
            f"ClickHouse user name {user!r} may hold only letters, digits and '_': rename it "
            "in warehouse_url or warehouse_access"
        )
    return f"`{user}`"


def _auth(password: str) -> str:
    """``IDENTIFIED WITH sha256_hash …`` for ``password``: the server checks
    ``SHA256(password || salt)``, so it never receives the password itself."""
    salt = secrets.token_hex(16)
    digest = hashlib.sha256((password + salt).encode()).hexdigest().upper()
    return f"IDENTIFIED WITH sha256_hash BY '{digest}' SALT '{salt}'"
