"""Random hashes for tests: PDQ values and near-duplicates at an exact Hamming distance (seeded per module)."""

from __future__ import annotations

import random


class HashMaker:
    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)

    def hex(self, bits: int) -> str:
        return f"{self.rnd.getrandbits(bits):0{bits // 4}x}"

    def pdq(self) -> str:
        return self.hex(256)

    def flip(self, value: str, bits: int) -> str:
        """`value` with exactly `bits` distinct bits flipped (width taken from the value)."""
        width = len(value) * 4
        number = int(value, 16)
        for bit in self.rnd.sample(range(width), bits):
            number ^= 1 << bit
        return f"{number:0{len(value)}x}"
