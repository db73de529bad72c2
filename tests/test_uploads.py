"""Uploads for RAG: each bad file rejected with its reason, good ones stored, nothing written elsewhere."""

import pytest

from modules.paths import lab_home
from modules.retrieval.uploads import (
    UploadLimits,
    collection_dir,
    collection_documents,
    delete_collection,
    extract_text,
    list_collections,
    safe_filename,
    save_uploads,
)


def minimal_pdf(text: str) -> bytes:
    """A valid one-page PDF with `text` in Helvetica, cross-reference table included."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    body, offsets = b"%PDF-1.4\n", []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return body + b"trailer\n<< /Root 1 0 R /Size %d >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


def files_outside(collection: str) -> set:
    root = lab_home()
    inside = collection_dir(collection)
    return {p for p in root.rglob("*") if p.is_file() and inside not in p.parents and "collections" in p.parts}


def test_good_files_of_each_type_are_stored_as_text():
    report = save_uploads(
        "mine",
        [
            ("notes.txt", b"The boat leaves at nine."),
            ("guide.md", "# Guide\nCaf\u00e9 opens at 7.".encode()),
            ("page.html", b"<html><script>alert(1)</script><p>Desks on floor <b>3</b>.</p></html>"),
            ("report.pdf", minimal_pdf("Quarterly sensor sales rose")),
        ],
    )
    assert report.rejected == [] and report.accepted == ["notes.txt", "guide.md", "page.html", "report.pdf"]
    texts = {d.id: d.text for d in collection_documents("mine")}
    assert texts["page.html"] == "Desks on floor 3 ." and "alert" not in texts["page.html"]
    assert "Quarterly sensor sales rose" in texts["report.pdf"] and "Café" in texts["guide.md"]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("big.txt", b"x" * 2048, "the limit is 1,024"),
        ("sneaky.txt", minimal_pdf("hi"), "the content is a PDF but the name says .txt"),
        ("binary.md", b"MZ\x00\x01\x02binary", "binary content"),
        ("latin1.txt", "caf\u00e9".encode("latin-1"), "not UTF-8"),
        ("fake.pdf", b"just text pretending", "not a PDF"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "could not parse the PDF"),
        ("empty.txt", b"", "empty"),
        ("virus.exe", b"MZ", "type not allowed"),
        ("noext", b"hello", "type not allowed"),
    ],
)
def test_bad_files_are_rejected_with_their_reason(name, data, reason):
    report = save_uploads("bad", [(name, data), ("fine.txt", b"still stored")], UploadLimits(max_file_bytes=1024))
    assert report.accepted == ["fine.txt"]  # one bad file does not break the rest
    assert len(report.rejected) == 1 and report.rejected[0][0] == name and reason in report.rejected[0][1]


@pytest.mark.parametrize("name", ["../../escape.txt", "/etc/cron.d/evil.txt", "..\\..\\win.txt", "a/b/../c.txt"])
def test_path_names_are_reduced_to_a_base_name_inside_the_collection(name):
    before = files_outside("paths")
    report = save_uploads("paths", [(name, b"content")])
    assert report.accepted == [safe_filename(name)] and "/" not in report.accepted[0] and ".." not in report.accepted[0]
    assert (collection_dir("paths") / f"{report.accepted[0]}.txt").is_file()
    assert files_outside("paths") == before


def test_collection_names_and_limits_are_checked():
    for bad in ("", "../x", "a b", "x" * 41):
        with pytest.raises(ValueError, match="Collection name"):
            collection_dir(bad)
    with pytest.raises(ValueError, match="the limit is 2"):
        save_uploads("many", [("a.txt", b"a")] * 3, UploadLimits(max_files=2))
    assert safe_filename(".hidden.txt") == "hidden.txt"
    with pytest.raises(ValueError, match="type not allowed"):
        extract_text("x.docx", b"data")


def test_oversized_files_on_disk_are_rejected_without_being_read(tmp_path, monkeypatch):
    big, small = tmp_path / "big.txt", tmp_path / "small.md"
    big.write_bytes(b"a" * 3000)
    small.write_text("Parking is free on Fridays.")
    monkeypatch.setenv("LAB_UPLOAD_MAX_MB", str(2000 / 2**20))
    read = type(big).read_bytes
    monkeypatch.setattr(type(big), "read_bytes", lambda self: pytest.fail("read it") if self == big else read(self))
    report = save_uploads("disk", [("big.txt", big), ("small.md", small)], UploadLimits.from_env())
    assert report.rejected == [("big.txt", "3,000 bytes; the limit is 2,000")] and report.accepted == ["small.md"]


def test_collections_are_listed_only_with_files_and_deleted_whole():
    save_uploads("listed", [("a.txt", b"alpha")])
    save_uploads("all-rejected", [("a.exe", b"MZ")])
    assert "listed" in list_collections() and "all-rejected" not in list_collections()
    delete_collection("listed")
    assert "listed" not in list_collections() and not collection_dir("listed").parent.exists()
    with pytest.raises(ValueError, match="Collection name"):
        delete_collection("../collections")
