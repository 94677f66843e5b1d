"""GSM-7 / UCS-2 choice, splitting by whole characters, and reassembly from bytes."""

from leadcenter.sms import encoding
from leadcenter.sms.encoding import GSM7, UCS2, decode, encode, split_udh, udh


def roundtrip(text):
    encoded = encode(text)
    return decode(b"".join(encoded.parts), encoded.data_coding)


def test_plain_text_is_one_gsm7_part():
    encoded = encode("Hello, your table for 4 is ready @ 7pm §")
    assert encoded.data_coding == GSM7 and len(encoded.parts) == 1
    assert encoded.units == 40 and encoded.units_left == 120
    assert roundtrip("Hello, your table for 4 is ready @ 7pm §") == "Hello, your table for 4 is ready @ 7pm §"


def test_escape_characters_cost_two_septets():
    encoded = encode("{€}")
    assert encoded.parts == [bytes([0x1B, 0x28, 0x1B, 0x65, 0x1B, 0x29])]
    assert encoded.units == 6


def test_160_septets_fit_one_part_161_need_two():
    assert len(encode("a" * 160).parts) == 1
    two = encode("a" * 161)
    assert [len(p) for p in two.parts] == [153, 8] and two.units_left == 306 - 161


def test_a_gsm_escape_is_never_split():
    text = "a" * 152 + "€" + "b" * 10  # the euro's two septets would straddle the 153-septet boundary
    parts = encode(text).parts
    assert parts[0] == b"a" * 152 and parts[1].startswith(bytes([0x1B, 0x65]))
    assert roundtrip(text) == text


def test_emoji_or_other_scripts_choose_ucs2():
    assert encode("Привет").data_coding == UCS2
    encoded = encode("ok 👍")
    assert encoded.data_coding == UCS2 and encoded.units == 5  # the emoji is a surrogate pair: 2 units


def test_a_surrogate_pair_is_never_split():
    text = "x" * 66 + "😀" + "y" * 10  # 66 units, then a pair that would straddle the 67-unit boundary
    parts = encode(text).parts
    assert len(parts[0]) == 132 and parts[1].decode("utf-16-be").startswith("😀")
    assert roundtrip(text) == text


def test_three_parts_ucs2():
    text = "Ж" * 200
    encoded = encode(text)
    assert [len(p) // 2 for p in encoded.parts] == [67, 67, 66]
    assert roundtrip(text) == text


def test_udh_roundtrip_and_bytes_split_anywhere_reassemble():
    text = "Grüße 😀 " * 30
    data = text.encode("utf-16-be")
    # A peer may cut the bytes anywhere, even inside a surrogate pair: joining before decoding restores it.
    cut = [data[:101], data[101:203], data[203:]]
    reassembled = b""
    for number, chunk in enumerate(cut, 1):
        info, body = split_udh(udh(7, 3, number) + chunk)
        assert (info.reference, info.total, info.number) == (7, 3, number)
        reassembled += body
    assert decode(reassembled, UCS2) == text


def test_sixteen_bit_reference():
    info, body = split_udh(bytes([6, 0x08, 4, 0x12, 0x34, 2, 1]) + b"hi")
    assert (info.reference, info.total, info.number, body) == (0x1234, 2, 1, b"hi")


def test_gsm7_decoding_of_escapes_and_unknowns():
    assert decode(bytes([0x1B, 0x3C, 0x41, 0x1B, 0x3E, 0x1B, 0x01]), GSM7) == "[A] "
    assert decode(b"Hello", 0x01) == "Hello"
    assert decode("café".encode("latin-1"), encoding.LATIN1) == "café"
