"""The archived confirmation: printed when the last signature lands, sealed, stored once, served as is."""

import hashlib
import importlib
import io
import logging
import shutil
import threading
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection, connections
from django.urls import clear_url_caches, reverse

from handover import pdf, seal, services, tasks
from handover.models import ArchivedDocument, Event, SignaturePurpose, State
from handover.services import archive
from handover.storage import WriteOnceStorage
from handover.tests.conftest import poppler
from tests.walk import advance_to, sign_missing, signature_of


@pytest.fixture
def archived(handover, people, sealed, django_capture_on_commit_callbacks):
    """A handover completed by the manager's final approval, and what that archived."""
    h = advance_to(handover, State.REPORT_APPROVAL)
    sign_missing(h, SignaturePurpose.CHECKLIST)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.handover_transition(
            handover=h, name="approve_report", user=people.manager, signature=signature_of(people.manager)
        )
    assert callbacks, "completion queued nothing"
    return ArchivedDocument.objects.get(handover=h)


def stored(doc: ArchivedDocument) -> bytes:
    with doc.file.open("rb") as f:
        return f.read()


def info_changed(data: bytes) -> bytes:
    """The sealed file with an incremental update after the seal that changes its title."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    writer.set_info(generic.DictionaryObject({generic.NameObject("/Title"): generic.TextStringObject("已作废")}))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def annotated(data: bytes) -> bytes:
    """The sealed file with an incremental update after the seal that adds a note on page 1."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    note = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
            generic.NameObject("/Rect"): generic.ArrayObject([generic.NumberObject(n) for n in (50, 50, 300, 100)]),
            generic.NameObject("/Contents"): generic.TextStringObject("应收款已结清"),
            generic.NameObject("/DA"): generic.TextStringObject("/Helv 12 Tf 0 g"),
        }
    )
    page[generic.NameObject("/Annots")] = generic.ArrayObject([writer.add_object(note)])
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def tampered(data: bytes) -> bytes:
    """The same file with one byte of page content changed, inside the sealed byte range."""
    at = data.index(b"stream", len(data) // 4) + 40
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_the_last_signature_archives_the_sealed_confirmation(archived):
    doc = archived
    data = stored(doc)
    assert data.startswith(b"%PDF-")
    assert hashlib.sha256(data).hexdigest() == doc.sha256 and len(data) == doc.size
    assert doc.sealed and "测试销售有限公司" in doc.seal_signer
    assert doc.file.name == f"archive/{doc.handover.number}.pdf"
    assert len(doc.verification_code) == 14 and doc.verification_code.count("-") == 2
    assert Event.objects.filter(handover=doc.handover, kind="archived", data__sha256=doc.sha256).exists()


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (poppler-utils) is not installed")
def test_the_archived_file_prints_its_verification_code(archived):
    assert archived.verification_code in poppler("pdftotext", "-", "-", data=stored(archived))


def test_archiving_again_changes_nothing(archived):
    before = stored(archived)
    again = services.handover_archive(handover_id=archived.handover_id)
    assert again.pk == archived.pk and stored(again) == before
    assert ArchivedDocument.objects.count() == 1


def test_the_archive_cannot_be_overwritten(archived):
    doc = archived
    before = stored(doc)
    # The storage refuses an existing name instead of replacing or renaming.
    with pytest.raises(FileExistsError, match="exists and is never overwritten"):
        WriteOnceStorage().save(doc.file.name, ContentFile(b"%PDF-forged"))
    with pytest.raises(PermissionError, match="is archived and is never deleted"):
        WriteOnceStorage().delete(doc.file.name)
    # The row refuses a change to what was archived, and deletion.
    doc.sha256 = "0" * 64
    with pytest.raises(ValueError, match="An archived document is never changed"):
        doc.save()
    doc.refresh_from_db()
    with pytest.raises(ValueError, match="An archived document is never deleted"):
        doc.delete()
    # Even with the row gone behind its back, the service will not write over the file.
    ArchivedDocument.objects.filter(pk=doc.pk).delete()
    with pytest.raises(services.Conflict, match=doc.handover.number) as refused:
        services.handover_archive(handover_id=doc.handover_id)
    assert "never overwritten" in refused.value.message or "不会被覆盖" in refused.value.message
    assert stored(doc) == before


def test_only_a_completed_handover_is_archived(handover, sealed):
    with pytest.raises(services.WrongState):
        services.handover_archive(handover_id=handover.pk)
    assert not ArchivedDocument.objects.exists()


def test_without_a_seal_nothing_is_archived(handover, people, sealed, settings, tmp_path):
    h = advance_to(handover, State.COMPLETED)
    settings.SEAL_DIR = tmp_path / "no-seal-here"
    with pytest.raises(seal.SealNotConfigured):
        services.handover_archive(handover_id=h.pk)
    assert not ArchivedDocument.objects.exists()
    assert not (settings.MEDIA_ROOT / "archive").exists() or not any((settings.MEDIA_ROOT / "archive").iterdir())


# ---------------------------------------------------------------------------------------
# An archive that could not be queued: the periodic scan makes it, once


def _complete_with_the_broker_down(handover, people, monkeypatch, capture_on_commit):
    def broker_down(*args, **kwargs):
        raise ConnectionError("the broker is down")

    h = advance_to(handover, State.REPORT_APPROVAL)
    sign_missing(h, SignaturePurpose.CHECKLIST)
    with monkeypatch.context() as patched:
        patched.setattr(tasks.archive_handover, "delay", broker_down)
        # Nor did this process's archive thread run (the process ended first, say).
        patched.setattr(archive, "_run_in_process", [lambda handover_id: None])
        # (In a test that commits, the callbacks run at the commit and none is left to capture.)
        with capture_on_commit(execute=True):
            h = services.handover_transition(
                handover=h, name="approve_report", user=people.manager, signature=signature_of(people.manager)
            )
    assert h.state == State.COMPLETED
    assert not ArchivedDocument.objects.exists()
    return h


def _errors(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_scan_makes_an_archive_whose_queueing_failed_once(
    handover, people, sealed, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    h = _complete_with_the_broker_down(handover, people, monkeypatch, django_capture_on_commit_callbacks)
    assert tasks.scan_reminders()["archives_queued"] == 1
    doc = ArchivedDocument.objects.get(handover=h)
    before = stored(doc)
    # The next scans find nothing missing and change nothing.
    assert tasks.scan_reminders()["archives_queued"] == 0
    call_command("run_scheduler", stdout=StringIO())
    assert ArchivedDocument.objects.get() == doc and stored(doc) == before
    assert Event.objects.filter(handover=h, kind="archived").count() == 1
    assert _errors(caplog) == []


def test_run_scheduler_makes_a_missing_archive(
    handover, people, sealed, monkeypatch, django_capture_on_commit_callbacks
):
    h = _complete_with_the_broker_down(handover, people, monkeypatch, django_capture_on_commit_callbacks)
    out = StringIO()
    call_command("run_scheduler", stdout=out)
    assert "'archives_queued': 1" in out.getvalue()
    assert ArchivedDocument.objects.filter(handover=h, sealed=True).count() == 1


def test_without_a_seal_the_scan_waits_for_it_with_one_warning(
    handover, people, sealed, settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    h = _complete_with_the_broker_down(handover, people, monkeypatch, django_capture_on_commit_callbacks)
    settings.SEAL_DIR = tmp_path / "no-seal-here"
    rendered = []
    real_render = pdf.render_confirmation
    monkeypatch.setattr(pdf, "render_confirmation", lambda *a, **k: rendered.append(1) or real_render(*a, **k))
    caplog.clear()
    assert tasks.scan_reminders()["archives_queued"] == 0
    assert rendered == [] and not ArchivedDocument.objects.exists()
    assert [r.getMessage() for r in caplog.records if "wait for their archive" in r.getMessage()]
    # The seal in place again: the next scan makes it.
    settings.SEAL_DIR = sealed
    assert tasks.scan_reminders()["archives_queued"] == 1
    assert ArchivedDocument.objects.filter(handover=h).count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need a server database")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_scans_at_once_make_one_archive_without_an_error(
    handover, people, sealed, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    h = _complete_with_the_broker_down(handover, people, monkeypatch, django_capture_on_commit_callbacks)
    # Both scans render before either stores: the row lock alone must settle it.
    barrier = threading.Barrier(2)
    real_seal = seal.seal_pdf

    def seal_together(*args, **kwargs):
        sealed_pdf = real_seal(*args, **kwargs)
        barrier.wait(timeout=60)
        return sealed_pdf

    monkeypatch.setattr(seal, "seal_pdf", seal_together)
    raised = []

    def scan():
        try:
            tasks.scan_reminders()
        except Exception as exc:  # noqa: BLE001 - any failure in a thread is a failure of the test
            raised.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert raised == [] and _errors(caplog) == []
    assert not barrier.broken, "the two scans did not both render"
    assert ArchivedDocument.objects.filter(handover=h).count() == 1
    assert Event.objects.filter(handover=h, kind="archived").count() == 1
    doc = ArchivedDocument.objects.get(handover=h)
    assert hashlib.sha256(stored(doc)).hexdigest() == doc.sha256


# ---------------------------------------------------------------------------------------
# The seal


def test_pyhanko_finds_the_seal_intact_and_a_tampered_copy_broken(archived):
    data = stored(archived)
    check = seal.verify_pdf(data)
    assert check.ok and check.intact and check.trusted, check.problem
    assert "测试销售有限公司" in check.signer
    assert not seal.verify_pdf(tampered(data)).ok
    assert not seal.verify_pdf(b"%PDF-1.7 not sealed").ok


@pytest.mark.parametrize("change", [info_changed, annotated])
def test_pyhanko_finds_a_seal_followed_by_an_update_changed_after_sealing(archived, change):
    data = stored(archived)
    changed = change(data)
    assert changed.startswith(data) and len(changed) > len(data)  # the sealed bytes themselves are untouched
    check = seal.verify_pdf(changed)
    assert check.present and check.intact and check.trusted  # the seal itself is ours and unbroken,
    assert not check.untouched and check.changed_after_sealing and not check.ok  # but it no longer covers the file
    assert check.problem


@pytest.mark.skipif(not shutil.which("pdfsig"), reason="pdfsig (poppler-utils) is not installed")
def test_poppler_pdfsig_finds_the_seal_valid_and_a_tampered_copy_invalid(archived, tmp_path):
    original, changed = tmp_path / "original.pdf", tmp_path / "tampered.pdf"
    original.write_bytes(stored(archived))
    changed.write_bytes(tampered(stored(archived)))
    out = poppler("pdfsig", str(original))
    assert "Signature is Valid." in out and "ETSI.CAdES.detached" in out, out
    out = poppler("pdfsig", str(changed))
    assert "Signature is Valid." not in out, out


def test_seal_setup_makes_the_certificates_once(tmp_path):
    out = StringIO()
    call_command("seal_setup", "--dir", str(tmp_path / "seal"), stdout=out)
    cert = (tmp_path / "seal" / seal.CERT_FILE).read_bytes()
    assert b"BEGIN CERTIFICATE" in cert and (tmp_path / "seal" / seal.KEY_FILE).stat().st_mode & 0o077 == 0
    call_command("seal_setup", "--dir", str(tmp_path / "seal"), stdout=out)
    assert "already in place" in out.getvalue()
    assert (tmp_path / "seal" / seal.CERT_FILE).read_bytes() == cert


def test_a_seal_key_with_a_passphrase(settings, tmp_path):
    seal.generate(tmp_path, company="口令公司", passphrase=b"s3cret")
    settings.SEAL_DIR, settings.SEAL_KEY_PASSPHRASE = tmp_path, "s3cret"
    settings.SEAL_CERT_PATH = settings.SEAL_KEY_PATH = settings.SEAL_CA_PATH = ""
    import weasyprint

    sealed = seal.seal_pdf(weasyprint.HTML(string="<p>口令</p>").write_pdf())
    assert seal.verify_pdf(sealed.data).ok


# ---------------------------------------------------------------------------------------
# HR's print page and the verification page


def test_hr_lists_completed_handovers_and_downloads_the_archived_file(archived, people, login):
    browser = login(people.hr)
    page = browser.get(reverse("handover:archive")).content.decode()
    assert archived.handover.number in page and archived.verification_code in page
    url = reverse("handover:archive_download", args=[archived.handover_id])
    assert url in page
    response = browser.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == stored(archived)
    assert f"{archived.handover.number}.pdf" in response["Content-Disposition"]
    # On the handover page too.
    detail = browser.get(reverse("handover:detail", args=[archived.handover_id])).content.decode()
    assert url in detail


@pytest.fixture
def debug_urls(settings):
    """The URL configuration as the development server builds it, with DEBUG on."""
    import config.urls

    settings.DEBUG = True
    importlib.reload(config.urls)
    clear_url_caches()
    yield
    settings.DEBUG = False
    importlib.reload(config.urls)
    clear_url_caches()


def test_no_media_url_serves_an_archive_even_with_debug_on(archived, people, login, settings, debug_urls):
    name = archived.file.name  # archive/<number>.pdf under MEDIA_ROOT
    assert (settings.MEDIA_ROOT / name).is_file()
    browser = login(people.other_sales)
    for url in (f"{settings.MEDIA_URL}{name}", f"/media/{name}", f"/media/archive/{archived.handover.number}.pdf"):
        response = browser.get(url)
        assert response.status_code == 404, url
        assert stored(archived) not in b"".join(getattr(response, "streaming_content", [response.content]))
    # The checked download still refuses them, and still serves HR.
    download = reverse("handover:archive_download", args=[archived.handover_id])
    assert browser.get(download).status_code == 403
    response = login(people.hr).get(download)
    assert response.status_code == 200 and b"".join(response.streaming_content) == stored(archived)


@pytest.mark.parametrize("who", ["departing", "receiver", "supervisor", "witness", "manager", "other_sales"])
def test_only_hr_and_the_administrator_reach_the_archive(archived, people, login, who):
    browser = login(getattr(people, who))
    assert browser.get(reverse("handover:archive")).status_code == 403
    assert browser.get(reverse("handover:archive_download", args=[archived.handover_id])).status_code == 403


def test_the_administrator_reaches_the_archive(archived, people, login):
    assert login(people.admin).get(reverse("handover:archive")).status_code == 200


def test_hr_archives_a_completed_handover_that_missed_its_archive(
    handover, people, login, sealed, django_capture_on_commit_callbacks
):
    h = advance_to(handover, State.COMPLETED)  # on_commit never ran: nothing archived
    browser = login(people.hr)
    assert "archive-now" in browser.get(reverse("handover:archive")).content.decode()
    # Made after the answer, in the background (here: at the captured commit).
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(reverse("handover:archive_now", args=[h.pk]))
        assert response.status_code == 302 and response.url == reverse("handover:archive")
        assert not ArchivedDocument.objects.filter(handover=h).exists()
    assert ArchivedDocument.objects.filter(handover=h, sealed=True).exists()


def test_the_verification_page_recognises_the_code_and_the_file(archived, people, login):
    browser = login(people.other_sales)  # anyone logged in may check a document they were shown
    code = archived.verification_code
    page = browser.get(reverse("handover:verify"), {"code": code.lower().replace("-", " ")}).content.decode()
    assert 'data-match="true"' in page and archived.handover.number in page and archived.sha256 in page

    page = browser.post(reverse("handover:verify"), {"file": ContentFile(stored(archived), "copy.pdf")})
    content = page.content.decode()
    assert 'data-match="true"' in content and 'data-seal-ok="true"' in content

    page = browser.post(reverse("handover:verify"), {"file": ContentFile(tampered(stored(archived)), "copy.pdf")})
    content = page.content.decode()
    assert 'data-match="false"' in content and 'data-seal-ok="false"' in content

    page = browser.get(reverse("handover:verify"), {"code": "0000-0000-0000"}).content.decode()
    assert 'data-match="false"' in page


@pytest.mark.parametrize("change", [info_changed, annotated])
def test_the_verification_page_says_a_file_updated_after_sealing_was_changed(archived, people, login, change):
    browser = login(people.other_sales)
    response = browser.post(reverse("handover:verify"), {"file": ContentFile(change(stored(archived)), "copy.pdf")})
    content = response.content.decode()
    assert 'data-match="false"' in content
    assert 'data-seal-ok="false"' in content and 'data-seal-changed="true"' in content
    assert "完整有效" not in content
    assert "盖章后被改动过" in content
    # The archived file itself is still called intact.
    content = browser.post(reverse("handover:verify"), {"file": ContentFile(stored(archived), "copy.pdf")}).content
    assert "完整有效" in content.decode() and 'data-seal-changed="false"' in content.decode()


def test_the_qr_code_leads_to_the_verification_page(archived, settings):
    from handover import pdf

    assert pdf.verification_url(archived.verification_code) == (
        f"{settings.SITE_URL.rstrip('/')}/handovers/verify/?code={archived.verification_code}"
    )


def test_the_verification_page_needs_a_login(client):
    response = client.get(reverse("handover:verify"))
    assert response.status_code == 302 and "login" in response.url


def test_the_admin_links_an_archive_to_the_checked_download_not_to_a_media_url(archived, people, login, settings):
    """The admin's archive page offers the file only through the checked and logged download."""
    h, doc = archived.handover, archived
    people.admin.is_superuser = people.admin.is_staff = True
    people.admin.save()
    page = login(people.admin).get(reverse("admin:handover_archiveddocument_change", args=[doc.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert reverse("handover:archive_download", args=[h.pk]) in body
    assert settings.MEDIA_URL not in body
