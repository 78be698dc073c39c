"""The bank's words that several layers share: event types, channels, segments.

Plain constants, importable anywhere (the request corridor too): the lake's schemas and
validation rules, the simulator and the feature definitions all read them from here, so that a
new event type or channel is declared once.
"""

from __future__ import annotations

EVENT_TYPES = ("login", "transfer", "card_txn", "account_opening", "biometric_auth")
"""Digital event types; ``transfer`` and ``card_txn`` carry an amount (VND thousands)."""
AMOUNT_TYPES = ("transfer", "card_txn")
"""Event types that carry an amount; other types have a null amount."""
CHANNELS = ("app", "web", "branch", "contact_center")
"""Channels a customer uses and a session comes from."""
SEGMENTS = ("mass", "affluent", "priority")
"""Customer segments (``priority`` is the VIP tier)."""
EVENTS_DATASET = "raw/events"
"""Where the digital events live, relative to the lake root."""
