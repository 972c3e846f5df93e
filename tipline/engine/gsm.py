"""SMS cost rules: which text fits the GSM-7 alphabet and how many segments it takes.

One character outside GSM 03.38 turns a whole SMS into UCS-2 (70 characters a segment instead
of 160), which doubles what a reporter on a basic phone may pay. The bot's own words must stay
inside GSM-7; `tipline flows check` uses this module to prove it.
"""

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
