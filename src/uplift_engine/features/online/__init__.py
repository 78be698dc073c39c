"""The online store: latest feature values and stream windows by customer, one read each.

``open_store(settings)`` gives the backend of the settings' ``online_store`` (SQLite embedded,
Redis in production) behind one small :class:`OnlineStore` protocol;
:func:`uplift_engine.features.offline.materialize` puts the batch features computed from the
lake into it; :class:`FeatureReader` is the request corridor's read of all of a customer's
features in one round trip.
"""

from uplift_engine.features.online.codec import (
    AS_OF_FIELD,
    META_KEY,
    customer_key,
    decode_value,
    encode_value,
    window_field,
)
from uplift_engine.features.online.factory import open_store
from uplift_engine.features.online.reader import FeatureReader
from uplift_engine.features.online.store import OnlineStore, WindowEvent

__all__ = [
    "AS_OF_FIELD",
    "META_KEY",
    "FeatureReader",
    "OnlineStore",
    "WindowEvent",
    "customer_key",
    "decode_value",
    "encode_value",
    "open_store",
    "window_field",
]
