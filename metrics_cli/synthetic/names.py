"""Fictitious but realistic names and codes for synthetic organisations.

Codes keep the real shapes (practice `Y01001`, PCN `U91001`, ICB `Q9A`, LSOA `E01040001`)
without being real; a few names carry an apostrophe and an ampersand on purpose, so that
every report is exercised with them.
"""

from __future__ import annotations

import string

import numpy as np

REGIONS: tuple[tuple[str, str], ...] = (
    ("Y56", "London"),
    ("Y58", "South West"),
    ("Y59", "South East"),
    ("Y60", "Midlands"),
    ("Y61", "East of England"),
    ("Y62", "North West"),
    ("Y63", "North East and Yorkshire"),
)
_TOWN_START = (
    "Ash", "Brack", "Wex", "Kings", "Elm", "Thorn", "Hazel", "Mill", "Stone", "Oak", "Lyn",
    "Marl", "Fern", "Bram", "Wil", "Hol", "Red", "Green", "Cal", "Dun",
)  # fmt: skip
_TOWN_END = (
    "ford", "ham", "ley", "bury", "ton", "field", "worth", "wick", "mouth", "dale", "bridge",
    "stead", "minster", "brook", "combe",
)  # fmt: skip
_PRACTICE_START = (
    "Riverside", "Parkview", "Oakwood", "Church Lane", "Station Road", "Millbrook",
    "Castle Street", "Abbey", "Market Street", "Victoria", "Brook Lane", "Highfield",
    "Elm Tree", "The Willows", "Greenfields", "Orchard", "Meadowbank", "Hillside", "Westgate",
    "Northgate", "Southgate", "Eastgate", "Bridge Street", "Kingsway", "Queensway",
    "Beechwood", "Ashgrove", "Cedar", "Holly Tree", "Laurel", "Maple", "Rosewood", "Fernbank",
    "Springfield", "Woodlands", "Lakeside", "Harbour", "Cornerstone", "Chapel Street", "Priory",
)  # fmt: skip
_PRACTICE_END = (
    "Medical Centre", "Surgery", "Health Centre", "Medical Practice", "Family Practice",
    "Group Practice",
)  # fmt: skip
_COMPASS = (
    "North", "South", "East", "West", "Central", "North East", "South West", "North West",
    "South East", "Rural", "Valley", "Coast",
)  # fmt: skip
_PCN_STYLE = ("{town} {part} PCN", "{town} {part} Primary Care Network", "{part} {town} PCN")
_PROVIDER_STYLE = (
    "{town} GP Federation", "{town} Primary Care Collaborative", "{town} Health Partnership",
)  # fmt: skip
# Names with an apostrophe and an ampersand, used for the first organisation of each kind.
SPECIAL_PRACTICE = "St Mary's & Priory Surgery"
SPECIAL_NEIGHBOURHOOD = "St Anne's & Riverside"
SPECIAL_PCN = "Riverside & Castle PCN"


def town_names(count: int, rng: np.random.Generator) -> list[str]:
    """`count` distinct fictitious town names, in a seeded order."""
    pool = [start + end for start in _TOWN_START for end in _TOWN_END if start[-1] != end[0]]
    if count > len(pool):
        pool += [f"{name} {suffix}" for suffix in ("Vale", "Moor") for name in pool]
    order = rng.permutation(len(pool))[:count]
    return [pool[i] for i in order]


def practice_names(count: int, towns: list[str], rng: np.random.Generator) -> list[str]:
    """Names for the practices of one ICB; combinations repeat only with a town prefix."""
    pool = [f"{start} {end}" for start in _PRACTICE_START for end in _PRACTICE_END]
    order = rng.permutation(len(pool))
    names = []
    for i in range(count):
        base = pool[order[i % len(pool)]]
        names.append(base if i < len(pool) else f"{towns[i % len(towns)]} {base}")
    return names


def neighbourhood_name(town: str, part: int) -> str:
    """The `part`-th neighbourhood of a place named after `town`."""
    return f"{town} {_COMPASS[part % len(_COMPASS)]}"


def pcn_name(town: str, part: int) -> str:
    """A PCN name in one of the styles real PCNs use."""
    style = _PCN_STYLE[part % len(_PCN_STYLE)]
    return style.format(town=town, part=_COMPASS[part % len(_COMPASS)])


def provider_name(town: str, kind: int) -> str:
    """An at-scale provider (federation or collaborative) name."""
    return _PROVIDER_STYLE[kind % len(_PROVIDER_STYLE)].format(town=town)


def icb_name(first: str, second: str) -> str:
    """`NHS Ashford and Millbury Integrated Care Board`."""
    return f"NHS {first} and {second} Integrated Care Board"


def icb_short_name(first: str, second: str) -> str:
    """The short form used in sub-ICB location names."""
    return f"NHS {first} and {second} ICB"


def practice_code(index: int) -> str:
    """`Y01001`, `Y01002`, ... (ODS shape: a letter and five digits)."""
    return f"Y{1_001 + index:05d}"


def pcn_code(index: int) -> str:
    """`U91001`, ... (a U and five digits)."""
    return f"U{91_001 + index:05d}"


def icb_code(index: int) -> str:
    """`Q9A`, `Q9B`, ..., `Q8A`, ...: no real ICB code starts Q8 or Q9."""
    return f"Q{9 - index // 26}{string.ascii_uppercase[index % 26]}"


def place_code(index: int) -> str:
    """A local-authority-shaped code, `E06900001`, outside the real range."""
    return f"E06{900_001 + index:06d}"


def sub_icb_code(index: int) -> str:
    """A sub-ICB location code, `01Z`, `02Z`, ..."""
    return f"{index % 99 + 1:02d}{string.ascii_uppercase[25 - index // 99]}"


def neighbourhood_code(index: int) -> str:
    """`NBH0001`, ..."""
    return f"NBH{index + 1:04d}"


def provider_code(index: int) -> str:
    """`NF001`, ..."""
    return f"NF{index + 1:03d}"


def lsoa_code(index: int) -> str:
    """`E01040001`, ...: the LSOA shape, numbered beyond the real 2011 and 2021 codes."""
    return f"E01{40_001 + index:06d}"
