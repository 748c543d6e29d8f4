"""Rule-based PII detection (no model weights): regular expressions plus checksums.

Detected kinds, and what each one is:

- ``EMAIL`` -- ``local@domain.tld`` (dot-atom local part, a domain with a 2+ letter TLD that is
  not an image extension: ``icon@2x.png`` is a file name);
- ``CREDIT_CARD`` -- 13 to 19 digits, optionally grouped by single spaces or dashes, passing the
  Luhn checksum and starting like a card (3, 4, 5 or 6);
- ``US_SSN`` -- ``AAA-GG-SSSS`` with dashes (or spaces), excluding the never-issued area numbers
  000, 666 and 900-999, group 00 and serial 0000;
- ``IBAN`` -- two letters, two check digits, 11 to 30 alphanumerics (print groups of four allowed),
  passing the ISO 13616 mod-97 check;
- ``PHONE`` -- E.164 (``+`` then 8 to 15 digits, separators allowed) and the North American
  formats ``(555) 123-4567``, ``555-123-4567``, ``555.123.4567``, ``555 123 4567``;
- ``IP_ADDRESS`` -- IPv4 dotted quads and IPv6 addresses (three or more groups) that Python's
  ``ipaddress`` accepts, except a dotted quad right after ``version`` / ``ver`` / ``v``.

Not detected: names, postal addresses, dates of birth, passport / licence / tax numbers other than
US SSNs, national phone formats other than North American ones without a ``+`` prefix, bare
digit runs (an order number that happens to pass Luhn is caught only in card-like form: 13-19
digits starting 3-6), and PII written out in words.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["KINDS", "Finding", "find_pii", "mask_pii"]


@dataclass(frozen=True)
class Finding:
    """One PII span: ``text[start:end]`` is of ``kind``."""

    kind: str
    start: int
    end: int


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: str) -> bool:
    digits = re.sub(r"[ -]", "", match)
    return 13 <= len(digits) <= 19 and digits[0] in "3456" and _luhn(digits)


def _ssn(match: str) -> bool:
    area, group, serial = re.split(r"[- ]", match)
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _iban(match: str) -> bool:
    code = match.replace(" ", "").upper()
    if not 15 <= len(code) <= 34:
        return False
    moved = code[4:] + code[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _ip(match: str) -> bool:
    # IPv6 needs three non-empty groups: "abc::def" or "a::b" are words, not addresses.
    if ":" in match and sum(1 for g in match.split(":") if g) < 3:
        return False
    try:
        ipaddress.ip_address(match)
    except ValueError:
        return False
    return True


def _always(_: str) -> bool:
    return True


# Order is priority when spans overlap (a card number is not also a phone number).
_RULES: tuple[tuple[str, re.Pattern[str], Callable[[str], bool]], ...] = (
    (
        "EMAIL",
        re.compile(
            r"(?<![\w.+-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
            r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?!(?:png|jpe?g|gif|svg|webp)\b)"
            r"[A-Za-z]{2,}\b"
        ),
        _always,
    ),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), _iban),
    ("CREDIT_CARD", re.compile(r"(?<![\w+-])\d(?:[ -]?\d){12,18}(?![\w-])"), _card),
    ("US_SSN", re.compile(r"(?<![\w-])\d{3}([- ])\d{2}\1\d{4}(?![\w-])"), _ssn),
    (
        "PHONE",
        re.compile(
            r"(?<![\w+])\+\d(?:[ .-]?\(?\d\)?){7,14}(?!\w)"
            r"|(?<![\w(])(?:\(\d{3}\) ?|\d{3}([-. ]))\d{3}(?(1)\1|[-. ])\d{4}(?![\w-])"
        ),
        _always,
    ),
    (
        "IP_ADDRESS",
        re.compile(
            r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"
            r"|(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"
        ),
        _ip,
    ),
)
KINDS = tuple(kind for kind, _, _ in _RULES)


# A dotted quad right after "version" / "v" is a version string, not an address.
_VERSION_BEFORE = re.compile(r"(?:\bversion|\bver\.?|\bv)\s*$", re.IGNORECASE)


def find_pii(text: str) -> list[Finding]:
    """Every PII span in ``text``, in text order, not overlapping."""
    taken: list[Finding] = []
    for kind, pattern, valid in _RULES:
        for m in pattern.finditer(text):
            if not valid(m.group(0)):
                continue
            if kind == "IP_ADDRESS" and _VERSION_BEFORE.search(text, 0, m.start()):
                continue
            if any(m.start() < f.end and f.start < m.end() for f in taken):
                continue
            taken.append(Finding(kind, m.start(), m.end()))
    return sorted(taken, key=lambda f: f.start)


def mask_pii(text: str) -> tuple[str, list[Finding]]:
    """``text`` with each PII span replaced by ``[KIND]``, and the spans found."""
    found = find_pii(text)
    out: list[str] = []
    at = 0
    for f in found:
        out += [text[at : f.start], f"[{f.kind}]"]
        at = f.end
    out.append(text[at:])
    return "".join(out), found
