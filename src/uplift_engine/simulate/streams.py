"""Random streams keyed by what they draw, never by how the work was split.

Every draw comes from a generator made by :func:`stream` from the seed and a key: the domain
(the population of a block, or the calibration sample), the block index, the kind of draw and,
for campaigns, a stable number taken from the campaign id and the arm name. A block's draws are
therefore the same whichever worker makes them, in whichever order, with whatever chunk size;
and adding a campaign or an offer leaves the draws of the others unchanged.
"""

from __future__ import annotations

import zlib
from enum import IntEnum

import numpy as np


class Kind(IntEnum):
    """What a stream draws; the numbers are part of the output's identity — never renumber."""

    TRAITS = 1
    ATTRIBUTES = 2
    EVENT_COUNTS = 3
    EVENT_TIMES = 4
    EVENT_AMOUNTS = 5
    AUDIENCE = 10
    ASSIGNMENT_TIME = 11
    ARM = 12
    BASELINE = 13
    TYPE = 14
    EFFECT = 15
    CONVERSION = 16
    REVENUE = 17
    ASSIGNMENT_CHANNEL = 18


BLOCK_DOMAIN = 0
CALIBRATION_DOMAIN = 1


def name_key(name: str) -> int:
    """A stable non-negative number for a campaign id or an arm name (CRC-32 of its UTF-8)."""
    return zlib.crc32(name.encode("utf-8"))


def stream(seed: int, domain: int, block: int, kind: Kind, *names: str) -> np.random.Generator:
    """The generator for one kind of draw in one block (optionally of one campaign / arm)."""
    key = (domain, block, int(kind), *(name_key(n) for n in names))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))
