"""Postal addresses as CRMs type them, brought to one form (USPS Publication 28 conventions).

`12 Oak Street Apt 4, Town, California 94110-1234` and `12 oak st #4 / town / CA / 94110`
both become number `12`, street `oak st`, unit `4`, city `town`, state `CA`, postcode
`94110`. Street suffixes and directionals take their standard abbreviation, ZIP+4 keeps its
five-digit ZIP, US state names become their codes. Pure and cached per distinct spelling.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from clientcore.reconcile.names import fold

# Suffix -> USPS standard abbreviation (spelled-out and common short forms both map to it).
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "aly": ("alley", "allee", "ally"),
    "anx": ("annex", "anex", "annx"),
    "arc": ("arcade",),
    "ave": ("avenue", "av", "aven", "avenu", "avn", "avnue"),
    "byu": ("bayou", "bayoo"),
    "bch": ("beach",),
    "bnd": ("bend",),
    "blf": ("bluff", "bluf"),
    "blvd": ("boulevard", "boul", "boulv"),
    "br": ("branch", "brnch"),
    "brg": ("bridge", "brdge"),
    "brk": ("brook",),
    "bg": ("burg",),
    "byp": ("bypass", "bypa", "bypas", "byps"),
    "cp": ("camp", "cmp"),
    "cyn": ("canyon", "canyn", "cnyn"),
    "cpe": ("cape",),
    "cswy": ("causeway", "causwa"),
    "ctr": ("center", "centre", "cen", "cent", "centr", "cnter", "cntr"),
    "cct": ("circuit",),
    "cir": ("circle", "circ", "circl", "crcl", "crcle"),
    "clf": ("cliff",),
    "cl": ("close",),
    "clb": ("club",),
    "cmn": ("common",),
    "cor": ("corner",),
    "crse": ("course",),
    "ct": ("court",),
    "cv": ("cove",),
    "crk": ("creek",),
    "cres": ("crescent", "crsent", "crsnt"),
    "crst": ("crest",),
    "xing": ("crossing", "crssng"),
    "dl": ("dale",),
    "dm": ("dam",),
    "dv": ("divide", "div", "dvd"),
    "dr": ("drive", "driv", "drv"),
    "est": ("estate",),
    "expy": ("expressway", "exp", "expr", "express", "expw"),
    "ext": ("extension", "extn", "extnsn"),
    "fls": ("falls",),
    "fry": ("ferry", "frry"),
    "fld": ("field",),
    "flds": ("fields",),
    "flt": ("flat",),
    "frd": ("ford",),
    "frst": ("forest", "forests"),
    "frg": ("forge", "forg"),
    "frk": ("fork",),
    "ft": ("fort", "frt"),
    "fwy": ("freeway", "freewy", "frway", "frwy"),
    "gdn": ("garden", "gardn", "grden", "grdn"),
    "gdns": ("gardens", "grdns"),
    "gtwy": ("gateway", "gatewy", "gatway", "gtway"),
    "gln": ("glen",),
    "grn": ("green",),
    "grv": ("grove", "grov"),
    "hbr": ("harbor", "harb", "harbr", "hrbor"),
    "hvn": ("haven",),
    "hts": ("heights", "ht"),
    "hwy": ("highway", "highwy", "hiway", "hiwy", "hway"),
    "hl": ("hill",),
    "hls": ("hills",),
    "holw": ("hollow", "hllw", "hollows", "holws"),
    "inlt": ("inlet",),
    "is": ("island", "islnd"),
    "isle": ("isles",),
    "jct": ("junction", "jction", "jctn", "junctn", "juncton"),
    "ky": ("key",),
    "knl": ("knoll", "knol"),
    "lk": ("lake",),
    "lks": ("lakes",),
    "lndg": ("landing", "lndng"),
    "ln": ("lane",),
    "lgt": ("light",),
    "lf": ("loaf",),
    "lck": ("lock",),
    "ldg": ("lodge", "ldge", "lodg"),
    "loop": ("loops",),
    "mall": (),
    "mnr": ("manor",),
    "mdw": ("meadow",),
    "mdws": ("meadows", "medows"),
    "mews": (),
    "ml": ("mill",),
    "msn": ("mission", "missn", "mssn"),
    "mtwy": ("motorway",),
    "mt": ("mount", "mnt"),
    "mtn": ("mountain", "mntain", "mntn", "mountin", "mtin"),
    "nck": ("neck",),
    "orch": ("orchard", "orchrd"),
    "oval": ("ovl",),
    "park": ("prk", "parks"),
    "pkwy": ("parkway", "parkwy", "pkway", "pky", "parkways", "pkwys"),
    "pass": (),
    "psge": ("passage",),
    "path": ("paths",),
    "pike": ("pikes",),
    "pne": ("pine",),
    "pnes": ("pines",),
    "pl": ("place",),
    "pln": ("plain",),
    "plns": ("plains",),
    "plz": ("plaza", "plza"),
    "pt": ("point",),
    "pts": ("points",),
    "prt": ("port",),
    "pr": ("prairie", "prr"),
    "radl": ("radial", "rad", "radiel"),
    "rnch": ("ranch", "ranches", "rnchs"),
    "rpd": ("rapid",),
    "rpds": ("rapids",),
    "rst": ("rest",),
    "rdg": ("ridge", "rdge"),
    "riv": ("river", "rvr", "rivr"),
    "rd": ("road",),
    "rds": ("roads",),
    "rte": ("route",),
    "row": (),
    "run": (),
    "shl": ("shoal",),
    "shr": ("shore", "shoar"),
    "shrs": ("shores", "shoars"),
    "skwy": ("skyway",),
    "spg": ("spring", "spng", "sprng"),
    "spgs": ("springs", "spngs", "sprngs"),
    "spur": ("spurs",),
    "sq": ("square", "sqr", "sqre", "squ"),
    "sta": ("station", "statn", "stn"),
    "stra": ("stravenue", "strav", "straven", "stravn", "strvn", "strvnue"),
    "strm": ("stream", "streme"),
    "st": ("street", "strt", "str"),
    "sts": ("streets",),
    "smt": ("summit", "sumit", "sumitt"),
    "ter": ("terrace", "terr"),
    "trce": ("trace", "traces"),
    "trak": ("track", "tracks", "trk", "trks"),
    "trl": ("trail", "trails", "trls"),
    "tunl": ("tunnel", "tunel", "tunls", "tunnels", "tunnl"),
    "tpke": ("turnpike", "trnpk", "turnpk"),
    "un": ("union",),
    "vly": ("valley", "vally", "vlly"),
    "via": ("viaduct", "vdct", "viadct"),
    "vw": ("view",),
    "vws": ("views",),
    "vlg": ("village", "vill", "villag", "villg", "villiage"),
    "vl": ("ville",),
    "vis": ("vista", "vist", "vst", "vsta"),
    "walk": ("walks",),
    "wall": (),
    "way": ("wy",),
    "wl": ("well",),
    "wls": ("wells",),
}
SUFFIX_STANDARD: dict[str, str] = {
    **{spelled: short for short, forms in _SUFFIXES.items() for spelled in forms},
    **{short: short for short in _SUFFIXES},
}
_DIRECTIONALS = {
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
}
_UNIT_WORDS = frozenset(
    {"apt", "apartment", "unit", "suite", "ste", "fl", "floor", "rm", "room", "bldg", "lot"}
)
_UNIT = re.compile(
    r"(?:\s|,|^)(?:#\s*|(?:apt|apartment|unit|suite|ste|fl|floor|rm|room|bldg|lot)\.?\s*#?\s*)"
    r"([a-z0-9-]+)\s*$"
)
_NUMBER = re.compile(r"^(\d+[a-z]?)(?:\s+|$)(.*)$")

US_STATES: dict[str, str] = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
    "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
    "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ",
    "new mexico": "NM", "new york": "NY", "north carolina": "NC", "north dakota": "ND",
    "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
    "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "puerto rico": "PR",
}  # fmt: skip
_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")
_WORD = re.compile(r"[a-z0-9]+")


class Street(NamedTuple):
    number: str | None
    street: str | None
    unit: str | None


class OneLineAddress(NamedTuple):
    number: str | None
    street: str | None
    unit: str | None
    city: str | None
    state: str | None
    postcode: str | None


def _words(text: str) -> list[str]:
    return _WORD.findall(fold(text).replace("'", ""))


@lru_cache(maxsize=500_000)
def standardize_street(raw: str) -> str | None:
    """Street name with standard suffix and directionals: `Oak Street North` -> `oak st n`."""
    words = _words(raw)
    if not words:
        return None
    out = [_DIRECTIONALS.get(w, w) for w in words]
    # The suffix is the last word, or the one before a trailing directional.
    for k in (len(out) - 1, len(out) - 2):
        if k >= 1 and out[k] in SUFFIX_STANDARD:
            out[k] = SUFFIX_STANDARD[out[k]]
            break
    return " ".join(out)


@lru_cache(maxsize=500_000)
def split_street(raw: str) -> Street:
    """`12 Oak St Apt 4` -> (`12`, `oak st`, `4`): house number, street, unit."""
    text = fold(raw).replace(",", " ").strip()
    unit = None
    found = _UNIT.search(text)
    if found:
        unit = found.group(1).strip("-") or None
        text = text[: found.start()].strip()
    number = None
    leading = _NUMBER.match(text)
    if leading:
        number, text = leading.group(1), leading.group(2)
    return Street(number, standardize_street(text), unit)


@lru_cache(maxsize=100_000)
def standardize_unit(raw: str) -> str | None:
    """`Apt 4`, `#4`, `Suite 4` -> `4`; the designator word varies more than the number."""
    words = [w for w in _words(raw) if w not in _UNIT_WORDS]
    return " ".join(words) or None


@lru_cache(maxsize=100_000)
def standardize_city(raw: str) -> str | None:
    words = _words(raw)
    return " ".join(words) or None


@lru_cache(maxsize=10_000)
def standardize_state(raw: str) -> str | None:
    """US state names to their codes; other regions' codes upper-cased (`wa` -> `WA`)."""
    words = " ".join(_words(raw))
    if not words:
        return None
    return US_STATES.get(words, words.upper().replace(" ", ""))


@lru_cache(maxsize=200_000)
def standardize_postcode(raw: str) -> str | None:
    """ZIP+4 keeps its ZIP (`94110-1234` -> `94110`); other postcodes lose spaces and case."""
    text = fold(raw).replace(" ", "").upper()
    if not text:
        return None
    zip_code = _ZIP.match(text)
    return zip_code.group(1) if zip_code else text


@lru_cache(maxsize=500_000)
def split_one_line(raw: str) -> OneLineAddress:
    """`12 Oak St Apt 4, Town, CA 94110-1234`: street part, city, then `STATE ZIP`."""
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts:
        return OneLineAddress(None, None, None, None, None, None)
    street = split_street(parts[0])
    city = state = postcode = None
    rest = parts[1:]
    if rest:
        tail = rest[-1].split()
        if tail and (_ZIP.match(tail[-1]) or any(ch.isdigit() for ch in tail[-1])):
            postcode = standardize_postcode(tail[-1])
            tail = tail[:-1]
        if tail:
            state = standardize_state(" ".join(tail))
        if len(rest) >= 2:
            city = standardize_city(rest[-2])
        elif state is not None and len(tail) > 1 and " ".join(tail).lower() not in US_STATES:
            # "Town CA 94110" without a comma before the state.
            city, state = standardize_city(" ".join(tail[:-1])), standardize_state(tail[-1])
    return OneLineAddress(street.number, street.street, street.unit, city, state, postcode)
