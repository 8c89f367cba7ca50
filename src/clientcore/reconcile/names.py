"""Person names as CRMs type them, brought to one form: case, accents, titles, initials, order.

`SMITH, JOHN`, `John A. Smith` and `john smith` all become given `john`, surname `smith`.
Nicknames are not rewritten (a Bob may really be called Bob); `given_roots` says which formal
names a given name may stand for, so that linkage can treat Bob and Robert as compatible
without claiming they are equal. Everything here is pure and cached per distinct spelling.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev"})
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq"})
# Particles that belong to the surname that follows them ("van der berg", "de la cruz").
_PARTICLES = frozenset({"van", "von", "der", "den", "de", "del", "della", "da", "di", "la", "le"})
_NOT_LETTER = re.compile(r"[^a-z]+")

# Formal name -> the nicknames and short forms people use for it (US English usage).
_NICKNAMES: dict[str, tuple[str, ...]] = {
    "abigail": ("abby", "abbie", "gail"),
    "albert": ("al", "bert", "bertie"),
    "alexander": ("alex", "al", "xander", "sandy"),
    "alexandra": ("alex", "alexa", "sandra", "sandy", "lexi"),
    "alfred": ("al", "alf", "fred", "freddie"),
    "allison": ("ali", "allie"),
    "amanda": ("mandy", "manda"),
    "andrew": ("andy", "drew"),
    "angela": ("angie",),
    "anthony": ("tony", "ant"),
    "arthur": ("art", "artie"),
    "barbara": ("barb", "babs", "barbie"),
    "benjamin": ("ben", "benny", "benji"),
    "bradley": ("brad",),
    "bridget": ("bridie", "biddy"),
    "caroline": ("carrie", "carol", "caro"),
    "catherine": ("cathy", "cath", "kate", "katie", "cat"),
    "charles": ("charlie", "chuck", "chas", "chaz"),
    "charlotte": ("charlie", "lottie"),
    "christina": ("chris", "tina", "chrissy"),
    "christine": ("chris", "chrissy", "tina"),
    "christopher": ("chris", "kit", "topher"),
    "clifford": ("cliff",),
    "cynthia": ("cindy",),
    "daniel": ("dan", "danny"),
    "danielle": ("dani", "elle"),
    "david": ("dave", "davey"),
    "deborah": ("debbie", "deb", "debby"),
    "dennis": ("denny",),
    "donald": ("don", "donny"),
    "dorothy": ("dot", "dottie", "dolly"),
    "douglas": ("doug",),
    "edward": ("ed", "eddie", "ted", "teddy", "ned"),
    "eleanor": ("ellie", "nell", "nora"),
    "elizabeth": ("liz", "beth", "betty", "eliza", "lizzie", "libby", "betsy", "liza"),
    "emily": ("em", "emmy"),
    "eugene": ("gene",),
    "frances": ("fran", "frannie"),
    "francis": ("frank", "fran"),
    "frederick": ("fred", "freddie", "rick"),
    "gabriel": ("gabe",),
    "gabrielle": ("gabby", "gabi"),
    "gerald": ("jerry", "gerry"),
    "gregory": ("greg",),
    "harold": ("hal", "harry"),
    "henry": ("hank", "harry", "hal"),
    "isabella": ("bella", "izzy"),
    "jacob": ("jake",),
    "jacqueline": ("jackie",),
    "james": ("jim", "jimmy", "jamie", "jimbo"),
    "janet": ("jan",),
    "jeffrey": ("jeff",),
    "jennifer": ("jen", "jenny", "jenn"),
    "jessica": ("jess", "jessie"),
    "joanne": ("jo",),
    "john": ("jack", "johnny", "jon"),
    "jonathan": ("jon", "jonny", "nathan"),
    "joseph": ("joe", "joey", "jo"),
    "joshua": ("josh",),
    "judith": ("judy", "jude"),
    "katherine": ("kate", "kathy", "katie", "kat", "kit", "kitty"),
    "kathleen": ("kathy", "kate", "katie"),
    "kenneth": ("ken", "kenny"),
    "kimberly": ("kim", "kimmy"),
    "lawrence": ("larry", "laurie"),
    "leonard": ("leo", "len", "lenny"),
    "louis": ("lou",),
    "margaret": ("maggie", "peggy", "meg", "marge", "margie", "greta"),
    "matthew": ("matt", "matty"),
    "melissa": ("mel", "missy"),
    "michael": ("mike", "mikey", "mick", "mickey"),
    "michelle": ("shelly", "michy"),
    "nathan": ("nate",),
    "nathaniel": ("nate", "nat", "nathan"),
    "nicholas": ("nick", "nicky", "nico"),
    "nicole": ("nikki", "nicky"),
    "pamela": ("pam",),
    "patricia": ("pat", "patty", "trish", "tricia"),
    "patrick": ("pat", "paddy", "rick"),
    "peter": ("pete",),
    "philip": ("phil",),
    "phillip": ("phil",),
    "rebecca": ("becky", "becca", "bec"),
    "raymond": ("ray",),
    "richard": ("rick", "dick", "rich", "richie", "ricky"),
    "robert": ("bob", "rob", "bobby", "robbie", "bert"),
    "ronald": ("ron", "ronnie"),
    "russell": ("russ",),
    "samantha": ("sam", "sammy"),
    "samuel": ("sam", "sammy"),
    "sandra": ("sandy",),
    "stephanie": ("steph", "stephie"),
    "stephen": ("steve", "stevie"),
    "steven": ("steve", "stevie"),
    "susan": ("sue", "susie", "suzy"),
    "suzanne": ("sue", "suzy"),
    "terence": ("terry",),
    "theodore": ("ted", "teddy", "theo"),
    "thomas": ("tom", "tommy"),
    "timothy": ("tim", "timmy"),
    "valerie": ("val",),
    "victoria": ("vicky", "tori", "vickie"),
    "vincent": ("vince", "vinny"),
    "walter": ("walt", "wally"),
    "william": ("bill", "will", "billy", "willy", "liam"),
    "zachary": ("zach", "zack"),
}


def _roots_table() -> dict[str, tuple[str, ...]]:
    roots: dict[str, set[str]] = {}
    for formal, nicks in _NICKNAMES.items():
        roots.setdefault(formal, set()).add(formal)
        for nick in nicks:
            roots.setdefault(nick, set()).add(formal)
    return {name: tuple(sorted(found)) for name, found in roots.items()}


_ROOTS = _roots_table()


def fold(text: str) -> str:
    """Lower case ASCII: accents dropped (José -> jose), other marks kept for the caller."""
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode("ascii").lower().strip()


def _tokens(text: str) -> list[str]:
    words = re.split(r"[\s.]+", fold(text))
    return [w for w in words if w and _NOT_LETTER.sub("", w) not in _TITLES | _SUFFIXES]


def _letters(text: str) -> str:
    """A name part as letters only: O'Brien -> obrien, Smith-Jones -> smithjones."""
    return _NOT_LETTER.sub("", text)


@lru_cache(maxsize=200_000)
def standardize_given(raw: str) -> str | None:
    """The first given name: `John A.` -> `john`; middle names and initials dropped."""
    words = [_letters(w) for w in _tokens(raw)]
    words = [w for w in words if w]
    if not words:
        return None
    # A lone initial is all some records hold; keep it rather than nothing.
    full = [w for w in words if len(w) > 1]
    return (full or words)[0]


@lru_cache(maxsize=200_000)
def standardize_surname(raw: str) -> str | None:
    """The family name with its particles, letters only: `Van der Berg` -> `vanderberg`."""
    words = [_letters(w) for w in _tokens(raw)]
    joined = "".join(w for w in words if w)
    return joined or None


@lru_cache(maxsize=200_000)
def split_full_name(raw: str) -> tuple[str | None, str | None]:
    """(given, surname) from one name field: `SMITH, JOHN`, `John A. Smith`, `Mr John Smith`.

    Without a comma the last word (with the particles before it) is the surname; a record
    typed surname-first without a comma cannot be told apart here, which is why linkage
    compares names also crosswise.
    """
    text = raw.strip()
    if not text:
        return None, None
    if "," in text:
        surname, _, given = text.partition(",")
        return standardize_given(given), standardize_surname(surname)
    words = _tokens(text)
    if not words:
        return None, None
    if len(words) == 1:
        return None, standardize_surname(words[0])
    start = len(words) - 1
    while start > 1 and _letters(words[start - 1]) in _PARTICLES:
        start -= 1
    return standardize_given(" ".join(words[:start])), standardize_surname(" ".join(words[start:]))


def given_roots(given: str | None) -> tuple[str, ...]:
    """The formal names a given name may stand for (itself when it is no known nickname)."""
    if not given:
        return ()
    return _ROOTS.get(given, (given,))
