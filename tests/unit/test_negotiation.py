import pytest
from flowport.api.negotiation import JSON, TEXT, choose_start_representation
from flowport.core.errors import NotAcceptable


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        ("text/plain", TEXT),
        ("text/*", TEXT),
        ("text/plain, application/json", JSON),
        ("text/plain;q=1, application/json;q=0.5", TEXT),
        ("application/json;q=0.1, text/plain;q=0.2", TEXT),
        ("text/html, */*;q=0.1", JSON),
    ],
)
def test_start_representation(accept, expected):
    assert choose_start_representation(accept) == expected


@pytest.mark.parametrize("accept", ["image/png", "application/xml", "application/json;q=0, text/plain;q=0"])
def test_nothing_acceptable(accept):
    with pytest.raises(NotAcceptable):
        choose_start_representation(accept)
