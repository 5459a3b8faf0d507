"""Documents the tests and the benchmark make for themselves: text PDFs (fpdf2, a small PDF writer
in the test extra), image-only PDFs (Pillow writes them), PDFs with no pages or thousands of them
(pypdfium2), Word files (python-docx) and zip bombs, text in several encodings.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

CHINESE = (
    "人工智能是计算机科学的一个分支，它企图了解智能的实质，并生产出一种新的能以人类智能相似的"
    "方式做出反应的智能机器。该领域的研究包括机器人、语言识别、图像识别、自然语言处理和专家系统等。"
)
TRADITIONAL_CHINESE = (
    "人工智慧是電腦科學的一個分支，它企圖了解智慧的實質，並生產出一種新的能以人類智慧相似的方式"
    "做出反應的智慧機器。"
)
JAPANESE = (
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした"
    "所でニャーニャー泣いていた事だけは記憶している。"
)
FRENCH = "Les élèves étudient à l'école près du château. Où est la bibliothèque? Déjà vu, garçon, naïve."

ENCODED_TEXTS: tuple[tuple[str, str], ...] = (
    (CHINESE, "gbk"),
    (CHINESE, "gb18030"),
    (TRADITIONAL_CHINESE, "big5"),
    (JAPANESE, "shift_jis"),
    (CHINESE, "utf-16"),  # Python writes a byte-order mark
    (FRENCH, "latin-1"),
    (FRENCH, "utf-8"),
)
"""(text, encoding) pairs a text document must read back exactly."""


def text_pdf(pages: Sequence[str], *, password: str | None = None) -> bytes:
    """A PDF with one page per string, in a core font (Latin-1 text only)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    if password is not None:
        pdf.set_encryption(owner_password=password + "-owner", user_password=password)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 5, text)
    return bytes(pdf.output())


def long_text_pdf(pages: int, lines_per_page: int = 45) -> bytes:
    """A book-like text PDF, written a line at a time (fpdf2's ``text`` is ~20x faster than
    ``multi_cell`` for hundreds of pages)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    sentence = "The committee reviewed chapter {page}, section {line}, and agreed on its findings."
    for page in range(1, pages + 1):
        pdf.add_page()
        for line in range(lines_per_page):
            pdf.text(15, 15 + line * 6, sentence.format(page=page, line=line + 1))
    return bytes(pdf.output())


def scanned_pdf(captions: Sequence[str]) -> bytes:
    """A PDF whose pages are only pictures of text (no text layer), as a scanner makes them."""
    pictures = []
    for caption in captions:
        picture = Image.new("RGB", (850, 1100), "white")
        ImageDraw.Draw(picture).text((80, 80), caption, fill="black")
        pictures.append(picture)
    out = io.BytesIO()
    pictures[0].save(out, "PDF", save_all=True, append_images=pictures[1:], resolution=100.0)
    return out.getvalue()


def mixed_pdf() -> bytes:
    """Page 1 text, page 2 a scan: pdfium appends the scanned page to the text PDF."""
    import pypdfium2 as pdfium

    text = pdfium.PdfDocument(text_pdf(["A page with a text layer."]))
    scan = pdfium.PdfDocument(scanned_pdf(["a scanned page"]))
    try:
        text.import_pages(scan)
        out = io.BytesIO()
        text.save(out)
        return out.getvalue()
    finally:
        scan.close()
        text.close()


def blank_pdf(pages: int) -> bytes:
    """A PDF of empty pages (``pages`` may be 0: a valid PDF that has none)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    try:
        for _ in range(pages):
            pdf.new_page(200, 200).close()
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()
    finally:
        pdf.close()


def word_document(path: Path) -> Path:
    """A .docx with a title, headings, paragraphs, a list and a table, in that order."""
    import docx

    document = docx.Document()
    document.add_heading("Quarterly report", level=0)
    document.add_paragraph("Sales rose in every region.")
    document.add_heading("Regions", level=1)
    document.add_paragraph("North grew fastest.", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Region"
    table.cell(0, 1).text = "Growth"
    table.cell(1, 0).text = "North"
    table.cell(1, 1).text = "12%"
    document.add_paragraph("The end.")
    document.save(str(path))
    return path


def zip_bomb(path: Path, unpacked_mb: int) -> Path:
    """A "Word document" whose document.xml unpacks to ``unpacked_mb`` megabytes of spaces (it
    compresses ~1000:1), written in 1 MB pieces so the test itself stays small."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            chunk = b" " * 1_048_576
            for _ in range(unpacked_mb):
                member.write(chunk)
    return path
