"""Phone numbers: parsed with the company's default region and stored as E.164."""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, ValidationResult


class InvalidNumber(ValueError):
    """Its message says what is wrong in words for the person who typed the number."""


# phonenumbers' own messages are written for programmers ("(1) The string supplied did not seem to be...").
_PARSE_PROBLEMS = {
    NumberParseException.INVALID_COUNTRY_CODE: "does not start with a valid country code",
    NumberParseException.TOO_SHORT_AFTER_IDD: "is too short to be a phone number",
    NumberParseException.TOO_SHORT_NSN: "is too short to be a phone number",
    NumberParseException.TOO_LONG: "is too long to be a phone number",
}
_LENGTH_PROBLEMS = {
    ValidationResult.INVALID_COUNTRY_CODE: "does not start with a valid country code",
    ValidationResult.TOO_SHORT: "is too short to be a phone number",
    ValidationResult.TOO_LONG: "is too long to be a phone number",
    ValidationResult.INVALID_LENGTH: "has the wrong number of digits for a phone number",
}


def to_e164(raw: str, region: str = "US") -> str:
    """'(404) 555-0100' in region US -> '+14045550100'; raises InvalidNumber for anything not a real number."""
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"{raw!r} {_PARSE_PROBLEMS.get(exc.error_type, 'is not a phone number')}") from None
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason != ValidationResult.IS_POSSIBLE:
        raise InvalidNumber(f"{raw!r} {_LENGTH_PROBLEMS.get(reason, 'is not a phone number')}")
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
