"""A worker refuses feed topics whose partition count is not the ``partitions`` setting: each
feed partition is a watermark origin, numbered by the setting (jobs/runtime.py)."""

from __future__ import annotations

import uuid

import pytest

from jobs.runtime import open_runtime
from pipeline.exceptions import ConfigurationError
from pipeline.kafka import ensure_topics
from pipeline.settings import TopicNames


def test_feed_topics_with_another_partition_count_are_refused(worker_config):
    tag = uuid.uuid4().hex[:8]
    topics = TopicNames(**{k: f"{tag}.{v}" for k, v in TopicNames().model_dump().items()})
    ensure_topics(worker_config.bootstrap, [topics.camera], 3)  # made elsewhere, with 3
    settings = worker_config.settings.model_copy(update={"topics": topics})
    with pytest.raises(ConfigurationError, match=rf"{tag}.alerts.camera': 3.*HOTSPOT_PARTITIONS"):
        with open_runtime(settings):
            pass
