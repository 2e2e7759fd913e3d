"""document-summary, step 3 (Summarise): the whole document's figures from its sections' analyses.

Event: {"title": str, "sections": [<analyse_section's result>, ...]}.
Returns (the workflow's output): {"title": str, "sectionCount": int, "wordCount": int,
"readingMinutes": int, "keywords": [str, ...], "summary": str, "sections": [<analyses>, ...]}.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, TypedDict

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

WORDS_PER_MINUTE = 230
KEYWORD_COUNT = 8
SUMMARY_SECTIONS = 3

logger = Logger()


class SectionAnalysis(TypedDict):
    index: int
    heading: str
    wordCount: int
    sentenceCount: int
    readingSeconds: int
    keywords: list[str]
    keywordCounts: dict[str, int]
    leadSentence: str


class DocumentSummary(TypedDict):
    title: str
    sectionCount: int
    wordCount: int
    readingMinutes: int
    keywords: list[str]
    summary: str
    sections: list[SectionAnalysis]


def top_keywords(sections: list[SectionAnalysis]) -> list[str]:
    """Section keywords ranked by their counts summed over the document, ties by first appearance."""
    totals: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    for section in sections:
        for word in section["keywords"]:
            totals[word] += section["keywordCounts"].get(word, 1)
            first_seen.setdefault(word, len(first_seen))
    return sorted(totals, key=lambda word: (-totals[word], first_seen[word]))[:KEYWORD_COUNT]


def summary_of(sections: list[SectionAnalysis]) -> str:
    """Lead sentences of the longest sections (earlier wins a tie), in document order."""
    with_lead = [section for section in sections if section["leadSentence"]]
    longest = sorted(with_lead, key=lambda section: (-section["wordCount"], section["index"]))
    chosen = sorted(longest[:SUMMARY_SECTIONS], key=lambda section: section["index"])
    return " ".join(section["leadSentence"] for section in chosen)


def summarise(title: str, sections: list[SectionAnalysis]) -> DocumentSummary:
    ordered = sorted(sections, key=lambda section: section["index"])
    word_count = sum(section["wordCount"] for section in ordered)
    return {
        "title": title,
        "sectionCount": len(ordered),
        "wordCount": word_count,
        "readingMinutes": -(-word_count // WORDS_PER_MINUTE),
        "keywords": top_keywords(ordered),
        "summary": summary_of(ordered),
        "sections": ordered,
    }


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], _context: LambdaContext) -> DocumentSummary:
    summary = summarise(event["title"], event["sections"])
    # Not the title: it is the document's own text, and request bodies stay out of logs.
    logger.info("Document summarised", extra={"wordCount": summary["wordCount"]})
    return summary
