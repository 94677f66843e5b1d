import pytest

from leadcenter.phones import InvalidNumber, to_e164


@pytest.mark.parametrize(
    "raw,region,expected",
    [
        ("(404) 555-0100", "US", "+14045550100"),
        ("4045550100", "US", "+14045550100"),
        ("+1 404 555 0100", "GB", "+14045550100"),
        ("0044 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
    ],
)
def test_numbers_become_e164(raw, region, expected):
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "hello", "12", "+999999999999999999"])
def test_impossible_numbers_are_refused(raw):
    with pytest.raises(InvalidNumber):
        to_e164(raw, "US")
