"""Secrets out of what is printed: a URL's password replaced before it reaches a message.

Settings hold passwords typed as :class:`pydantic.SecretStr`, which prints as ``**********``;
a URL must still be shown (which server, which database) without its password, so it is
redacted here rather than hidden whole.

>>> redact_url("clickhouse://writer:s3cr%40t@ch.city.local:9440/hotspot?secure=1")
'clickhouse://writer:***@ch.city.local:9440/hotspot?secure=1'
>>> redact_url("chdb:///var/lib/hotspot/warehouse")
'chdb:///var/lib/hotspot/warehouse'
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_url"]


def redact_url(url: str) -> str:
    """``url`` with the password of its user part (if any) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL we can take apart: show nothing of what follows the scheme
        scheme, sep, _ = url.partition("://")
        return f"{scheme}://***" if sep else "***"
    if password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    name = user.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{name}:***@{host}"))
