"""The watermark's public parameters and the message <-> segment bookkeeping (Sec. 3.1, 4.1)."""

from __future__ import annotations

from dataclasses import dataclass

from common.params import ConfigError, check_choice, check_positive

METHODS = ("balance", "vanilla")


@dataclass
class Code:
    """How a message is written into text: ``bits`` (L) per segment, each spread over
    ``encode_len = L * encode_ratio`` tokens after the first ``prefix_len`` generated tokens
    (unwatermarked: the proxy's window, and the hash context, need them); ``partitions`` (R)
    vocabulary partitions per position, seeded by ``key``; logit bias ``delta`` on the
    generator's ``top_k`` tokens."""

    method: str = "balance"
    bits: int = 20
    encode_ratio: float = 10.0
    prefix_len: int = 10
    partitions: int = 100
    key: int = 42
    delta: float = 1.5
    top_k: int = 1000

    def __post_init__(self) -> None:
        check_choice("code.method", self.method, METHODS)
        if not 1 <= self.bits <= 24:
            raise ConfigError("code.bits", f"{self.bits} is outside 1..24",
                              "the paper uses 20 (decoding scores all 2^bits messages)")
        check_positive("code.encode_ratio", self.encode_ratio)
        check_positive("code.prefix_len", self.prefix_len)
        check_positive("code.partitions", self.partitions)
        check_positive("code.delta", self.delta, allow_zero=True)
        check_positive("code.top_k", self.top_k)
        if self.key < 0:
            raise ConfigError("code.key", f"{self.key} is negative", "any integer >= 0")

    @property
    def encode_len(self) -> int:
        return max(1, int(self.bits * self.encode_ratio))

    def segments_for(self, new_tokens: int) -> int:
        """How many L-bit segments ``new_tokens`` generated tokens carry (at least one)."""
        return max(1, -(-(new_tokens - self.prefix_len) // self.encode_len))


def bit_accuracy(decoded: int, embedded: int, bits: int) -> float:
    """Share of the L bits of a segment decoded correctly."""
    return 1.0 - bin((decoded ^ embedded) & ((1 << bits) - 1)).count("1") / bits
