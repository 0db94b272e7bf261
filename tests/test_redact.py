"""URLs in messages without their passwords."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.redact import redact_url

_PART = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="@/:?#[]%\\"),
    min_size=1,
)


@given(user=_PART, password=_PART, host=st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True))
def test_the_password_never_survives_and_the_rest_does(user, password, host):
    url = f"clickhouse://{user}:{password}@{host}:9000/hotspot"
    shown = redact_url(url)
    assert shown == f"clickhouse://{user}:***@{host}:9000/hotspot"


def test_a_url_without_a_password_is_shown_as_it_is():
    for url in ("clickhouse://default@h:9000/db", "chdb:///var/w", "kafka://k1:9092,k2:9092"):
        assert redact_url(url) == url


def test_a_url_that_does_not_parse_shows_only_its_scheme():
    assert redact_url("clickhouse://u:p@[::1/db") == "clickhouse://***"
