"""document-summary, step 1 (ParseDocument): check the raw text and split it into sections.

Event: {"document": "<the request body text>"} (the workflow's content variable).
Returns: {"title": str, "sections": [{"index": int, "heading": str, "text": str}, ...], "sectionCount": int}.
Raises InvalidDocument (the workflow catches it by that name) for empty or binary-looking text, or text
too large once parsed. How long a document may be is the workflow's input schema's to say (`maxLength` in
statemachines/document-summary/workflow.json): a longer one is refused at start, before any run.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, TypedDict

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from flowport.aws.reporting import report_status

# Step Functions refuses state data over 256 KiB; keep the parsed document safely below it.
MAX_RESULT_BYTES = 250_000
MAX_SECTIONS = 50
PARAGRAPHS_PER_SECTION = 8
MAX_TITLE_CHARACTERS = 120
# Control characters ordinary text may hold; any other one suggests a binary upload.
ALLOWED_CONTROLS = frozenset("\t\n\f")

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")

logger = Logger()


class InvalidDocument(Exception):
    """The text cannot be summarised. The class name is the error name the workflow catches."""


class Section(TypedDict):
    index: int
    heading: str
    text: str


class ParsedDocument(TypedDict):
    title: str
    sections: list[Section]
    sectionCount: int


def normalise(document: Any) -> str:
    """The document with Unix newlines and no surrounding whitespace; InvalidDocument if unusable."""
    if not isinstance(document, str):
        raise InvalidDocument("The document must be text")
    text = document.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise InvalidDocument("The document is empty")
    for position, character in enumerate(text):
        if unicodedata.category(character) == "Cc" and character not in ALLOWED_CONTROLS:
            raise InvalidDocument(
                f"The document holds control character U+{ord(character):04X} at offset {position}: "
                "send plain text, not a binary file"
            )
    return text


def parse(document: Any) -> ParsedDocument:
    text = normalise(document)
    lines = text.split("\n")
    headed = _split_at_headings(lines)
    sections = headed if headed is not None else _split_into_chunks(text)
    sections = _merge_tail(sections)
    parsed: ParsedDocument = {
        "title": _title(lines),
        "sections": sections,
        "sectionCount": len(sections),
    }
    size = len(json.dumps(parsed, ensure_ascii=False).encode())
    if size > MAX_RESULT_BYTES:
        raise InvalidDocument(f"The parsed document is {size} bytes; the limit is {MAX_RESULT_BYTES}")
    return parsed


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(line number, level, text) of each ATX heading outside fenced code blocks."""
    found = []
    in_fence = False
    for number, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := _HEADING.match(line)):
            found.append((number, len(match.group(1)), match.group(2).strip()))
    return found


def _title(lines: list[str]) -> str:
    top_level = [text for _, level, text in _headings(lines) if level == 1 and text]
    if top_level:
        title = top_level[0]
    else:
        first_line = next(line.strip() for line in lines if line.strip())
        match = _HEADING.match(first_line)
        title = match.group(2).strip() if match else first_line
    return _shorten(title, MAX_TITLE_CHARACTERS)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def _tidy(lines: list[str]) -> str:
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _split_at_headings(lines: list[str]) -> list[Section] | None:
    """Sections at `#` and `##` headings (deeper ones stay in the text); None if there are none."""
    starts = [(number, text) for number, level, text in _headings(lines) if level <= 2]
    if not starts:
        return None
    raw: list[tuple[str, str]] = []
    if preamble := _tidy(lines[: starts[0][0]]):
        raw.append(("", preamble))
    for position, (number, heading) in enumerate(starts):
        end = starts[position + 1][0] if position + 1 < len(starts) else len(lines)
        raw.append((heading, _tidy(lines[number + 1 : end])))
    # A heading with nothing under it (a title above the first `##`) is not a section of its own.
    kept = [(heading, text) for heading, text in raw if text] or raw[:1]
    return [{"index": index, "heading": heading, "text": text} for index, (heading, text) in enumerate(kept)]


def _split_into_chunks(text: str) -> list[Section]:
    paragraphs = [paragraph.strip() for paragraph in _BLANK_LINES.split(text) if paragraph.strip()]
    return [
        {
            "index": index,
            "heading": f"Part {index + 1}",
            "text": "\n\n".join(paragraphs[start : start + PARAGRAPHS_PER_SECTION]),
        }
        for index, start in enumerate(range(0, len(paragraphs), PARAGRAPHS_PER_SECTION))
    ]


def _merge_tail(sections: list[Section]) -> list[Section]:
    """At most MAX_SECTIONS: the last one takes the rest, headings kept as Markdown lines."""
    if len(sections) <= MAX_SECTIONS:
        return sections
    last = sections[MAX_SECTIONS - 1]
    parts = [last["text"]] + [
        f"## {section['heading']}\n\n{section['text']}" for section in sections[MAX_SECTIONS:]
    ]
    merged: Section = {"index": last["index"], "heading": last["heading"], "text": "\n\n".join(parts)}
    return [*sections[: MAX_SECTIONS - 1], merged]


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], _context: LambdaContext) -> ParsedDocument:
    try:
        parsed = parse(event.get("document"))
    except InvalidDocument as error:
        logger.info("Document rejected", extra={"reason": str(error)})
        raise
    # Not the title: it is the document's own text, and request bodies stay out of logs.
    logger.info("Document parsed", extra={"sectionCount": parsed["sectionCount"]})
    if isinstance(event.get("executionName"), str):
        report_status(event["executionName"], title=parsed["title"])
    return parsed
