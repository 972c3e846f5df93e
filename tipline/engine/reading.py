"""How the tip line reads what people write: folded text, words, answers, panic and stories.

People on basic phones write `iyaaa`, `gak ada kok`, `Ya!`, `①`, `dua`, `TOLONG!!`. Everything is
folded first (NFKC, so fullwidth letters and odd digits become plain ones; any script's decimal
digits become ASCII digits; case), then split into words at anything that is not a letter or a
digit, and each word is squeezed (`iyaaa` and `iya`, `nggak` and `ngak` read the same). The words
each meaning takes live in flows/messages/<language>.yaml; this module only knows the rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

MEANINGS = ("YES", "NO", "SKIP", "SEND", "DELETE")
MAX_EXTRA_WORDS = 2  # "ada bu", "enggak kok sih": an answer word and a little more still answers
PANIC_WITHIN = 3  # a panic word among the first words: "Pak tolong ...", "Please help a girl ..."
STORY_WORDS_MIN = 8  # words (greetings aside) that make a message a story on their own
STORY_WITH_SIGN_MIN = 3  # words that make a story when one of them is a story word (anak, girl...)

_WORD = re.compile(r"[^\W_]+")
_REPEATS = re.compile(r"([^\W\d_])\1+")
_PUNCTUATION = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
})


def fold(text: str) -> str:
    """NFKC, every decimal digit as an ASCII digit, curly quotes and dashes plain, upper case."""
    text = unicodedata.normalize("NFKC", text).translate(_PUNCTUATION)
    if not text.isascii():
        text = "".join(
            str(unicodedata.decimal(ch)) if not ch.isascii() and ch.isdecimal() else ch for ch in text
        )
    return text.upper()


def words(text: str) -> list[str]:
    """The words of a text, folded: "Ya!!", "ya." and "ＹＡ" all give ["YA"]; "①" gives ["1"]."""
    return _WORD.findall(fold(text))


def squeeze(word: str) -> str:
    """One letter for each run of the same letter: IYAAA and IYA, NGGAK and NGAK read alike."""
    return _REPEATS.sub(r"\1", word)


def phrase(text: str) -> tuple[str, ...]:
    """A synonym from flows/ as the squeezed words it is matched by."""
    return tuple(squeeze(w) for w in words(text))


def is_number(word: str) -> bool:
    """ASCII digits only: int() of "²" or "١" is never attempted on what a reporter typed."""
    return word.isascii() and word.isdigit()


@dataclass(frozen=True)
class Answer:
    """What the start of a message answers: a meaning (YES, NO, SKIP, SEND, DELETE) or a number."""

    meaning: str  # "YES" ... or digits, "1", "12"
    extra: int  # words after it

    @property
    def number(self) -> int | None:
        return int(self.meaning) if is_number(self.meaning) else None


@dataclass
class Lexicon:
    """The answer words of one conversation language (its own, then English's, then others')."""

    meanings: dict[tuple[str, ...], str] = field(default_factory=dict)
    # Words one question takes beyond the usual ones ("aman" answers "is it safe to text you?").
    questions: dict[str, dict[tuple[str, ...], str]] = field(default_factory=dict)

    def answer(self, text: str, question: str | None = None) -> Answer | None:
        """The answer a message starts with, if it is followed by at most MAX_EXTRA_WORDS words."""
        found = self.read(words(text), question)
        return found if found is not None and found.extra <= MAX_EXTRA_WORDS else None

    def own_answer(self, text: str, question: str) -> Answer | None:
        """The answer a message gives in one question's own words only ("lanjut" to "go on?")."""
        squeezed = tuple(squeeze(t) for t in words(text))
        meaning = self.questions.get(question, {}).get(squeezed)
        return Answer(meaning, 0) if meaning is not None else None

    def read(self, tokens: list[str], question: str | None = None) -> Answer | None:
        if not tokens:
            return None
        if is_number(tokens[0]):
            return Answer(str(int(tokens[0])) if len(tokens[0]) <= 3 else tokens[0], len(tokens) - 1)
        squeezed = tuple(squeeze(t) for t in tokens)
        tables = [self.questions.get(question or "", {}), self.meanings]
        longest = max((len(p) for table in tables for p in table), default=0)
        for size in range(min(longest, len(squeezed)), 0, -1):
            for table in tables:
                meaning = table.get(squeezed[:size])
                if meaning is not None:
                    return Answer(meaning, len(tokens) - size)
        return None


@dataclass
class Signals:
    """Words that say more than an answer, in every language at once: panic and stories."""

    panic: set[tuple[str, ...]] = field(default_factory=set)
    not_panic: set[tuple[str, ...]] = field(default_factory=set)  # "tanda bahaya", "tidak bahaya"
    story_words: set[str] = field(default_factory=set)
    greetings: set[str] = field(default_factory=set)
    done: set[tuple[str, ...]] = field(default_factory=set)  # "udah", "that's all": the story is told

    def __post_init__(self) -> None:
        self._by_first: dict[str, dict[str, list[tuple[str, ...]]]] = {"panic": {}, "quiet": {}}
        for name, table in (("panic", self.panic), ("quiet", self.not_panic)):
            for words_ in table:
                self._by_first[name].setdefault(words_[0], []).append(words_)

    def _spans(self, name: str, tokens: list[str | None]) -> list[tuple[int, int]]:
        """Where the phrases of one table occur in the tokens (looked up by their first word)."""
        found = []
        for start, token in enumerate(tokens):
            for phrase_ in self._by_first[name].get(token or "", ()):
                if tuple(tokens[start:start + len(phrase_)]) == phrase_:
                    found.append((start, start + len(phrase_)))
        return found

    def _without_not_panic(self, squeezed: list[str]) -> list[str | None]:
        kept: list[str | None] = list(squeezed)
        for start, end in self._spans("quiet", squeezed):
            kept[start:end] = [None] * (end - start)
        return kept

    def _panic_spans(self, kept: list[str | None]) -> list[tuple[int, int]]:
        return self._spans("panic", kept)

    def is_panic(self, text: str, *, strict: bool = False) -> bool:
        """A call for help: a panic word among the first words, or nothing but panic words.

        `strict` (a reporter who already said no child is in danger): only nothing but panic words.
        """
        squeezed = [squeeze(w) for w in words(text)]
        kept = self._without_not_panic(squeezed)
        spans = self._panic_spans(kept)
        if not spans:
            return False
        covered = {i for start, end in spans for i in range(start, end)}
        if covered == set(range(len(kept))):
            return True
        return not strict and min(start for start, _ in spans) < PANIC_WITHIN

    def only_panic(self, text: str) -> bool:
        """Nothing but panic words ("TOLONG!!", "sos sos"): no description to keep."""
        squeezed = [squeeze(w) for w in words(text)]
        spans = self._panic_spans(self._without_not_panic(squeezed))
        return bool(squeezed) and {i for s, e in spans for i in range(s, e)} == set(range(len(squeezed)))

    def is_done(self, text: str) -> bool:
        """Someone saying they have told it all ("udah bu", "itu aja"), and nothing more."""
        told = tuple(squeeze(w) for w in words(text) if squeeze(w) not in self.greetings)
        return told in self.done

    def is_story(self, text: str) -> bool:
        """Clearly someone telling what happened, not a greeting, a question about us or an answer."""
        told = [squeeze(w) for w in words(text) if squeeze(w) not in self.greetings and not is_number(w)]
        if len(told) >= STORY_WORDS_MIN:
            return True
        return len(told) >= STORY_WITH_SIGN_MIN and any(w in self.story_words for w in told)


def phrases(items: Iterable[object]) -> set[tuple[str, ...]]:
    return {p for p in (phrase(str(item)) for item in items) if p}
