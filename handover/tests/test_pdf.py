"""The printed documents: the data is all there, in Chinese, with embedded fonts, and nothing is fetched.

The text is read back out of the PDF with Poppler's pdftotext (poppler-utils, installed by
scripts/setup.sh) and compared with the data, not with the translated labels.
"""

import re
import shutil

import pytest
import weasyprint
from django.urls import reverse
from django.utils import timezone

from clients.models import Contract, Opportunity, Receivable
from clients.money import format_money
from handover import pdf, selectors
from handover.models import HandoverClient, Report, Signature, State, Visit
from handover.tests.conftest import poppler
from tests.walk import advance_to

# Only the tests that read the PDF back need Poppler; the others run without it.
needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdftotext") and shutil.which("pdffonts")),
    reason="poppler-utils is not installed (scripts/setup.sh installs it)",
)

CODE = "ABCD-EFGH-JKMN"


def pdf_text(data: bytes, *, page: int | None = None) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page is not None else []
    return poppler("pdftotext", "-raw", "-enc", "UTF-8", *pages, "-", "-", data=data)


def pdf_fonts(data: bytes) -> list[tuple[str, str]]:
    """(font name without the subset tag, embedded yes/no) for every font of the PDF."""
    out = poppler("pdffonts", "-", data=data)
    fonts = []
    for line in out.splitlines()[2:]:
        parts = line.split()
        # name type... encoding emb sub uni object ID: emb is the 5th column from the end.
        fonts.append((parts[0].split("+", 1)[-1], parts[-5]))
    return fonts


def flat(text: str) -> str:
    """Text without line breaks and spaces: a value wrapped inside a table cell reads whole again."""
    return re.sub(r"\s+", "", text)


@pytest.fixture
def completed(handover):
    return advance_to(handover, State.COMPLETED)


@needs_poppler
def test_the_confirmation_carries_the_handover_and_every_client(completed, people, book, settings):
    h = completed
    data = pdf.render_confirmation(h, verification_code=CODE)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    whole = flat(text)

    assert h.number in text and settings.COMPANY_NAME in whole and CODE in text
    for person in (people.departing, people.receiver, people.supervisor, people.witness, people.manager):
        assert person.full_name in whole
    assert f"{h.notice_date:%Y-%m-%d}" in text and f"{h.last_working_day:%Y-%m-%d}" in text

    today = timezone.localdate(h.completed_at)
    for client in book:
        hc = HandoverClient.objects.get(handover=h, client=client)
        assert flat(client.name) in whole and client.credit_code in whole
        assert f"{client.name}·{hc.grade}" in whole
        for contract in Contract.objects.filter(client=client):
            assert contract.number in whole
            assert format_money(contract.amount) in whole
            assert f"{contract.performance_progress}%" in whole
        for r in Receivable.objects.filter(contract__client=client):
            assert format_money(r.outstanding) in whole
            if r.overdue_days(today) > 0:
                assert str(r.overdue_days(today)) in whole
        for deal in Opportunity.objects.filter(client=client):
            assert flat(deal.name) in whole
        for visit in Visit.objects.filter(handover_client=hc):
            assert f"{visit.visited_on:%Y-%m-%d}" in whole and flat(visit.outcome) in whole
    assert flat(Report.objects.get(handover=h).summary) in whole
    # The standard items (company property, accounts).
    assert "笔记本电脑" in whole and "CRM系统账号" in whole

    # Every signature, with its time; the three parties' typed names in their blocks.
    signatures = Signature.objects.filter(handover=h, superseded_at__isnull=True)
    assert signatures.count() == 11
    for sig in signatures:
        assert f"{timezone.localtime(sig.signed_at):%Y-%m-%d %H:%M:%S}" in text
        assert sig.content_sha256 in whole

    # Checked on the rows the document prints, every signature still holds.
    loaded = pdf._load(pdf._handover(h))
    checker = pdf._checker(h, loaded)
    assert all(checker.is_valid(sig) for sig in loaded["signatures"])

    # "Page N of M" on every page.
    pages = pdf.page_count(data)
    assert pages >= 2
    for n in range(1, pages + 1):
        footer = pdf_text(data, page=n)
        assert re.search(rf"(?<!\d){n}(?!\d)\D+(?<!\d){pages}(?!\d)", footer.strip().splitlines()[-1] + footer), n


@needs_poppler
def test_chinese_renders_with_the_embedded_noto_font_and_no_fallback(completed):
    data = pdf.render_confirmation(completed, verification_code=CODE)
    fonts = pdf_fonts(data)
    assert fonts, "no fonts in the PDF"
    # Every font embedded (a subset), and every one of them Noto CJK SC: had a glyph been missing from
    # it, Pango would have reached for another family, which would show here.
    assert all(embedded == "yes" for _name, embedded in fonts), fonts
    assert all(name.startswith(("Noto-Sans-CJK-SC", "Noto-Sans-Mono-CJK-SC")) for name, _e in fonts), fonts
    assert "移交" in pdf_text(data) or "Departing" in pdf_text(data)


@needs_poppler
def test_the_stage_lists_print_the_plan_the_materials_and_the_visits(completed, book):
    h = completed
    plan = flat(pdf_text(pdf.render_stage_list(h, "plan")))
    assert all(flat(c.name) in plan for c in book)
    assert flat(HandoverClient.objects.filter(handover=h).first().risks) in plan
    materials = flat(pdf_text(pdf.render_stage_list(h, "materials")))
    for contract in Contract.objects.filter(client__in=book):
        assert contract.number in materials
    assert "笔记本电脑" in materials
    visits = flat(pdf_text(pdf.render_stage_list(h, "visits")))
    for visit in Visit.objects.filter(handover_client__handover=h):
        assert flat(visit.contact_met) in visits


def test_the_stage_lists_are_for_the_people_of_the_handover_not_the_departing_person(handover, people, login):
    h = advance_to(handover, State.MATERIALS)
    url = reverse("handover:print_stage", args=[h.pk, "materials"])
    response = login(people.receiver).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert login(people.departing).get(url).status_code == 403
    assert login(people.other_sales).get(url).status_code == 404
    assert login(people.receiver).get(reverse("handover:print_stage", args=[h.pk, "secrets"])).status_code == 404


# ---------------------------------------------------------------------------------------
# Nothing is fetched for what people typed


HOSTILE = (
    '<img src="file:///etc/passwd"> <link rel="stylesheet" href="http://127.0.0.1:9/steal.css">'
    ' <b>粗体</b> <img src="https://example.com/track.png"> <style>@import url(http://example.com/x.css);</style>'
)


@pytest.fixture
def fetched(monkeypatch):
    """Every URL any RestrictedFetcher is asked for, and every one it refused."""
    asked, refused = [], []
    real_fetch = pdf.RestrictedFetcher.fetch

    def fetch(self, url, headers=None):
        asked.append(url)
        try:
            return real_fetch(self, url, headers)
        except pdf.FetchRefused:
            refused.append(url)
            raise

    monkeypatch.setattr(pdf.RestrictedFetcher, "fetch", fetch)
    return asked, refused


@needs_poppler
def test_html_and_urls_in_notes_are_printed_as_text_and_never_fetched(completed, people, fetched):
    h = completed
    Report.objects.filter(handover=h).update(summary=HOSTILE, advice="file:///etc/shadow")
    Visit.objects.filter(handover_client__handover=h).update(outcome=HOSTILE, concerns='<iframe src="/admin/">')
    HandoverClient.objects.filter(handover=h).update(risks=HOSTILE)
    asked, refused = fetched

    data = pdf.render_confirmation(h, verification_code=CODE)
    data += pdf.render_stage_list(h, "plan") + pdf.render_stage_list(h, "visits")

    # Only our own stylesheet and the images we made (QR code, signatures) were asked for.
    assert asked and all(url == "static:pdf/document.css" or url.startswith("asset:") for url in asked), asked
    assert refused == []
    text = pdf_text(pdf.render_confirmation(h, verification_code=CODE))
    assert '<img src="file:///etc/passwd">' in text and "<b>粗体</b>" in text
    assert "root:x:0:0" not in text


def test_the_fetcher_serves_our_static_files_and_our_own_images_only():
    fetcher = pdf.RestrictedFetcher()
    css = fetcher.fetch("static:pdf/document.css")
    assert css.content_type == "text/css" and b"@page" in css.read()
    url = fetcher.register(b"\x89PNG\r\n\x1a\n...", "image/png")
    assert url.startswith("asset:") and fetcher.fetch(url).read().startswith(b"\x89PNG")
    for url in [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "http://127.0.0.1:9/x.css",
        "https://example.com/logo.png",
        "ftp://example.com/x",
        "data:image/png;base64,iVBORw0KGgo=",
        "data:text/css,body{}",
        "static:../../../../etc/passwd",
        "static:/etc/passwd",
        "static:pdf/../../config/settings.py",
        "static:js/signature.js",
        "asset:0000",
        "//example.com/x.png",
    ]:
        with pytest.raises(pdf.FetchRefused):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 13


@needs_poppler
def test_weasyprint_with_our_fetcher_renders_an_injected_tag_without_the_file(fetched):
    # Even if markup slipped into a template, the fetcher would not hand over the file or call out.
    asked, refused = fetched
    html = (
        '<p>before</p><img src="file:///etc/passwd"><img src="http://127.0.0.1:9/x.png">'
        '<link rel="stylesheet" href="https://example.com/x.css"><p>after</p>'
    )
    data = weasyprint.HTML(string=html, base_url=None, url_fetcher=pdf.RestrictedFetcher()).write_pdf()
    text = pdf_text(data)
    assert "before" in text and "after" in text and "root:" not in text
    assert set(refused) == {"file:///etc/passwd", "http://127.0.0.1:9/x.png", "https://example.com/x.css"}


def test_a_service_is_the_only_way_to_an_archive(completed):
    # Printing on demand stores nothing; only handover_archive does.
    pdf.render_confirmation(completed, verification_code=CODE)
    assert selectors.archive_for(completed) is None
