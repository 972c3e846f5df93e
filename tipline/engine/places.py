"""Places people type, matched to the places list (flows/places.yaml): one matcher for everything.

"Kota Bandung", "kab bekasi", "Surabya", "jaksel", "Solo", "Bekasi, Jawa Barat": the report's
where question, volunteers' areas and any later caller (partners' --region, broadcasts, filters)
ask `match()` and get one of three answers:

- confident: one place; the caller keeps its code beside the words the person typed;
- ambiguous: a few candidates (Bekasi: Kab. or Kota) for the person to pick from;
- none: nothing in the list; the words are kept as typed and the place is "not matched".

How people write places (kab, kota, prov; abbreviations and old names; words to pass over such as
jalan or desa) lives in flows/place_words.yaml. Typos are forgiven with rapidfuzz, only for words
long enough that a near miss is a typo and not another ordinary word (malam is not Malang).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz import fuzz, process

from .reading import words

PLACE_KINDS = ("province", "regency", "city")
FUZZY_MIN_LENGTH = 6  # letters a typed word needs before a near miss counts as a typo
FUZZY_SCORE = 90
SHORT_NAME = 4  # names this short (Batu, Buru, Bone) are also everyday words: asked, never assumed
MAX_WORDS = 4  # the longest name, in words, looked for in a text
TREE_PREFIXES = {"Kab. Administrasi ": "regency", "Kota Administrasi ": "city", "Kab. ": "regency", "Kota ": "city"}


@dataclass(frozen=True)
class Place:
    """A province (with its regencies and cities) or a regency/city, by its official code."""

    code: str
    name: str
    children: tuple[Place, ...] = ()

    @property
    def parent_code(self) -> str | None:
        return self.code.rsplit(".", 1)[0] if "." in self.code else None

    @property
    def kind(self) -> str:
        if self.parent_code is None:
            return "province"
        for prefix, kind in TREE_PREFIXES.items():
            if self.name.startswith(prefix):
                return kind
        return "regency"

    @property
    def core(self) -> str:
        """The name without Kab./Kota: what people write."""
        for prefix in TREE_PREFIXES:
            if self.name.startswith(prefix):
                return self.name[len(prefix):]
        return self.name


@dataclass(frozen=True)
class PlaceMatch:
    kind: Literal["confident", "ambiguous", "none"]
    place: Place | None = None
    candidates: tuple[Place, ...] = ()


@dataclass
class PlaceWords:
    """flows/place_words.yaml: kind words, words to pass over, other names by code."""

    kinds: dict[str, set[str]] = field(default_factory=dict)  # kind -> the words that name it
    ignore: set[str] = field(default_factory=set)
    aliases: dict[str, list[str]] = field(default_factory=dict)  # code -> names


def sort_key(place: Place) -> tuple[str, str]:
    """Alphabetical as people look for a name: by the name itself, Kab. before Kota."""
    return (place.core.casefold(), place.name.casefold())


class PlaceMatcher:
    """Built once per flow from the places tree and flows/place_words.yaml; pure and thread-safe."""

    def __init__(self, places: tuple[Place, ...], place_words: PlaceWords | None = None):
        place_words = place_words or PlaceWords()
        self._by_code: dict[str, Place] = {p.code: p for top in places for p in (top, *top.children)}
        self._kind_of: dict[str, str] = {}
        for kind, names in place_words.kinds.items():
            for name in names:
                for word in words(name):
                    self._kind_of[word] = kind
        self._ignore = {w for name in place_words.ignore for w in words(name)}
        self._index: dict[tuple[str, ...], set[str]] = {}
        # Names are matched as written (folded): squeezing repeated letters here would make "baru"
        # (new) read as Kab. Barru. Typos are rapidfuzz's job.
        for place in self._by_code.values():
            self._add(tuple(words(place.core)), place.code)
            self._add(tuple(words(place.name)), place.code)
        for code, names in place_words.aliases.items():
            if code in self._by_code:
                for name in names:
                    self._add(tuple(words(str(name))), code)
        self._keys = {" ".join(key): key for key in self._index if len(" ".join(key)) >= FUZZY_MIN_LENGTH}

    def _add(self, key: tuple[str, ...], code: str) -> None:
        if key:
            self._index.setdefault(key, set()).add(code)

    def place(self, code: str | None) -> Place | None:
        return self._by_code.get(code) if code else None

    def label(self, place: Place) -> str:
        """How a candidate reads in a numbered choice: "Kota Bekasi, Jawa Barat"."""
        parent = self.place(place.parent_code)
        return f"{place.name}, {parent.name}" if parent else place.name

    def match(self, text: str, *, within: str | None = None) -> PlaceMatch:
        """The place a person's words name; `within` keeps to one province's places."""
        tokens = words(text)
        found = self._exact(tokens) or self._fuzzy(tokens)
        if within:
            inside_within = ((
                {c for c in codes if c == within or c.startswith(within + ".")}, strong) for codes, strong in found)
            found = [(codes, strong) for codes, strong in inside_within if codes]
        if not found:
            return PlaceMatch("none")
        places = {self._by_code[c] for codes, _ in found for c in codes}
        regions = {p for p in places if p.parent_code}
        provinces = {p for p in places if not p.parent_code}
        inside = {r for r in regions if self._by_code.get(r.parent_code) in provinces}
        if inside:  # "Bekasi, Jawa Barat": the province says which Bekasi, and is said by it
            regions = inside
            provinces = {p for p in provinces if not any(r.parent_code == p.code for r in inside)}
        candidates = tuple(sorted(regions | provinces, key=sort_key))
        if len(candidates) == 1 and all(strong for _, strong in found):
            return PlaceMatch("confident", candidates[0], candidates)
        return PlaceMatch("ambiguous", None, candidates)

    def _exact(self, tokens: list[str]) -> list[tuple[set[str], bool]]:
        spans: list[tuple[int, int, set[str]]] = []
        for size in range(min(MAX_WORDS, len(tokens)), 0, -1):
            for start in range(len(tokens) - size + 1):
                end = start + size
                if any(s <= start and end <= e for s, e, _ in spans):
                    continue  # inside a longer name already found: "jakarta" in "jakarta selatan"
                codes = self._index.get(tuple(tokens[start:end]))
                if codes:
                    spans.append((start, end, set(codes)))
        meaningful = [t for t in tokens if t not in self._ignore and t not in self._kind_of]
        found = []
        for start, end, codes in spans:
            kind = self._kind_of.get(tokens[start - 1]) if start else None
            if kind:
                codes = {c for c in codes if self._by_code[c].kind == kind} or codes
            name = " ".join(tokens[start:end])
            # A short everyday word (batu, bone) names a place when it is all that was written,
            # or when kab/kota comes before it; otherwise the person is asked.
            strong = len(name) > SHORT_NAME or kind is not None or len(meaningful) == end - start
            found.append((codes, strong))
        return found

    def _fuzzy(self, tokens: list[str]) -> list[tuple[set[str], bool]]:
        found = []
        for size in (2, 1):
            for start in range(len(tokens) - size + 1):
                gram = tokens[start:start + size]
                if any(t in self._ignore or t in self._kind_of or t.isdigit() for t in gram):
                    continue
                query = " ".join(gram)
                if len(query) < FUZZY_MIN_LENGTH:
                    continue
                hits = process.extract(query, self._keys.keys(), scorer=fuzz.ratio, score_cutoff=FUZZY_SCORE,
                                       limit=None)
                if not hits:
                    continue
                best = max(score for _, score, _ in hits)
                codes = {c for key, score, _ in hits if score == best for c in self._index[self._keys[key]]}
                kind = self._kind_of.get(tokens[start - 1]) if start else None
                if kind:
                    codes = {c for c in codes if self._by_code[c].kind == kind} or codes
                found.append((codes, True))
            if found:
                return found
        return found
