"""The bank's words that several layers share: event types, channels, segments, contacts.

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
CONTACT_TYPES = ("offer_sent", "offer_response")
"""Contact-history event types: an offer made to a customer, and their response to it."""
RESPONSES = ("accepted", "declined", "ignored")
"""How a customer responded to an offer (``ignored``: it expired without an answer)."""
CONTACT_CHANNELS = (*CHANNELS, "sms", "email", "push")
"""Channels an offer is made in: a session's channels and the outbound ones."""
CONTACTS_DATASET = "raw/contact_history"
"""Where the contact history lives, relative to the lake root."""
