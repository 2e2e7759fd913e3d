"""document-summary, step 2 (AnalyseSections, once per section): counts, reading time, keywords, lead.

Event: {"section": {"index": int, "heading": str, "text": str}, "title": str} (the Map's ItemSelector).
Returns: {"index": int, "heading": str, "wordCount": int, "sentenceCount": int, "readingSeconds": int,
"keywords": [str, ...], "keywordCounts": {str: int}, "leadSentence": str}.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, TypedDict

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

WORDS_PER_MINUTE = 230
KEYWORD_COUNT = 5
MIN_KEYWORD_LETTERS = 4
MAX_LEAD_CHARACTERS = 300
# A full stop after these does not end a sentence.
ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "mr.", "mrs.", "ms.", "dr.", "cf.", "approx.")
# Common English words of four letters or more (shorter words never count as keywords).
_STOP_WORDS_TEXT = """
    about above after again against also among another because been before being below between both
    could does doing down during each either even every from further have having here hers herself
    himself into itself just least less like made make many might more most much must neither never
    only other others ought ours ourselves over same shall should since some such than that their
    theirs them themselves then there these they this those though through thus together under until
    upon very were what when where whether which while whom whose will with within without would
    your yours yourself yourselves
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

_WORD = re.compile(r"\w+(?:['\u2019-]\w+)*")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t]|$)")
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_URL = re.compile(r"https?://\S+")
_MARKUP = re.compile(r"[*_`~>|#]+")
_LIST_MARKER = re.compile(r"^\s*(?:[-+*]|\d+[.)])\s+")
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'\u201d\u2019)\]]))\s+")

logger = Logger()


class Section(TypedDict):
    index: int
    heading: str
    text: str


class SectionAnalysis(TypedDict):
    index: int
    heading: str
    wordCount: int
    sentenceCount: int
    readingSeconds: int
    keywords: list[str]
    keywordCounts: dict[str, int]
    leadSentence: str


def plain_blocks(text: str) -> list[str]:
    """Paragraphs and list items as plain one-line text; code blocks, sub-headings, link targets, URLs and
    Markdown markup removed."""
    text = _URL.sub(" ", _LINK_TARGET.sub("]", text))
    prose: list[str] = []
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        prose.append("" if in_fence or _FENCE.match(line) or _HEADING.match(line) else line)
    blocks: list[str] = []
    current: list[str] = []
    for line in [*prose, ""]:
        is_item = bool(_LIST_MARKER.match(line))
        if (not line.strip() or is_item) and current:
            blocks.append(" ".join(current))
            current = []
        cleaned = " ".join(
            _MARKUP.sub(" ", _LIST_MARKER.sub("", line)).replace("[", " ").replace("]", " ").split()
        )
        if cleaned:
            current.append(cleaned)
    return blocks


def sentences(text: str) -> list[str]:
    """Sentences with at least one word, in order."""
    found: list[str] = []
    for block in plain_blocks(text):
        pending = ""
        for part in _SENTENCE_END.split(block):
            pending = f"{pending} {part}" if pending else part
            if not pending.lower().endswith(ABBREVIATIONS):
                found.append(pending)
                pending = ""
        if pending:
            found.append(pending)
    return [sentence.strip() for sentence in found if _WORD.search(sentence)]


def keyword_counts(words: list[str]) -> dict[str, int]:
    """The KEYWORD_COUNT most frequent content words (lower case), ties broken by first appearance."""
    candidates = [
        word
        for word in (word.lower() for word in words)
        if len(word) >= MIN_KEYWORD_LETTERS and word.isalpha() and word not in STOP_WORDS
    ]
    counts = Counter(candidates)
    first_seen = {word: position for position, word in reversed(list(enumerate(candidates)))}
    ranked = sorted(counts, key=lambda word: (-counts[word], first_seen[word]))
    return {word: counts[word] for word in ranked[:KEYWORD_COUNT]}


def analyse(section: Section) -> SectionAnalysis:
    text = section["text"]
    words = [word for block in plain_blocks(text) for word in _WORD.findall(block)]
    found = sentences(text)
    lead = found[0] if found else ""
    if len(lead) > MAX_LEAD_CHARACTERS:
        lead = lead[: MAX_LEAD_CHARACTERS - 1].rsplit(" ", 1)[0].rstrip() + "…"
    counts = keyword_counts(words)
    return {
        "index": section["index"],
        "heading": section["heading"],
        "wordCount": len(words),
        "sentenceCount": len(found),
        "readingSeconds": -(-len(words) * 60 // WORDS_PER_MINUTE),
        "keywords": list(counts),
        "keywordCounts": counts,
        "leadSentence": lead,
    }


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], _context: LambdaContext) -> SectionAnalysis:
    analysis = analyse(event["section"])
    # Neither title nor heading: they are the document's own text, and request bodies stay out of logs.
    logger.info("Section analysed", extra={"index": analysis["index"], "wordCount": analysis["wordCount"]})
    return analysis
