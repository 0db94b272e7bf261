"""The four input feeds: wire types, decoding in batches, and their normalisation rules.

One module per feed holds its wire :class:`msgspec.Struct` and how its fields map onto the
common envelope; :mod:`.decode` turns a batch of raw Kafka values into columns plus rejects.
"""

from .decode import FEEDS, DecodedBatch, FeedSpec, decode_batch

__all__ = ["FEEDS", "DecodedBatch", "FeedSpec", "decode_batch"]
