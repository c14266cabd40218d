"""What looks like a payment card number in free text (ADR 0034 "Secrets", ADR 0039).

We never hold a card number: callers tokenize at the gateway and send us the token. A string
holding something shaped like a card number is refused at the edge, and the log formatter
masks one as a second line of defence. The rule, precisely:

- digits are the ASCII digits 0-9; a *separator* is one space or one dash between two digits;
- a *run* is a maximal stretch of digits and separators; a card number inside longer text
  is found ("card: 4242 4242 4242 4242, exp 12/29", "cus_4242...", "card4242...4242x");
- *glued* letters are the ASCII letters touching a candidate (below) on either side. A
  candidate is part of an id, not a card number, when its glued letters are themselves
  glued to another digit ("01J9ZK8Q4242...4242AB", a ULID; "9f3a4242...4242c1", hex), or
  are all hexadecimal ("4242...4242ab"): a uuid4 in hex has a 13+ digit run one time in 25,
  a 16-hex-digit trace id one time in 200, and ids are not card numbers (ADR 0048);
- a run is split at its separators into *groups*; a *candidate* is a run's first group alone,
  or its first k groups when each group but the last of them has 3 to 6 digits (4-4-4-4,
  4-6-5, 4-6-4, 4-4-4-4-3 and the unseparated form are all candidates);
- a *card number* is a candidate of 13 to 19 digits that passes the Luhn check.

Candidates start where a run starts, and groups before the last are 3-6 digits long: an IBAN
written in groups ("BE68 5390 0754 7034": the run starts with the 2 check digits) or an id
built of a date and a counter ("2026-01-03-12345", "000-00000001-00001") is not a candidate,
which a Luhn check alone would refuse one time in ten. Accepted misses: a card number glued
to hexadecimal letters only ("cc4242...4242", "4242...4242ab") or to a word holding a digit
("v2card4242..."); both read as ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

CARD_DIGITS_MIN: Final = 13
CARD_DIGITS_MAX: Final = 19
GROUP_DIGITS_MIN: Final = 3  # a group followed by another: "4242 " or "378282 "
GROUP_DIGITS_MAX: Final = 6
KEEP_LAST: Final = 4  # digits a mask leaves visible, as receipts print them

# The groups a candidate may span, from the start of a run: groups of 3-6 digits each
# followed by one separator, then a last group. The longest such stretch; every candidate of
# the run is a prefix of it.
_STRETCH = re.compile(r"(?<![0-9])(?<![0-9][ -])(?:[0-9]{3,6}[ -])*[0-9]+")
_HEX_LETTERS: Final = frozenset("abcdefABCDEF")
# Bytes with every space and dash deleted and every ASCII digit made "0": 13 zeros in a row
# are needed for a card number to be there. Two C loops, no per-position regex attempts.
_ZEROS: Final = b"0" * CARD_DIGITS_MIN
_DIGITS_TO_ZERO: Final = bytes(0x30 if 0x30 <= b <= 0x39 else 0x78 for b in range(256))
# The same bytes as a *shape*: a digit "0", a separator " ", anything else "x". A card number
# is a candidate, and a candidate's characters stand in the bytes as they are, so some stretch
# of "0" and " " holds a candidate's shape: 13 or more digits in groups, every group but the
# last 3 to 6 digits followed by one separator. Ids of digits and dashes have stretches
# ("001-00000012-00034") but not that shape (its 8-digit group cannot be followed): they
# cost no walk of the message. Stretches of one message share a few shapes; each shape is
# judged once.
_TO_SHAPE: Final = bytes(
    0x30 if 0x30 <= b <= 0x39 else 0x20 if b in (0x20, 0x2D) else 0x78 for b in range(256)
)
_SHAPE_STRETCH = re.compile(rb"[0 ]{%d,}" % CARD_DIGITS_MIN)
SHAPES_KEPT: Final = 4096  # judged shapes remembered (a bound: hostile bytes vary them)


def _candidate_rest(closed: int) -> str:
    """The shape of what follows `closed` digits of a candidate in groups already followed
    by their separator: the last group's remaining digits, or one more 3-6 digit group and
    its separator, then the rest."""
    last = f"0{{{max(1, CARD_DIGITS_MIN - closed)}}}"
    if closed >= CARD_DIGITS_MIN - 1:
        return last
    groups = "|".join(
        f"{'0' * size} {_candidate_rest(closed + size)}"
        for size in range(GROUP_DIGITS_MIN, GROUP_DIGITS_MAX + 1)
    )
    return f"(?:{last}|{groups})"


_CANDIDATE_SHAPE = re.compile(_candidate_rest(0).encode())
_shape_holds: dict[bytes, bool] = {}
# A text's classes: what every rule below looks at, but the digits' values (the Luhn check).
# Characters outside ASCII are kept as they are (the rules read them as neither digit, letter
# nor separator; kept, no two texts of different classes share a class string).
_CLASS_OF: Final = str.maketrans(
    {
        **{chr(c): "." for c in range(128)},
        **dict.fromkeys("0123456789", "0"),
        " ": " ",
        "-": "-",
        **{c: "h" for c in "abcdefABCDEF"},
        **{c: "l" for c in "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ"},
    }
)
_classes_without_cards: set[str] = set()


def _thirteen_digits(data: bytes) -> bool:
    """Whether `data` has 13 ASCII digits in a row once every space and dash is deleted:
    what any card number needs, found by two C loops."""
    return _ZEROS in data.translate(_DIGITS_TO_ZERO, b" -")


def may_hold_card_number(data: bytes) -> bool:
    """False when `data` certainly holds no card number in any text encoded in it as UTF-8
    (a protobuf message's raw bytes: UTF-8 never encodes anything else with the bytes of ASCII
    digits, space or dash). True is only a maybe: look at the decoded strings."""
    if not _thirteen_digits(data):
        return False  # the common case
    for shape in set(_SHAPE_STRETCH.findall(data.translate(_TO_SHAPE))):
        holds = _shape_holds.get(shape)
        if holds is None:
            if len(_shape_holds) >= SHAPES_KEPT:
                _shape_holds.clear()
            holds = _shape_holds[shape] = _CANDIDATE_SHAPE.search(shape) is not None
        if holds:
            return True
    return False


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of a string of ASCII digits; False for an empty string."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The digit that, appended to `partial`, makes it pass the Luhn check."""
    for digit in "0123456789":
        if luhn_valid(partial + digit):
            return digit
    raise ValueError("partial must be ASCII digits")  # unreachable for digit strings


def card_number_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each card number in `text`, in order, not overlapping; the longest
    candidate of a run that passes the Luhn check wins.

    Where no candidate of `text` reached the Luhn check, the answer follows from its classes
    alone (which characters are digits, separators, hexadecimal or other letters); such a
    class string is remembered, and a text of the same classes (the next id of a format, say)
    is answered by one lookup."""
    if len(text) < CARD_DIGITS_MIN or not _thirteen_digits(text.encode()):
        return
    classes = text.translate(_CLASS_OF)
    if classes in _classes_without_cards:
        return
    luhn_asked = False
    for stretch in _STRETCH.finditer(text):
        found = stretch.group()
        if len(found) >= CARD_DIGITS_MIN:
            span, asked = _card_in_stretch(found, stretch.start(), text)
            luhn_asked = luhn_asked or asked
            if span is not None:
                yield span
    if not luhn_asked:
        if len(_classes_without_cards) >= SHAPES_KEPT:
            _classes_without_cards.clear()
        _classes_without_cards.add(classes)


def holds_card_number(text: str) -> bool:
    return next(card_number_spans(text), None) is not None


def mask_card_numbers(text: str) -> str:
    """`text` with every digit of each card number but its last four replaced by '*',
    separators kept: "4242 4242 4242 4242" -> "**** **** **** 4242"."""
    spans = list(card_number_spans(text))
    if not spans:
        return text
    parts: list[str] = []
    at = 0
    for start, end in spans:
        parts.append(text[at:start])
        parts.append(_mask(text[start:end]))
        at = end
    parts.append(text[at:])
    return "".join(parts)


def _card_in_stretch(stretch: str, offset: int, text: str) -> tuple[tuple[int, int] | None, bool]:
    """The run's card number (None if it has none), and whether a Luhn check was needed to
    tell (False: the classes of `text` alone told)."""
    before, digit_before = _letters_before(text, offset)
    if digit_before:
        return None, False  # "...8Q4242...": inside an id of letters and digits
    groups = re.split(r"[ -]", stretch)
    best: tuple[int, int] | None = None
    luhn_asked = False
    digits = 0
    end = 0  # end of the candidate within the run
    for k, group in enumerate(groups):
        if k and not GROUP_DIGITS_MIN <= len(groups[k - 1]) <= GROUP_DIGITS_MAX:
            break  # the group before this one cannot be followed inside a card number
        digits += len(group)
        end += len(group) + (1 if k else 0)
        if digits > CARD_DIGITS_MAX:
            break
        if digits >= CARD_DIGITS_MIN and not _part_of_an_id(before, text, offset + end):
            luhn_asked = True
            if luhn_valid("".join(groups[: k + 1])):
                best = (offset, offset + end)
    return best, luhn_asked


def _letters_before(text: str, start: int) -> tuple[str, bool]:
    """The ASCII letters right before `start`, and whether a digit comes right before them
    (an empty stretch of letters: False)."""
    at = start
    while at > 0 and _is_letter(text[at - 1]):
        at -= 1
    if at == start:
        return "", False
    return text[at:start], at > 0 and _is_digit(text[at - 1])


def _part_of_an_id(before: str, text: str, end: int) -> bool:
    """Whether a candidate glued to the letters `before` and ending at `end` is part of an
    id: its glued letters run on into another digit, or are all hexadecimal."""
    at = end
    while at < len(text) and _is_letter(text[at]):
        at += 1
    after = text[end:at]
    if not before and not after:
        return False  # glued to nothing: free-standing
    if after and at < len(text) and _is_digit(text[at]):
        return True
    return all(c in _HEX_LETTERS for c in before + after)


def _is_letter(char: str) -> bool:
    return char.isascii() and char.isalpha()


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _mask(number: str) -> str:
    hide = sum(c.isdigit() for c in number) - KEEP_LAST
    out: list[str] = []
    for char in number:
        if char.isdigit() and hide > 0:
            out.append("*")
            hide -= 1
        else:
            out.append(char)
    return "".join(out)
