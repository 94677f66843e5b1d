"""What a form of the business's site says (pure): who (the name, phone and email fields, recognised by their input
type, autocomplete token or name) and every other field as ``label: value``. Fields that must never be kept are
dropped here whatever the snippet sent: passwords, payment cards (by type, autocomplete, name, or a value that is a
card number), identity numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from leadcenter.visits.schemas import FormField

# Never kept: by type or autocomplete token, by what the field is called, or by a value that is a card number.
_SECRET_TYPES = {"password", "hidden", "file"}
_SECRET_TOKENS = {"current-password", "new-password", "one-time-code"}
_SECRET_NAME = re.compile(
    r"pass(word|wd)?|secret|token|card|\bcc\b|cc[-_ ]?(num|number|exp|csc)|cvv|cvc|\bcsc\b|security[-_ ]?code|iban"
    r"|\bssn\b|social[-_ ]?security|\bpin\b",
    re.I,
)
_EMAIL = re.compile(r"e-?mail", re.I)
_PHONE = re.compile(r"phone|\btel\b|mobile|\bcell", re.I)
_NAME = re.compile(r"^(full|your)?[-_ ]?name$", re.I)
_GIVEN = re.compile(r"^(first|given)[-_ ]?name$", re.I)
_FAMILY = re.compile(r"^(last|family|sur)[-_ ]?name$", re.I)


@dataclass
class Submitted:
    name: str
    phone: str
    email: str
    body: str  # every field kept, a "label: value" line each


def _tokens(field: FormField) -> set[str]:
    return set(field.autocomplete.lower().split())


def _called(field: FormField, pattern: re.Pattern) -> bool:
    return any(pattern.search(text) for text in (field.name, field.label) if text)


def _is_card_number(value: str) -> bool:
    digits = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"\d{13,19}", digits):
        return False
    total = 0
    for i, digit in enumerate(int(d) for d in reversed(digits)):  # Luhn
        total += digit if i % 2 == 0 else (digit * 2 - 9 if digit > 4 else digit * 2)
    return total % 10 == 0


def secret(field: FormField) -> bool:
    """A field never kept: a password, a card, an identity number (by type, autocomplete or name)."""
    tokens = _tokens(field)
    return (
        field.type.lower() in _SECRET_TYPES
        or bool(tokens & _SECRET_TOKENS)
        or any(token.startswith("cc-") for token in tokens)
        or _called(field, _SECRET_NAME)
    )


def read(fields: list[FormField]) -> Submitted:
    """The contact fields and the body of a form; secret and empty fields left out."""
    found: dict[str, str] = {}
    lines = []
    for field in fields:
        value = field.value.strip()
        if not value or secret(field):
            continue
        tokens, kind = _tokens(field), field.type.lower()
        contact = kind in ("email", "tel") or bool(tokens & {"email", "tel", "tel-national"})
        if not contact and _is_card_number(value):  # a card number in a field named for something else
            continue
        if kind == "email" or "email" in tokens or _called(field, _EMAIL):
            what = "email"
        elif kind == "tel" or tokens & {"tel", "tel-national"} or _called(field, _PHONE):
            what = "phone"
        elif "name" in tokens or _called(field, _NAME):
            what = "name"
        elif "given-name" in tokens or _called(field, _GIVEN):
            what = "given"
        elif "family-name" in tokens or _called(field, _FAMILY):
            what = "family"
        else:
            what = ""
        if what:
            found.setdefault(what, value)
        lines.append(f"{field.label or field.name or 'Field'}: {value}")
    name = found.get("name") or " ".join(p for p in (found.get("given"), found.get("family")) if p)
    return Submitted(
        name=name[:200], phone=found.get("phone", "")[:40], email=found.get("email", "")[:200], body="\n".join(lines)
    )
