"""Least privilege (``schemas/clickhouse/access/``, :mod:`pipeline.warehouse.access`).

What ran where: chDB (clickhouse-local 26.9) refuses ``CREATE ROLE/USER/ROW POLICY`` — its
``default`` user has no access management, and given it through a users.xml it still has no
writeable access storage (``ACCESS_STORAGE_FOR_INSERTION_NOT_FOUND``); the clickhouse-server
here (18.16) predates SQL access control. So these tests run every statement through chDB's
parser (``formatQuery``), run the row policies' conditions against the migrated schema, check
that the policies cover every table with a ``district_code``, and check the worker's start-up
against an up-to-date warehouse issues no DDL. Granting, row filtering by a server and the
``CHANGEABLE_IN_READONLY`` constraint were not executed here.
"""

from __future__ import annotations

import hashlib
import re

import pytest
from pydantic import SecretStr

from pipeline.exceptions import ConfigurationError, WarehouseError
from pipeline.settings import Settings, WarehouseAccess
from pipeline.warehouse import migrate
from pipeline.warehouse.access import _POLICY_TABLES, AccessPlan, apply_access
from pipeline.warehouse.embedded import EmbeddedWarehouse

ADMIN = "clickhouse://hotspot_admin:adm1n-secret@ch:9000/hotspot"
WRITER = "clickhouse://hotspot_writer:wr1ter-secret@ch:9000/hotspot"
SECRETS = ("adm1n-secret", "wr1ter-secret", "re4der-secret", "d1strict-a", "d1strict-b")


def deployed(**access) -> Settings:
    return Settings(
        warehouse_url=SecretStr(WRITER),
        warehouse_admin_url=SecretStr(ADMIN),
        warehouse_access=WarehouseAccess(
            reader_password=SecretStr("re4der-secret"),
            district_passwords={"110101": SecretStr("d1strict-a"), "110102": "d1strict-b"},
            **access,
        ),
    )


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    warehouse = EmbeddedWarehouse(tmp_path_factory.mktemp("access") / "chdb")
    migrate(warehouse)
    yield warehouse
    warehouse.close()


def test_every_statement_parses_and_no_password_is_sent(wh):
    plan = AccessPlan.from_settings(deployed(), "hotspot")
    assert plan.users == [
        "hotspot_writer",
        "hotspot_grafana",
        "hotspot_district_110101",
        "hotspot_district_110102",
    ]
    for statement in plan.statements:
        assert not any(secret in statement for secret in SECRETS), statement
        escaped = statement.replace("\\", "\\\\").replace("'", "\\'")
        (formatted,) = wh.query(f"SELECT formatQuery('{escaped}')")[0]
        assert formatted.split()[0] in ("CREATE", "GRANT", "REVOKE"), formatted
    text = "\n".join(plan.statements)
    assert "GRANT SELECT, INSERT ON hotspot.* TO hotspot_writer" in text
    assert "readonly = 1, max_execution_time = 60 CHANGEABLE_IN_READONLY" in text
    assert "TO ALL EXCEPT `hotspot_district_110101`, `hotspot_district_110102`" in text


def test_the_password_hash_is_what_the_server_checks(wh):
    """The server accepts a password when SHA256(password || salt) equals the stored hash."""
    plan = AccessPlan.from_settings(deployed(), "hotspot")
    (create,) = [s for s in plan.statements if s.startswith("CREATE USER OR REPLACE `hotspot_gr")]
    digest, salt = re.search(r"BY '([0-9A-F]{64})' SALT '([0-9a-f]+)'", create).groups()
    (server,) = wh.query(f"SELECT hex(SHA256(concat('re4der-secret', '{salt}')))")[0]
    assert server == digest
    assert digest != hashlib.sha256(b"re4der-secret").hexdigest().upper()  # salted


def test_row_policies_cover_exactly_the_tables_that_carry_a_district(wh):
    """A table with district_code missing from the policies would show a district user all its
    rows (no policy) — or, missing from one of the two, none or all of them."""
    rows = wh.query(
        "SELECT DISTINCT table FROM system.columns WHERE database = 'hotspot' "
        "AND name = 'district_code' AND table IN (SELECT name FROM system.tables "
        "WHERE database = 'hotspot' AND engine LIKE '%MergeTree')"
    )
    assert {t for (t,) in rows} == set(_POLICY_TABLES)
    plan = AccessPlan.from_settings(deployed(), "hotspot")
    policies = [s for s in plan.statements if s.startswith("CREATE ROW POLICY")]
    assert len(policies) == 3  # two districts, then the whole view
    for policy in policies:
        on = re.search(r" ON (.*?) USING ", policy).group(1)
        assert on.split(", ") == [f"hotspot.{t}" for t in _POLICY_TABLES]


def test_a_district_policy_keeps_its_district_s_rows(wh):
    """The condition of district 110101's policy, run on the migrated tables: it keeps that
    district's rows and no other (the column exists and compares as written)."""
    wh.execute(
        "INSERT INTO hotspot.compound_ratings (month, compound_code, district_code) "
        "SELECT toDate('2026-11-01'), concat('c', toString(number)), "
        "if(number % 3 = 0, '110101', '110102') FROM numbers(9)"
    )
    plan = AccessPlan.from_settings(deployed(), "hotspot")
    (policy,) = [
        s for s in plan.statements if "ROW POLICY OR REPLACE `hotspot_district_110101`" in s
    ]
    condition = re.search(r" USING (.*) TO ", policy).group(1)
    for table in _POLICY_TABLES:
        wh.query(f"SELECT count() FROM hotspot.{table} WHERE {condition}")  # parses, types fit
    (kept,) = wh.query(f"SELECT count() FROM hotspot.compound_ratings WHERE {condition}")[0]
    (total,) = wh.query("SELECT count() FROM hotspot.compound_ratings")[0]
    assert (kept, total) == (3, 9)


def test_without_districts_the_whole_view_is_everyone_s():
    settings = Settings(warehouse_url=SecretStr(WRITER), warehouse_admin_url=SecretStr(ADMIN))
    plan = AccessPlan.from_settings(settings, "hotspot")
    assert plan.users == ["hotspot_writer"]  # no reader password: no reader
    assert plan.statements[-1].endswith("USING 1 TO ALL")


def test_a_writer_without_a_password_is_refused():
    settings = Settings(
        warehouse_url=SecretStr("clickhouse://hotspot_writer@ch:9000/hotspot"),
        warehouse_admin_url=SecretStr(ADMIN),
    )
    with pytest.raises(ConfigurationError, match="has no password"):
        AccessPlan.from_settings(settings, "hotspot")


def test_a_user_name_that_is_not_plain_is_refused():
    settings = Settings(
        warehouse_url=SecretStr("clickhouse://x%60y:pw@ch:9000/hotspot"),
        warehouse_admin_url=SecretStr(ADMIN),
    )
    with pytest.raises(ConfigurationError, match="letters, digits and '_'"):
        AccessPlan.from_settings(settings, "hotspot")


class _Recorder:
    """A warehouse that keeps what it is sent; it stands in for a ClickHouse server with SQL
    access control, which cannot run here (see the module docstring). ``users`` is what its
    ``system.users`` holds; ``deny`` makes DDL fail as a writer's would (ACCESS_DENIED)."""

    def __init__(self, inner=None, *, users=(), deny=False):
        self.inner, self.users, self.deny, self.sent = inner, users, deny, []
        self.database = "hotspot"

    def execute(self, sql):
        self.sent.append(sql)
        if self.deny and sql.split()[0] in ("CREATE", "ALTER", "DROP"):
            raise WarehouseError("Not enough privileges. (ACCESS_DENIED)", code=497)
        if self.inner is not None:
            self.inner.execute(sql)

    def query(self, sql):
        if "system.users" in sql:
            return [(name,) for name in self.users]
        return self.inner.query(sql)

    def insert(self, table, columns, **kwargs):
        self.sent.append(f"INSERT INTO {table}")
        self.inner.insert(table, columns, **kwargs)


def test_apply_sends_the_plan_and_drops_a_district_no_longer_configured():
    recorder = _Recorder(users=("hotspot_district_110101", "hotspot_district_999"))
    plan = apply_access(recorder, deployed())
    assert recorder.sent[: len(plan.statements)] == plan.statements
    assert recorder.sent[len(plan.statements) :] == [
        "DROP ROW POLICY IF EXISTS `hotspot_district_999` ON "
        + ", ".join(f"hotspot.{t}" for t in _POLICY_TABLES),
        "DROP USER IF EXISTS `hotspot_district_999`",
    ]


def test_a_writer_starts_on_an_up_to_date_warehouse_without_any_ddl(wh):
    """The worker migrates at start-up: once `hotspot migrate` ran, that sends no DDL, so the
    writer (SELECT and INSERT only) can start."""
    recorder = _Recorder(wh, deny=True)
    assert migrate(recorder, retention=Settings().retention) == []
    assert recorder.sent == []


def test_a_writer_facing_a_pending_migration_is_told_to_run_hotspot_migrate(wh, tmp_path):
    (tmp_path / "9999_new.sql").write_text("CREATE TABLE IF NOT EXISTS {db}.later (x UInt8)\n")
    with pytest.raises(WarehouseError, match="run `hotspot migrate`") as caught:
        migrate(_Recorder(wh, deny=True), tmp_path)
    assert caught.value.code == 497
