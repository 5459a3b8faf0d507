"""Document preparation: turn a PDF, a Word file or a text file into the text the model reads.

The documents' half of the attachment family (:mod:`desktop_app.engine.images` is the other):
everything a document goes through before the engine sees it happens here, off the UI thread
and without llama.cpp.  A file is recognised by its content, not only its name: ``%PDF-`` is a
PDF (read with pypdfium2, page by page in reading order), a zip holding ``word/document.xml`` is
a Word document (python-docx: paragraphs, headings and tables in document order), and anything
else that decodes as text is text (charset-normalizer finds GB18030/GBK, Big5, Shift-JIS, Latin-1
and the rest; UTF-8 and byte-order marks are read directly).

A PDF page without a text layer (a scan) is rendered to an image for a model with a vision
projector; without one, the page is named as a scan in the text, and a PDF made only of scans is
refused with a sentence.  Every refusal is one :class:`UserError` sentence naming the file; sizes
are checked before anything is read, so a huge or hostile file costs milliseconds.

:func:`document_parts` and :func:`document_text` are the one rendering of a prepared document as
prompt text (a block delimited with the file name, with page markers), shared by every engine.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from desktop_app.engine.images import PreparedImage
from desktop_app.errors import UserError, os_reason, user_file_size

DocumentKind = Literal["pdf", "docx", "text"]

PDF_EXTENSIONS: tuple[str, ...] = (".pdf",)
WORD_EXTENSIONS: tuple[str, ...] = (".docx",)
TEXT_EXTENSIONS: tuple[str, ...] = (
    ".txt", ".text", ".md", ".markdown", ".rst", ".csv", ".tsv", ".json", ".jsonl", ".xml",
    ".html", ".htm", ".log", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".tex", ".srt",
    ".py", ".pyi", ".ipynb", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".java", ".kt", ".scala",
    ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".go", ".rs", ".rb", ".php", ".swift", ".m",
    ".r", ".jl", ".lua", ".pl", ".sh", ".bash", ".zsh", ".fish", ".ps1", ".bat", ".sql",
    ".css", ".scss", ".vue", ".svelte", ".dart", ".hs", ".ml", ".ex", ".exs", ".erl", ".clj",
    ".lisp", ".el", ".vim", ".cmake", ".mk", ".gradle", ".properties", ".diff", ".patch",
)  # fmt: skip
SUPPORTED_EXTENSIONS: tuple[str, ...] = PDF_EXTENSIONS + WORD_EXTENSIONS + TEXT_EXTENSIONS
"""File-picker filter only: recognition goes by content, so a ``Makefile`` or ``notes`` (no
extension) is read as text too."""

MAX_PDF_BYTES = 256 * 1024 * 1024
"""PDFs carry images and fonts: a 300-page scan is easily 100 MB.  pdfium maps what it reads."""
MAX_WORD_BYTES = 64 * 1024 * 1024
MAX_TEXT_BYTES = 8 * 1024 * 1024
"""8 MB of text is about two million tokens: fifteen times what Gemma 3's largest context holds."""
MAX_WORD_XML_BYTES = 128 * 1024 * 1024
"""What the parts python-docx parses may add up to, unpacked, by the zip's own directory; a zip
bomb (a few kilobytes that unpack to gigabytes) is refused before a byte is inflated.  zipfile
stops reading a member at its declared size, so the directory cannot lie its way past this."""
MAX_PAGES = 2_000
"""Far more than the largest context holds (dense pages run 500-800 tokens: 128K tokens is about
200 of them), and what bounds the time and memory of reading one PDF."""
MAX_TEXT_CHARS = 4_000_000
"""Extracted text stops here (about a million tokens) even inside the page limit."""
MAX_SCANNED_PAGES = 20
"""Scanned pages rendered for a vision model; each costs an image's tokens (256 for Gemma 3)
and, on a laptop CPU, most of a minute in the vision encoder.  Later scans are named, not read."""
SCAN_MAX_PIXELS = 1_600_000
"""A rendered page is about 1000x1400 px: text stays legible; the projector shrinks it anyway."""

_PDFIUM = threading.Lock()
"""pdfium is not thread-safe, not even across documents (pypdfium2's documentation): every call
into it, and every close, happens under this lock.  Two documents read at once take turns."""

_WORD_DOCUMENT_PART = "word/document.xml"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_IMAGE_MAGIC: tuple[bytes, ...] = (
    b"\x89PNG", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*",
)  # fmt: skip
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff]")
"""Characters no reader needs: NUL and the other C0 controls (tab and newline stay), and the
non-characters pdfium uses for soft hyphens.  Removing them also keeps the engine's segment
delimiters (STX/ETX, see :mod:`desktop_app.engine.prompt`) out of a document's text."""
_BLANK_LINES = re.compile(r"\n{3,}")
_PASTED_NAME = "pasted document"


class DocumentCancelled(UserError):
    """Reading stopped because the user removed the attachment; nobody shows the sentence."""


@dataclass(frozen=True)
class DocumentPage:
    """One page (a PDF's) or the whole text (other documents)."""

    number: int
    text: str
    scan: PreparedImage | None = None
    """The page rendered, when it has no text layer and a vision model will read it."""
    scanned_unread: bool = False
    """A page without text that no image stands in for (no projector, or past the limit)."""


@dataclass(frozen=True)
class PreparedDocument:
    """A document's text (and scanned pages), with the identity of the file it came from.

    ``sha256`` is of the file's bytes: the store keeps the file once by it and re-reads it to the
    same text, so a reopened conversation's prompt (and its cached tokens) stays the same.
    """

    name: str
    kind: DocumentKind
    mime: str
    sha256: str
    size: int
    """Bytes of the file."""
    pages: tuple[DocumentPage, ...] = field(repr=False)
    page_count: int
    """Pages of the PDF (``len(pages)`` unless cut with :meth:`first_pages`); 0 for other kinds."""
    encoding: str | None = None
    """For text files: the encoding it was read in."""

    @property
    def paged(self) -> bool:
        return self.kind == "pdf"

    @property
    def scans(self) -> list[PreparedImage]:
        return [page.scan for page in self.pages if page.scan is not None]

    @property
    def scanned_unread(self) -> list[int]:
        """Numbers of the pages that are scans the model will not see."""
        return [page.number for page in self.pages if page.scanned_unread]

    @property
    def plain_text(self) -> str:
        """All the text, without markers: what search indexes."""
        return "\n\n".join(page.text for page in self.pages if page.text)

    @property
    def is_cut(self) -> bool:
        """Whether only its first pages are given (see :meth:`first_pages`)."""
        return len(self.pages) < self.page_count

    def first_pages(self, count: int | None) -> PreparedDocument:
        """The document cut after its first ``count`` pages (what fits the context); None, or a
        document without pages, keeps it whole."""
        if count is None or not self.paged:
            return self
        return replace(self, pages=self.pages[: max(1, count)])

    def metadata(self) -> dict[str, Any]:
        """What to log or store about it: no text."""
        return {
            "name": self.name,
            "kind": self.kind,
            "mime": self.mime,
            "sha256": self.sha256,
            "size": self.size,
            "pages": self.page_count,
        }


# --- rendering: the document as prompt text --------------------------------------------------


def document_parts(document: PreparedDocument) -> list[str | PreparedImage]:
    """The document as it enters the user turn: the delimited block, and at their pages the
    images of scanned pages.  Text pieces are the document's own words and must reach the model
    as plain text (the engine tokenizes them without parsing control tokens)."""
    parts: list[str | PreparedImage] = []
    pending = [_block_head(document)]
    for page in document.pages:
        if document.paged:
            pending.append(_page_marker(page, document))
        if page.scan is not None:
            parts.append("".join(pending))
            parts.append(page.scan)
            pending = ["\n"]
        elif page.text:
            pending.append(page.text + "\n")
    if document.is_cut:
        pending.append(
            f"[The document goes on to page {document.page_count}; only the first "
            f"{len(document.pages)} pages are given.]\n"
        )
    pending.append("</document>\n\n")
    parts.append("".join(pending))
    return parts


def document_text(document: PreparedDocument, image_placeholder: str = "[image of the page]\n") -> str:
    """The document as one text (for an engine that takes text only, for display, for counting):
    :func:`document_parts` with each scanned page as ``image_placeholder``."""
    return "".join(
        part if isinstance(part, str) else image_placeholder for part in document_parts(document)
    )


def _block_head(document: PreparedDocument) -> str:
    name = document.name.replace('"', "'").replace("\n", " ")
    if document.paged:
        pages = "page" if document.page_count == 1 else "pages"
        return f'<document name="{name}" {pages}="{document.page_count}">\n'
    return f'<document name="{name}">\n'


def _page_marker(page: DocumentPage, document: PreparedDocument) -> str:
    if page.scanned_unread:
        return f"[Page {page.number} of {document.page_count}: a scanned page, not read]\n"
    if page.scan is not None:
        return f"[Page {page.number} of {document.page_count}: scanned]\n"
    return f"[Page {page.number} of {document.page_count}]\n"


def searchable_text(data: bytes, name: str) -> str:
    """A kept document's text for search (a :data:`desktop_app.store.export.DocumentReader`)."""
    return prepare_document(data, name=name, scans_only_ok=True).plain_text


# --- larger than the context ----------------------------------------------------------------

REPLY_ROOM = 512
"""Tokens kept free for the reply when judging whether a message fits: a message that fills the
context to the last token would get a reply cut off at once."""


@dataclass(frozen=True)
class ContextShortfall:
    """A message whose prompt the context cannot hold, said with the numbers, and what would work.

    Built by the front ends from a token count before sending, so the user hears it at once, not
    after a long wait: ``larger_context`` is a context size the model allows and the memory
    estimate says this computer can hold (None when none can), ``first_pages`` how many first
    pages of ``document`` fit the context as it is (None for a document without pages).
    """

    needed: int
    n_ctx: int
    n_ctx_train: int
    document: str | None = None
    document_tokens: int = 0
    larger_context: int | None = None
    first_pages: int | None = None

    def sentences(self) -> list[UserError]:
        """The problem, then each offer, one sentence apiece (the window words them as buttons,
        the command line prints them one after another)."""
        if self.document is None:
            problem = UserError(
                "This message needs {tokens} tokens; the model holds at most {train} and the "
                "context is set to {n_ctx}.",
                tokens=self.needed,
                train=self.n_ctx_train,
                n_ctx=self.n_ctx,
            )
        else:
            problem = UserError(
                "'{name}' is {tokens} tokens; the model holds at most {train} and the context is "
                "set to {n_ctx}.",
                name=self.document,
                tokens=self.document_tokens,
                train=self.n_ctx_train,
                n_ctx=self.n_ctx,
            )
        out = [problem]
        if self.larger_context is not None:
            out.append(
                UserError(
                    "A context of {n_ctx} tokens holds it and fits this computer's memory.",
                    n_ctx=self.larger_context,
                )
            )
        if self.first_pages:
            out.append(UserError("Its first {pages} pages fit the context as it is.", pages=self.first_pages))
        if len(out) == 1:
            out.append(UserError("Attach a shorter document or fewer pages."))
        return out


def shortfall_of(
    documents: list[PreparedDocument],
    *,
    needed: int,
    document_tokens: int,
    n_ctx: int,
    n_ctx_train: int,
    larger_context: int | None,
    sizes: list[int] | None = None,
) -> ContextShortfall:
    """What to say about a message with ``documents`` whose prompt (``needed`` tokens, of them
    ``document_tokens`` its documents') the context cannot hold.  The largest document is named;
    ``sizes`` are each document's own tokens when counted, else its share by characters."""
    lengths = [len(document_text(d)) for d in documents]
    if sizes is None:
        sizes = [document_tokens * length // max(1, sum(lengths)) for length in lengths]
    tokens, largest = max(zip(sizes, documents, strict=True), key=lambda pair: pair[0])
    available = n_ctx - (needed - tokens) - min(REPLY_ROOM, n_ctx // 4)
    return ContextShortfall(
        needed=needed,
        n_ctx=n_ctx,
        n_ctx_train=n_ctx_train,
        document=largest.name,
        document_tokens=tokens,
        larger_context=larger_context,
        first_pages=pages_within(largest, available, tokens) or None,
    )


def fits_context(needed: int, n_ctx: int) -> bool:
    """Whether a prompt of ``needed`` tokens leaves room for a reply in ``n_ctx``."""
    return needed + min(REPLY_ROOM, n_ctx // 4) <= n_ctx


def pages_within(document: PreparedDocument, available: int, document_tokens: int) -> int:
    """How many first pages of ``document`` fit in ``available`` tokens, from its exact token count
    shared out by characters, with a margin: an offer, checked by the engine when it is taken."""
    if not document.paged or available <= 0 or document_tokens <= 0:
        return 0
    per_char = document_tokens / max(1, len(document_text(document)))
    used = len(document_text(replace(document, pages=())))
    for count, page in enumerate(document.pages):
        used += len(_page_marker(page, document)) + len(page.text) + 1
        if used * per_char * 1.05 > available:
            return count
    return len(document.pages)


# --- recognising a file ----------------------------------------------------------------------


def sniff_kind(head: bytes) -> DocumentKind | Literal["image", "word-old", "zip"] | None:
    """What the first bytes of a file say it is; None when they say nothing (maybe text)."""
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if head.startswith(_OLE_MAGIC):
        return "word-old"
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    return None


def is_image_file(path: Path) -> bool:
    """Whether the file's first bytes are an image's (so a front end sends it to image prep)."""
    try:
        with open(path, "rb") as file:
            return sniff_kind(file.read(1024)) == "image"
    except OSError:
        return False


def prepare_document(
    source: str | Path | bytes,
    *,
    name: str | None = None,
    vision: bool = False,
    cancelled: Callable[[], bool] = lambda: False,
    scans_only_ok: bool = False,
) -> PreparedDocument:
    """Read a document for the model (slow for a big PDF: call off the UI thread).

    ``source`` is a path or the file's bytes; ``name`` is what the prompt and messages call it
    (default: the file name).  ``vision`` says a projector is loaded, so scanned pages become
    images.  ``cancelled`` is asked between pages; when it says yes, :class:`DocumentCancelled`
    is raised.  A PDF made only of scans, with no ``vision``, is refused unless ``scans_only_ok``
    (the store re-reading a kept file for its searchable text).  Raises :class:`UserError` with
    one sentence for anything the user can fix.
    """
    data, label = _read_source(source, name)
    kind = sniff_kind(data[:1024])
    if kind == "pdf":
        return _prepare_pdf(data, label, vision, cancelled, scans_only_ok)
    if kind == "zip":
        return _prepare_word(data, label)
    if kind == "word-old":
        raise UserError(
            "'{name}' is an old Word document (.doc), which Gemma Desktop cannot read; save it "
            "as .docx or PDF first.",
            name=label,
        )
    if kind == "image":
        raise UserError("'{name}' is an image, not a document; attach it as an image.", name=label)
    return _prepare_text(data, label)


def _read_source(source: str | Path | bytes, name: str | None) -> tuple[bytes, str]:
    """The file's bytes and its name, refusing a file too large before reading it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = name or _PASTED_NAME
        _check_size(label, len(data), data[:1024])
    else:
        path = Path(source)
        label = name or path.name or str(path)
        size = user_file_size(path, "document")
        try:
            with open(path, "rb") as file:
                _check_size(label, size, file.read(1024))
                file.seek(0)
                data = file.read()
        except OSError as exc:
            raise UserError(
                "The document '{path}' could not be read: {reason}.", path=path, reason=os_reason(exc)
            ) from None
    if not data:
        raise UserError("The document '{name}' is empty (0 bytes).", name=label)
    return data, label


def _check_size(label: str, size: int, head: bytes) -> None:
    kind = sniff_kind(head)
    limit = MAX_WORD_BYTES if kind == "zip" else MAX_TEXT_BYTES if kind is None else MAX_PDF_BYTES
    if size <= limit:
        return
    raise UserError(
        "'{name}' is {size} MB, more than the {limit} MB Gemma Desktop reads for a document of "
        "its kind.",
        name=label,
        size=_megabytes(size),
        limit=limit // 1_048_576,
    )


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:.1f}" if size < 10 * 1_048_576 else f"{size / 1_048_576:.0f}"


def _clean(text: str, *, layout: bool = True) -> str:
    """Unix newlines, no control characters, no trailing whitespace at the end; for text laid
    out on pages (``layout``), also at most one blank line in a row.  A text file keeps its
    blank lines: in code they are the author's."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return (_BLANK_LINES.sub("\n\n", text) if layout else text).rstrip()


# --- PDF -------------------------------------------------------------------------------------


def _prepare_pdf(
    data: bytes, label: str, vision: bool, cancelled: Callable[[], bool], scans_only_ok: bool
) -> PreparedDocument:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    with _PDFIUM:
        # The raw call, not PdfDocument(data): pypdfium2 reads FPDF_GetLastError after a
        # document with no pages too, and that still holds the previous failure's code.
        handle = pdfium_c.FPDF_LoadMemDocument64(data, len(data), None)
        if not handle:
            raise _pdf_open_failure(pdfium_c.FPDF_GetLastError(), label)
        pdf = pdfium.PdfDocument(handle)  # ``data`` outlives it: closed below
    try:
        with _PDFIUM:
            page_count = len(pdf)
        if page_count == 0:
            raise UserError("The PDF '{name}' has no pages.", name=label)
        if page_count > MAX_PAGES:
            raise UserError(
                "'{name}' has {pages} pages; Gemma Desktop reads PDFs of up to {limit} pages, "
                "more than the largest context holds. Split it, or save the pages you need as a "
                "new PDF.",
                name=label,
                pages=page_count,
                limit=MAX_PAGES,
            )
        pages: list[DocumentPage] = []
        characters = 0
        scans = 0
        for index in range(page_count):
            if cancelled():
                raise DocumentCancelled("Reading '{name}' was stopped.", name=label)
            with _PDFIUM:
                text, has_objects, page = _pdf_page_text(pdf, index, pdfium_c)
                try:
                    scan = None
                    if not text and has_objects and vision and scans < MAX_SCANNED_PAGES:
                        scan = _render_page(page, label, index + 1)
                        scans += 1
                finally:
                    page.close()
            unread = not text and has_objects and scan is None
            pages.append(DocumentPage(index + 1, text, scan, unread))
            characters += len(text)
            if characters > MAX_TEXT_CHARS:
                raise UserError(
                    "'{name}' holds more than {limit} characters of text by page {page}, more "
                    "than the largest context holds; save the pages you need as a new PDF.",
                    name=label,
                    limit=MAX_TEXT_CHARS,
                    page=index + 1,
                )
    except UserError:
        raise
    except Exception:
        raise UserError(
            "The PDF '{name}' is damaged, so its text cannot be read.", name=label
        ) from None
    finally:
        with _PDFIUM:
            pdf.close()
    if not any(page.text or page.scan for page in pages) and not (
        scans_only_ok and any(page.scanned_unread for page in pages)
    ):
        if any(page.scanned_unread for page in pages):
            raise UserError(
                "'{name}' is a scanned document with no text layer; load a model with a vision "
                "projector (mmproj) to read its pages as images.",
                name=label,
            )
        raise UserError("The PDF '{name}' contains no text.", name=label)
    return PreparedDocument(
        name=label,
        kind="pdf",
        mime="application/pdf",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        pages=tuple(pages),
        page_count=page_count,
    )


def _pdf_open_failure(code: int | None, label: str) -> UserError:
    """The sentence for a PDF pdfium will not open (FPDF_ERR_* codes from fpdfview.h)."""
    if code in (4, 5):  # FPDF_ERR_PASSWORD, FPDF_ERR_SECURITY
        return UserError(
            "The PDF '{name}' is protected by a password; open it in a PDF reader and save an "
            "unprotected copy to attach it.",
            name=label,
        )
    return UserError(
        "The PDF '{name}' is damaged or is not really a PDF, so it cannot be read.", name=label
    )


def _pdf_page_text(pdf: Any, index: int, pdfium_c: Any) -> tuple[str, bool, Any]:
    """A page's text in reading order, whether it draws anything, and the open page (caller
    closes it).  Holds the pdfium lock (the caller's)."""
    page = pdf[index]
    textpage = page.get_textpage()
    try:
        # get_text_bounded, not get_text_range: the latter is limited to UCS-2 (pypdfium2 docs).
        text = _clean(textpage.get_text_bounded())
    finally:
        textpage.close()
    has_objects = pdfium_c.FPDFPage_CountObjects(page.raw) > 0
    return text, has_objects, page


def _render_page(page: Any, label: str, number: int) -> PreparedImage:
    """A scanned page as bounded RGB pixels (holds the pdfium lock: the caller's)."""
    width, height = page.get_size()  # points, 1/72 inch
    scale = min(3.0, math.sqrt(SCAN_MAX_PIXELS / max(1.0, width * height)))
    while math.ceil(width * scale) * math.ceil(height * scale) > SCAN_MAX_PIXELS:
        scale *= 0.99  # pdfium rounds the bitmap's sides up
    bitmap = page.render(scale=scale, rev_byteorder=True)
    try:
        image = bitmap.to_pil().convert("RGB")
    finally:
        bitmap.close()
    return PreparedImage.from_rgb(image.width, image.height, image.tobytes(), f"{label}, page {number}")


# --- Word ------------------------------------------------------------------------------------


def _prepare_word(data: bytes, label: str) -> PreparedDocument:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise UserError(
            "The Word document '{name}' is damaged (it is not a complete zip file), so it cannot "
            "be read.",
            name=label,
        ) from None
    names = {member.filename for member in members}
    if _WORD_DOCUMENT_PART not in names:
        raise unsupported_file(label)
    unpacked = sum(member.file_size for member in members if member.filename.endswith((".xml", ".rels")))
    if unpacked > MAX_WORD_XML_BYTES:
        raise UserError(
            "The Word document '{name}' would unpack to {size} MB of text and markup, more than "
            "the {limit} MB Gemma Desktop reads; it may be a zip bomb.",
            name=label,
            size=_megabytes(unpacked),
            limit=MAX_WORD_XML_BYTES // 1_048_576,
        )
    try:
        import docx

        text = _clean("\n".join(_word_lines(docx.Document(io.BytesIO(data))))).lstrip("\n")
    except Exception:
        raise UserError(
            "The Word document '{name}' is damaged, so its text cannot be read.", name=label
        ) from None
    return _unpaged_document(
        data, label, "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", text
    )


def _unpaged_document(
    data: bytes, label: str, kind: DocumentKind, mime: str, text: str, encoding: str | None = None
) -> PreparedDocument:
    """A document without pages (Word, text): its whole text as one part."""
    if not text.strip():
        raise UserError("The document '{name}' contains no text.", name=label)
    if len(text) > MAX_TEXT_CHARS:
        raise UserError(
            "'{name}' holds more than {limit} characters of text, more than the largest context "
            "holds.",
            name=label,
            limit=MAX_TEXT_CHARS,
        )
    return PreparedDocument(
        name=label,
        kind=kind,
        mime=mime,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        pages=(DocumentPage(1, text),),
        page_count=0,
        encoding=encoding,
    )


def _word_lines(document: Any) -> list[str]:
    """Paragraphs and tables in document order; headings as Markdown ``#``, tables as rows of
    cells separated by `` | `` (what a model reads best of plain-text forms)."""
    from docx.table import Table

    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines += ["", *_table_lines(block), ""]
            continue
        text = block.text.strip()
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        level = _heading_level(style)
        if level:
            lines += ["", "#" * level + " " + text, ""]
        elif style.startswith("List"):
            lines.append("- " + text)
        else:
            lines.append(text)
    return lines


def _heading_level(style: str) -> int:
    if style == "Title":
        return 1
    match = re.fullmatch(r"Heading (\d)", style)
    return min(6, int(match.group(1))) if match else 0


def _table_lines(table: Any) -> list[str]:
    lines = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell repeats itself across the columns it spans
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


# --- text ------------------------------------------------------------------------------------


def _prepare_text(data: bytes, label: str) -> PreparedDocument:
    text, encoding = _decode_text(data, label)
    return _unpaged_document(data, label, "text", "text/plain", _clean(text, layout=False), encoding)


def _decode_text(data: bytes, label: str) -> tuple[str, str]:
    """The text and the encoding it was read in; UserError for a file that is not text."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                break
    if b"\x00" not in data:
        try:
            return data.decode("utf-8"), "utf-8"  # most files: no detection needed
        except UnicodeDecodeError:
            pass
        best = _detected(data)
        if best is not None:
            return str(best), best.encoding
    raise unsupported_file(label)


WESTERN_MARGIN = 0.1
"""How much more "chaos" (charset-normalizer's mess score) Windows-1252 may show than the best
single-byte guess and still be chosen.  Short French or German in Latin-1 scores the same in
Baltic and Central European code pages (measured: "élèves" read as "élčves" in cp1257 at chaos
0.0 vs cp1252 at 0.051), and Western text is by far the most common of them."""


def _detected(data: bytes) -> Any:
    """charset-normalizer's reading of the bytes (a ``CharsetMatch``), or None if not text."""
    from charset_normalizer import from_bytes
    from charset_normalizer.utils import is_multi_byte_encoding

    matches = from_bytes(data)
    best = matches.best()
    if best is None or best.encoding == "cp1252" or is_multi_byte_encoding(best.encoding):
        return best
    western = next((match for match in matches if match.encoding == "cp1252"), None)
    if western is not None and western.chaos <= best.chaos + WESTERN_MARGIN:
        return western
    return best


def unsupported_file(label: str) -> UserError:
    """The refusal of a file that is neither a document nor an image Gemma Desktop reads."""
    return UserError(
        "'{name}' is not a file Gemma Desktop can read; it reads PDF, Word (.docx), text and "
        "code files (txt, md, csv, json, html, …), and PNG, JPEG, WebP, GIF, BMP or TIFF images.",
        name=label,
    )
