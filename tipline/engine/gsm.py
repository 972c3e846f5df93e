"""SMS cost rules: which text fits the GSM-7 alphabet and how many segments it takes.

One character outside GSM 03.38 turns a whole SMS into UCS-2 (70 characters a segment instead
of 160), which doubles what a reporter on a basic phone may pay. The bot's own words must stay
inside GSM-7; `tipline flows check` uses this module to prove it.
"""

import re
import unicodedata

# GSM 03.38 basic character set (one septet each).
BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs an escape septet plus itself.
EXTENDED = set("^{}\\[~]|€\f")

SINGLE_GSM, MULTI_GSM = 160, 153
SINGLE_UCS2, MULTI_UCS2 = 70, 67


def is_gsm7(text: str) -> bool:
    """True when every character of text can be sent as GSM-7."""
    return all(ch in BASIC or ch in EXTENDED for ch in text)


def segments(text: str) -> int:
    """How many SMS segments text costs (0 for an empty text)."""
    if not text:
        return 0
    if is_gsm7(text):
        length = sum(2 if ch in EXTENDED else 1 for ch in text)
        single, multi = SINGLE_GSM, MULTI_GSM
    else:
        # UCS-2 counts UTF-16 code units: an emoji outside the BMP takes two.
        length = len(text.encode("utf-16-le")) // 2
        single, multi = SINGLE_UCS2, MULTI_UCS2
    if length <= single:
        return 1
    return -(-length // multi)


def non_gsm_characters(text: str) -> list[str]:
    """The characters of text that would force UCS-2, in order, once each."""
    seen: list[str] = []
    for ch in text:
        if ch not in BASIC and ch not in EXTENDED and ch not in seen:
            seen.append(ch)
    return seen


# What a reporter's phone or keyboard puts in that GSM-7 lacks, and its plain stand-in.
_PLAIN = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2022": "-", "\u00b7": "-",
    "\u2026": "...", "\u00a0": " ", "\u2007": " ", "\u202f": " ", "\t": " ",
})


def to_gsm7(text: str) -> str:
    """`text` in GSM-7 only, for words the bot echoes back (a summary, an ADD confirmation).

    Curly quotes become straight ones, dashes '-', accents go where GSM-7 has no such letter,
    emoji and other symbols are dropped, any other character becomes '?'. One character outside
    GSM-7 would turn the whole reply into UCS-2 and more than double its cost.
    """
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text.translate(_PLAIN)):
        if ch in BASIC or ch in EXTENDED:
            out.append(ch)
            continue
        plain = unicodedata.normalize("NFKD", ch)
        letters = "".join(c for c in plain if c in BASIC or c in EXTENDED)
        category = unicodedata.category(ch)
        if letters and not unicodedata.combining(plain[0]):
            out.append(letters)
        elif category[0] in "SCMZ":  # emoji and symbols, controls, joiners, marks, odd spaces: dropped
            out.append(" " if category[0] == "Z" else "")
        else:
            out.append("?")
    return re.sub(" {2,}", " ", "".join(out))
