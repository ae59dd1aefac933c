"""The confirmation's annex printed ahead: once the three parties have signed the checklist the
annex is printed in the background, and the archive joins it to the cover it prints at the final
approval, only while the annex it would print is the same; either way the document is the same."""

import pytest

from handover import pdf, services
from handover.models import ArchivedDocument, ConfirmationAnnex, SignaturePurpose, State
from handover.services import archive
from handover.tests.conftest import poppler
from tests.walk import advance_to, sign_missing, signature_of

CODE = "ABCD-EFGH-JKLM"


@pytest.fixture
def printed_here(monkeypatch):
    """annex_soon prints in the caller (here: at the captured commit) instead of a thread."""
    asked = []

    def print_now(handover_id):
        asked.append(handover_id)
        archive.confirmation_annex_print(handover_id=handover_id)

    monkeypatch.setattr(archive, "_annex_run_in_process", [print_now])
    return asked


def pdf_text(data: bytes) -> str:
    return poppler("pdftotext", "-layout", "-enc", "UTF-8", "-", "-", data=data)


@pytest.mark.django_db
def test_the_third_checklist_signature_prints_the_annex_ahead(
    handover, people, printed_here, sealed, monkeypatch, django_capture_on_commit_callbacks
):
    h = advance_to(handover, State.REPORT_APPROVAL)
    with django_capture_on_commit_callbacks(execute=True):
        services.handover_sign(
            handover=h.pk,
            user=people.departing,
            purpose=SignaturePurpose.CHECKLIST,
            signature=signature_of(people.departing),
        )
    assert printed_here == [] and not ConfirmationAnnex.objects.exists()  # two signatures still missing
    with django_capture_on_commit_callbacks(execute=True):
        sign_missing(h, SignaturePurpose.CHECKLIST)
    assert printed_here == [h.pk]
    annex = ConfirmationAnnex.objects.get(handover=h)
    assert bytes(annex.pdf).startswith(b"%PDF") and annex.pages >= 1
    assert h.clients.first().client.name in pdf_text(bytes(annex.pdf))

    # The final approval's archive joins it (no second print of the annex) and then lets it go.
    printed = []
    real = pdf.write_html
    monkeypatch.setattr(pdf, "write_html", lambda html, *a, **k: printed.append(html) or real(html, *a, **k))
    with django_capture_on_commit_callbacks(execute=True):
        services.handover_transition(
            handover=h, name="approve_report", user=people.manager, signature=signature_of(people.manager)
        )
    doc = ArchivedDocument.objects.get(handover=h)
    assert len(printed) == 2, "the cover and the footers only"
    assert not ConfirmationAnnex.objects.filter(handover=h).exists()
    with doc.file.open("rb") as f:
        text = pdf_text(f.read())
    assert h.clients.first().client.name in text and doc.verification_code in text


@pytest.mark.django_db
def test_either_path_prints_the_same_document(handover):
    h = advance_to(handover, State.COMPLETED)
    annex = pdf.render_confirmation_annex(h)
    ahead = pdf.render_confirmation(h, verification_code=CODE, annex=annex)
    at_once = pdf.render_confirmation(h, verification_code=CODE)
    assert pdf_text(ahead) == pdf_text(at_once)
    assert pdf.page_count(ahead) == pdf.page_count(at_once)


@pytest.mark.django_db
def test_an_annex_printed_from_other_content_is_printed_again(handover, monkeypatch):
    h = advance_to(handover, State.COMPLETED)
    stale = pdf.Annex("0" * 64, pdf.render_confirmation_annex(h).pdf)
    printed = []
    real = pdf.write_html
    monkeypatch.setattr(pdf, "write_html", lambda html, *a, **k: printed.append(html) or real(html, *a, **k))
    pdf.render_confirmation(h, verification_code=CODE, annex=stale)
    assert len(printed) == 3, "the cover, the annex again, the footers"
    # A stale annex that printed other clients would show them: it is never used.
    fresh = pdf.render_confirmation(h, verification_code=CODE, annex=pdf.Annex("0" * 64, b"not a pdf"))
    assert fresh.startswith(b"%PDF")


@pytest.mark.django_db
def test_every_page_carries_the_verification_code_and_its_number_of_all(handover):
    h = advance_to(handover, State.COMPLETED)
    data = pdf.render_confirmation(h, verification_code=CODE)
    pages = pdf.page_count(data)
    assert pages >= 2  # the cover, then the annex on its own pages
    for n in range(1, pages + 1):
        text = poppler("pdftotext", "-f", str(n), "-l", str(n), "-enc", "UTF-8", "-", "-", data=data)
        assert CODE in text
        assert f"第{n}页，共{pages}页" in text.replace(" ", "")
