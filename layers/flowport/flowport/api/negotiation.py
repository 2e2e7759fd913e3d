"""Content negotiation for the start response: JSON, or the bare execution id as text/plain."""

from __future__ import annotations

from flowport.core.errors import NotAcceptable

JSON = "application/json"
TEXT = "text/plain"


def _quality(accept: str, media_type: str) -> float:
    kind = media_type.split("/", 1)[0]
    best, best_specificity = 0.0, -1
    for part in accept.split(","):
        pieces = [piece.strip() for piece in part.split(";")]
        candidate = pieces[0].lower()
        specificity = {media_type: 2, f"{kind}/*": 1, "*/*": 0}.get(candidate, -1)
        if specificity <= best_specificity:
            continue
        quality = 1.0
        for parameter in pieces[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        best, best_specificity = quality, specificity
    return best


def choose_start_representation(accept: str | None) -> str:
    """JSON unless the client prefers text/plain; 406 if it accepts neither."""
    if not accept or not accept.strip():
        return JSON
    json_quality, text_quality = _quality(accept, JSON), _quality(accept, TEXT)
    if json_quality == 0 and text_quality == 0:
        raise NotAcceptable("This route answers application/json or text/plain (the bare execution id)")
    return TEXT if text_quality > json_quality else JSON
