"""DOCX transcript exporter that streams the document instead of building it in memory.

python-docx keeps the whole document as an lxml tree: for 10,000 captions
that is ~23 MB of RSS and ~5 s inside one call, before the first byte can be
sent (measured, see benchmarks/export.py). Here python-docx only supplies its
default template (styles, theme, settings — everything but the body); the
body, ``word/document.xml``, is written paragraph by paragraph into a
streamed zip. The result opens in Word and LibreOffice and reads back with
python-docx: a Title paragraph, metadata lines, then one paragraph per
caption starting with ``[HH:MM:SS]``.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from xml.sax.saxutils import escape

import docx

from assistant.captions import Caption, Session, SpeakerTurn
from assistant.export.chunks import batched, peek
from assistant.export.cues import clock, one_line
from assistant.export.marks import TranscriptInfo, line_mark, transcript_info
from assistant.export.plaintext import PARAGRAPH_PAUSE_MS, header_lines
from assistant.export.questions import SECTION_TITLE, QuestionEntry, question_line
from assistant.export.speakers import Speakers
from assistant.export.zipwriter import ZipEntry, stream_zip, zip_date_time

DOCUMENT_PART = "word/document.xml"
CORE_PART = "docProps/core.xml"
PARAGRAPH_GAP_TWIPS = 240  # extra space above a caption that follows a long pause (12 pt)
RTL_LANGS = frozenset({"ar", "fa", "he", "ur", "yi", "ps", "sd", "ug"})

# Characters XML 1.0 forbids even when escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_DOCUMENT_HEAD = (
    "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
    f'<w:document xmlns:w="{_W}" xmlns:r="{_R}"><w:body>'
)
# A4 portrait with 2.5 cm margins (conference handouts are mostly A4).
_DOCUMENT_TAIL = (
    '<w:sectPr><w:pgSz w:w="11906" w:h="16838"/>'
    '<w:pgMar w:top="1417" w:right="1417" w:bottom="1417" w:left="1417" '
    'w:header="708" w:footer="708" w:gutter="0"/></w:sectPr></w:body></w:document>'
)


def docx_chunks(
    session: Session,
    captions: Iterable[Caption],
    lang: str | None = None,
    *,
    paragraph_pause_ms: int = PARAGRAPH_PAUSE_MS,
    questions: Sequence[QuestionEntry] = (),
    speakers: Sequence[SpeakerTurn] = (),
) -> Iterator[bytes]:
    """Yield a .docx file for ``captions``: title, session metadata, one paragraph per caption (each
    speaker's turn under the speaker's name, bold), then a "Questions" heading and one paragraph per
    question if there are any.

    Nothing runs until the first ``next()``, so calling this on an event loop is cheap.
    """
    first, captions = peek(captions)
    info = transcript_info(session, lang, first)
    date_time = zip_date_time(
        session.started_at_ms if session.started_at_ms is not None else session.created_at_ms
    )
    entries = [ZipEntry(name, [data], date_time) for name, data in _template_parts()]
    body = ZipEntry(
        DOCUMENT_PART, batched(_document_pieces(info, captions, paragraph_pause_ms, questions, Speakers(speakers))),
        date_time
    )
    core = ZipEntry(CORE_PART, [_core_properties(info).encode("utf-8")], date_time)
    # [Content_Types].xml comes first: file-type sniffers look for it there.
    yield from stream_zip([*entries, body, core])


def _template_parts() -> list[tuple[str, bytes]]:
    """Every part of python-docx's default document except the body and core properties."""
    buffer = io.BytesIO()
    docx.Document().save(buffer)
    buffer.seek(0)
    with zipfile.ZipFile(buffer) as template:
        names = sorted(template.namelist(), key=lambda name: name != "[Content_Types].xml")
        return [
            (name, template.read(name)) for name in names if name not in (DOCUMENT_PART, CORE_PART)
        ]


def _xml_text(text: str) -> str:
    return escape(_NOT_XML.sub("", text))


def _run(text: str, properties: str = "") -> str:
    props = f"<w:rPr>{properties}</w:rPr>" if properties else ""
    return f'<w:r>{props}<w:t xml:space="preserve">{_xml_text(text)}</w:t></w:r>'


def _paragraph(runs: str, properties: str = "") -> str:
    props = f"<w:pPr>{properties}</w:pPr>" if properties else ""
    return f"<w:p>{props}{runs}</w:p>"


def _document_pieces(
    info: TranscriptInfo,
    captions: Iterable[Caption],
    paragraph_pause_ms: int,
    questions: Sequence[QuestionEntry] = (),
    speakers: Speakers | None = None,
) -> Iterator[str]:
    speakers = speakers if speakers is not None else Speakers()
    yield _DOCUMENT_HEAD
    title = one_line(info.title) or one_line(info.session_id)
    yield _paragraph(_run(title), '<w:pStyle w:val="Title"/>')
    for line in header_lines(info):
        yield _paragraph(_run(line, "<w:i/>"))
    rtl = info.lang is not None and info.lang.split("-")[0].lower() in RTL_LANGS
    previous_end_ms: int | None = None
    for caption in captions:
        text = one_line(caption.text)
        if not text:
            continue
        gap = previous_end_ms is not None and caption.start_ms - previous_end_ms >= paragraph_pause_ms
        name, turn = speakers.of(caption)
        if turn and name:
            spacing = f'<w:spacing w:before="{PARAGRAPH_GAP_TWIPS}"/>' if previous_end_ms is not None else ""
            yield _paragraph(_run(f"{one_line(name)}:", "<w:b/>" + ("<w:rtl/>" if rtl else "")),
                             "<w:keepNext/>" + ("<w:bidi/>" if rtl else "") + spacing)
            gap = False
        previous_end_ms = caption.end_ms
        mark = line_mark(caption, info)
        runs = _run(f"[{clock(caption.start_ms)}] ", '<w:b/><w:color w:val="808080"/>')
        if mark:
            runs += _run(f"{mark} ", "<w:i/>")
        runs += _run(text, "<w:rtl/>" if rtl else "")
        properties = ("<w:bidi/>" if rtl else "") + (
            f'<w:spacing w:before="{PARAGRAPH_GAP_TWIPS}"/>' if gap else ""
        )
        yield _paragraph(runs, properties)
    if questions:
        yield _paragraph(_run(SECTION_TITLE), '<w:pStyle w:val="Heading1"/>')
        for question in questions:
            yield _paragraph(_run(question_line(question), "<w:rtl/>" if rtl else ""), "<w:bidi/>" if rtl else "")
    yield _DOCUMENT_TAIL


def _core_properties(info: TranscriptInfo) -> str:
    language = f"<dc:language>{_xml_text(info.lang)}</dc:language>" if info.lang else ""
    return (
        "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:title>{_xml_text(one_line(info.title))}</dc:title>"
        f"<dc:subject>{_xml_text(one_line(info.session_id))}</dc:subject>"
        f"{language}</cp:coreProperties>"
    )
