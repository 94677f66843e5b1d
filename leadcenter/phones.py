"""Phone numbers: parsed with the company's default region and stored as E.164."""
from __future__ import annotations

import phonenumbers


class InvalidNumber(ValueError):
    pass


def to_e164(raw: str, region: str = "US") -> str:
    """'(404) 555-0100' in region US -> '+14045550100'; raises InvalidNumber for anything not a real number."""
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"{raw!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidNumber(f"{raw!r} is not a possible phone number in region {region}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def read_untyped(digits: str, regions) -> list[str]:
    """What digits sent without a type of number can mean (SMPP's TON 0 "unknown", as many SMSCs send, or 2
    "national"): a national number of each region, then an international one written without its '+'. Valid
    numbers first, then those merely possible (as tracking numbers may be), each in that order, without repeats."""
    if not digits.isdigit():
        return []
    valid, possible = [], []
    for text, region in [(digits, region) for region in regions] + [("+" + digits, None)]:
        try:
            parsed = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        number = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(parsed):
            valid.append(number)
        elif phonenumbers.is_possible_number(parsed):
            possible.append(number)
    return list(dict.fromkeys(valid + possible))
