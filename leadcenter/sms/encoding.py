"""Text <-> SMS user data: GSM-7 when every character has a GSM 03.38 code, UCS-2 (UTF-16BE) otherwise; long texts
split into concatenated parts by characters; inbound parts reassembled from bytes before decoding.

Why our own and not smpplib's ``make_parts``: its GSM table lacks '§', and it cuts by bytes, so a part can end
between a GSM escape (0x1B) and its character, or between the two halves of a UTF-16 surrogate pair (an emoji).
Here a character's cost (1 or 2 septets in GSM-7, 1 or 2 code units in UCS-2) is counted whole, so no part ever
starts with half a character.

GSM-7 goes to the SMSC unpacked, one septet per octet (data_coding 0, the SMSC's default alphabet), as SMPP
ESMEs usually send it.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
ESCAPE = 0x1B
GSM_EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
_GSM_CODE = {char: code for code, char in enumerate(GSM_BASIC) if code != ESCAPE}
_GSM_CHAR = {code: char for char, code in _GSM_CODE.items()}
_GSM_EXTENSION_CHAR = {code: char for char, code in GSM_EXTENSION.items()}

GSM7 = 0x00  # data_coding: the SMSC default alphabet
LATIN1 = 0x03
UCS2 = 0x08

# (single message, each part of a concatenated message): GSM-7 in septets, UCS-2 in 16-bit code units.
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}
MAX_PARTS = 10  # a text longer than this many parts is refused (carriers drop or truncate beyond ~10)


def is_gsm7(text: str) -> bool:
    return all(char in _GSM_CODE or char in GSM_EXTENSION for char in text)


def _gsm_bytes(char: str) -> bytes:
    return bytes([ESCAPE, GSM_EXTENSION[char]]) if char in GSM_EXTENSION else bytes([_GSM_CODE[char]])


def _ucs2_bytes(char: str) -> bytes:
    return char.encode("utf-16-be")  # 2 bytes, or 4 (a surrogate pair) outside the BMP


@dataclass(frozen=True)
class Encoded:
    data_coding: int
    parts: list[bytes]  # each part's user data without the UDH
    units: int  # septets (GSM-7) or code units (UCS-2) of the whole text

    @property
    def encoding(self) -> str:
        return "gsm7" if self.data_coding == GSM7 else "ucs2"

    @property
    def units_left(self) -> int:
        """How many more units fit before another part is needed (what the composer shows)."""
        single, per_part = LIMITS[self.data_coding]
        if self.units <= single:
            return single - self.units
        return per_part * len(self.parts) - self.units


def encode(text: str) -> Encoded:
    """The text as the parts to submit, split by whole characters."""
    if is_gsm7(text):
        data_coding, char_bytes, unit = GSM7, _gsm_bytes, 1
    else:
        data_coding, char_bytes, unit = UCS2, _ucs2_bytes, 2
    encoded = [char_bytes(char) for char in text]
    units = sum(len(b) for b in encoded) // unit
    single, per_part = LIMITS[data_coding]
    if units <= single:
        return Encoded(data_coding, [b"".join(encoded)], units)
    current: list[bytes]
    parts, current, used = [], [], 0
    for char in encoded:
        cost = len(char) // unit
        if used + cost > per_part:
            parts.append(b"".join(current))
            current, used = [], 0
        current.append(char)
        used += cost
    parts.append(b"".join(current))
    return Encoded(data_coding, parts, units)


def udh(reference: int, total: int, number: int) -> bytes:
    """The concatenation header (IEI 0x00, 8-bit reference) of part ``number`` (from 1) of ``total``."""
    return bytes([5, 0x00, 3, reference & 0xFF, total, number])


@dataclass(frozen=True)
class Concatenation:
    reference: int
    total: int
    number: int


def split_udh(short_message: bytes) -> tuple[Concatenation | None, bytes]:
    """(the concatenation info if the UDH has one, the user data after the UDH) of a part sent with UDHI set."""
    length = short_message[0]
    header, body = short_message[1 : 1 + length], short_message[1 + length :]
    position = 0
    while position + 2 <= len(header):
        iei, size = header[position], header[position + 1]
        value = header[position + 2 : position + 2 + size]
        if iei == 0x00 and size == 3:
            return Concatenation(value[0], value[1], value[2]), body
        if iei == 0x08 and size == 4:
            return Concatenation(value[0] << 8 | value[1], value[2], value[3]), body
        position += 2 + size
    return None, body


class UndecodableText(ValueError):
    pass


def decode(data: bytes, data_coding: int) -> str:
    """User data (every part's bytes joined, UDHs removed) as text."""
    if data_coding in (GSM7, 0x01):  # 0x01 is IA5 (ASCII), which is GSM-7's printable subset for SMSCs that send it
        return _decode_gsm(data)
    if data_coding == LATIN1:
        return data.decode("latin-1")
    if data_coding == UCS2:
        try:
            return data.decode("utf-16-be")
        except UnicodeDecodeError as exc:
            raise UndecodableText(f"not UTF-16: {exc}") from None
    raise UndecodableText(f"data_coding 0x{data_coding:02x} is not a text encoding")


def _decode_gsm(data: bytes) -> str:
    chars, escaped = [], False
    for code in data:
        if escaped:
            chars.append(_GSM_EXTENSION_CHAR.get(code, " "))  # GSM 03.38: an unknown extension reads as a space
            escaped = False
        elif code == ESCAPE:
            escaped = True
        else:
            chars.append(_GSM_CHAR.get(code & 0x7F, "?"))
    return "".join(chars)
