"""Plausible place names and phone numbers for the synthetic city.

Names are romanised like real Hangzhou units ("Beishan Street", "Cuiyuan Community") so that
dashboards and flags read naturally in demos; they are fictional combinations of common place-name
syllables, drawn without repetition among siblings.
"""

from __future__ import annotations

import numpy as np

__all__ = ["district_names", "place_names", "compound_names", "mobile_numbers"]

_DISTRICTS = (
    "West Lake",
    "Shangcheng",
    "Gongshu",
    "Binjiang",
    "Xiaoshan",
    "Yuhang",
    "Linping",
    "Qiantang",
    "Fuyang",
    "Lin'an",
    "Tonglu",
    "Jiande",
)
_FIRST = (
    "Bei",
    "Nan",
    "Dong",
    "Xi",
    "Cui",
    "Wen",
    "Gu",
    "Ling",
    "Jiang",
    "Hu",
    "Qing",
    "Bai",
    "Jin",
    "Yun",
    "Shi",
    "Zhuan",
    "Xin",
    "Hua",
    "Chang",
    "Feng",
    "Ping",
    "An",
    "Mei",
    "Song",
)
_SECOND = (
    "shan",
    "yuan",
    "xin",
    "dang",
    "xi",
    "yin",
    "cun",
    "tang",
    "qiao",
    "he",
    "hu",
    "ting",
    "lin",
    "jia",
    "bang",
    "men",
    "pu",
    "gang",
    "zhou",
    "fang",
    "li",
    "yang",
    "ning",
    "quan",
)
_COMPOUND_SUFFIX = ("Garden", "Residence", "Court", "Jiayuan", "Xiaoqu", "Apartments", "Village")
# Mainland mobile prefixes (China Mobile, Unicom, Telecom); numbers are 11 digits.
_MOBILE_PREFIXES = np.array(
    [
        134,
        135,
        136,
        137,
        138,
        139,
        150,
        151,
        152,
        157,
        158,
        159,
        182,
        187,
        188,
        130,
        131,
        132,
        155,
        156,
        185,
        186,
        133,
        153,
        180,
        189,
        199,
        177,
    ]
)


def district_names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct district names ("West Lake District", ...)."""
    if n > len(_DISTRICTS):
        raise ValueError(f"at most {len(_DISTRICTS)} districts have names; ask for fewer")
    picks = rng.permutation(len(_DISTRICTS))[:n]
    return [f"{_DISTRICTS[i]} District" for i in picks]


def place_names(n: int, suffix: str, rng: np.random.Generator) -> list[str]:
    """``n`` distinct two-syllable names with a suffix ("Beishan Street", "Cuiyuan Community")."""
    picks = rng.permutation(len(_FIRST) * len(_SECOND))[:n]
    return [f"{_FIRST[i // len(_SECOND)]}{_SECOND[i % len(_SECOND)]} {suffix}" for i in picks]


def compound_names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct residential compound names ("Jinhe Garden", ...)."""
    stems = place_names(n, "", rng)
    kinds = rng.integers(0, len(_COMPOUND_SUFFIX), n)
    return [f"{s.strip()} {_COMPOUND_SUFFIX[k]}" for s, k in zip(stems, kinds, strict=True)]


def mobile_numbers(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct-looking 11-digit mobile numbers as strings ("13812345678")."""
    prefix = _MOBILE_PREFIXES[rng.integers(0, len(_MOBILE_PREFIXES), n)]
    body = rng.integers(0, 100_000_000, n)
    return np.char.add(prefix.astype(str), np.char.zfill(body.astype(str), 8))
