"""The final approval answers at once: the signed confirmation is made after it, in the background
(Celery, or a thread of the process with no broker), once, and the pages show how far it got."""

import re
import shutil
import threading
import time

import pytest
from django.db import connection, connections
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.tests.factories import DEFAULT_PASSWORD
from accounts.tokens import api_token_create
from handover import pdf, seal, tasks
from handover.models import ArchivedDocument, ArchiveJob, ArchiveJobState, Event, Handover, SignaturePurpose, State
from handover.services import archive
from handover.services.background import InProcess
from handover.tests.conftest import poppler
from tests.walk import advance_to, sign_missing

REAL_RENDER = pdf.render_confirmation


def _at_final_approval(handover):
    h = advance_to(handover, State.REPORT_APPROVAL)
    sign_missing(h, SignaturePurpose.CHECKLIST)
    return Handover.objects.get(pk=h.pk)


def _approve_on_the_page(browser, h, **extra):
    return browser.post(
        reverse("handover:transition", args=[h.pk, "approve_report"]),
        {"method": "typed", "typed_name": "赵经理", "password": DEFAULT_PASSWORD, "version": h.version},
        **extra,
    )


def _stored(doc) -> bytes:
    with doc.file.open("rb") as f:
        return f.read()


# ---------------------------------------------------------------------------------------
# Not in the request


def test_the_final_approval_answers_without_printing_and_the_job_prints_after(
    handover, people, sealed, login, monkeypatch, django_capture_on_commit_callbacks
):
    h = _at_final_approval(handover)
    rendered = []
    monkeypatch.setattr(pdf, "render_confirmation", lambda *a, **k: rendered.append(1) or REAL_RENDER(*a, **k))
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        response = _approve_on_the_page(login(people.manager), h)
    # The answer came, the handover is completed, its job is written, and nothing was printed.
    assert response.status_code == 302
    assert Handover.objects.get(pk=h.pk).state == State.COMPLETED
    assert ArchiveJob.objects.get(handover=h).state == ArchiveJobState.PENDING
    assert rendered == [] and not ArchivedDocument.objects.exists()
    # After the commit: handed to this process's archive thread (no broker here), which prints it.
    with django_capture_on_commit_callbacks(execute=True):
        for callback in after_commit:
            callback()
    assert rendered == [1]
    doc = ArchivedDocument.objects.get(handover=h)
    job = ArchiveJob.objects.get(handover=h)
    assert job.state == ArchiveJobState.DONE and job.attempts == 1 and doc.sealed


def test_a_failing_print_does_not_fail_the_approval_and_hr_tries_again(
    handover, people, sealed, login, monkeypatch, django_capture_on_commit_callbacks
):
    h = _at_final_approval(handover)

    def broken(*args, **kwargs):
        raise RuntimeError("the printer caught fire")

    monkeypatch.setattr(pdf, "render_confirmation", broken)
    with django_capture_on_commit_callbacks(execute=True):
        response = _approve_on_the_page(login(people.manager), h)
    assert response.status_code == 302 and Handover.objects.get(pk=h.pk).state == State.COMPLETED
    job = ArchiveJob.objects.get(handover=h)
    assert job.state == ArchiveJobState.FAILED and job.attempts == 1 and job.error
    assert "printer" not in job.error  # no internals on the page
    # HR sees the failure with its retry, on the handover page and in the polled status.
    hr = login(people.hr)
    status = hr.get(reverse("handover:archive_status", args=[h.pk]))
    content = status.content.decode()
    assert status.status_code == 200 and 'data-archive-state="failed"' in content and "archive-now" in content
    assert "data-poll-url" not in content  # a failure is not polled
    detail = hr.get(reverse("handover:detail", args=[h.pk])).content.decode()
    assert 'data-archive-state="failed"' in detail
    # The printer mended, HR asks again; the answer comes first, the archive after.
    monkeypatch.setattr(pdf, "render_confirmation", REAL_RENDER)
    back = reverse("handover:detail", args=[h.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = hr.post(reverse("handover:archive_now", args=[h.pk]), {"next": back})
        assert response.status_code == 302 and response.url == back
        assert ArchiveJob.objects.get(handover=h).state == ArchiveJobState.PENDING
        assert not ArchivedDocument.objects.exists()
    assert ArchiveJob.objects.get(handover=h).state == ArchiveJobState.DONE
    content = hr.get(reverse("handover:archive_status", args=[h.pk])).content.decode()
    assert 'data-archive-state="ready"' in content
    assert reverse("handover:archive_download", args=[h.pk]) in content


def test_a_retry_never_leads_elsewhere(handover, people, sealed, login):
    h = advance_to(handover, State.COMPLETED)
    response = login(people.hr).post(reverse("handover:archive_now", args=[h.pk]), {"next": "https://evil.example/"})
    assert response.status_code == 302 and response.url == reverse("handover:archive")


def test_with_a_broker_the_job_goes_to_celery_and_not_to_the_thread(
    handover, people, sealed, monkeypatch, django_capture_on_commit_callbacks
):
    h = _at_final_approval(handover)
    sent, threaded = [], []
    monkeypatch.setattr(archive, "_broker_eager", [lambda: False])
    monkeypatch.setattr(tasks.archive_handover, "delay", lambda handover_id: sent.append(handover_id))
    monkeypatch.setattr(archive, "_run_in_process", [threaded.append])
    with django_capture_on_commit_callbacks(execute=True):
        archive.queue_archive_after_commit(h, people.manager)
    assert sent == [h.pk] and threaded == []

    # The broker down: the thread takes it, and the approval is none the wiser.
    def broker_down(*args, **kwargs):
        raise ConnectionError("the broker is down")

    monkeypatch.setattr(tasks.archive_handover, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        archive.queue_archive_after_commit(h, people.manager)
    assert threaded == [h.pk]


def test_without_a_broker_celery_is_not_asked_to_run_it_eagerly(
    handover, people, sealed, monkeypatch, django_capture_on_commit_callbacks, settings
):
    # No Redis: Celery would run the task inside the caller; the archive thread gets it instead.
    assert tasks.archive_handover.app.conf.task_always_eager
    h = _at_final_approval(handover)
    delayed = []
    monkeypatch.setattr(tasks.archive_handover, "delay", lambda handover_id: delayed.append(handover_id))
    threaded = []
    monkeypatch.setattr(archive, "_run_in_process", [threaded.append])
    with django_capture_on_commit_callbacks(execute=True):
        archive.queue_archive_after_commit(h, people.manager)
    assert delayed == [] and threaded == [h.pk]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_slow_print_does_not_hold_the_final_approval(handover, people, sealed, login, monkeypatch):
    """The real thing: a committed approval, the real archive thread, a print that takes seconds."""
    h = _at_final_approval(handover)
    started = threading.Event()

    def slow(*args, **kwargs):
        started.set()
        time.sleep(3)
        return REAL_RENDER(*args, **kwargs)

    monkeypatch.setattr(pdf, "render_confirmation", slow)
    browser = login(people.manager)
    began = time.monotonic()
    response = _approve_on_the_page(browser, h)
    took = time.monotonic() - began
    assert response.status_code == 302 and Handover.objects.get(pk=h.pk).state == State.COMPLETED
    assert took < 2.5, f"the approval took {took:.1f} s"
    assert not ArchivedDocument.objects.filter(handover=h).exists()
    # HR polls: being made …
    hr = login(people.hr)
    content = hr.get(reverse("handover:archive_status", args=[h.pk])).content.decode()
    assert 'data-archive-state="pending"' in content and "data-poll-url" in content
    assert started.wait(10), "the archive thread never started"
    # … then ready.
    assert archive.in_process.wait(90)
    doc = ArchivedDocument.objects.get(handover=h)
    assert ArchiveJob.objects.get(handover=h).state == ArchiveJobState.DONE
    assert _stored(doc).startswith(b"%PDF-")
    content = hr.get(reverse("handover:archive_status", args=[h.pk])).content.decode()
    assert 'data-archive-state="ready"' in content
    connections.close_all()


# ---------------------------------------------------------------------------------------
# Once, whoever makes it


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need a server database")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_thread_and_a_worker_at_once_make_one_archive(handover, people, sealed, monkeypatch):
    monkeypatch.setattr(archive, "_run_in_process", [lambda handover_id: None])  # the two below, only
    h = advance_to(handover, State.COMPLETED)
    barrier = threading.Barrier(2)
    real_seal = seal.seal_pdf

    def seal_together(*args, **kwargs):
        sealed_pdf = real_seal(*args, **kwargs)
        barrier.wait(timeout=60)
        return sealed_pdf

    monkeypatch.setattr(seal, "seal_pdf", seal_together)
    raised = []

    def run(target):
        try:
            target()
        except Exception as exc:  # noqa: BLE001 - any failure in a thread is a failure of the test
            raised.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(lambda: archive.archive_job_run(handover_id=h.pk),)),
        threading.Thread(target=run, args=(lambda: tasks.archive_handover.run(h.pk),)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert raised == [] and not barrier.broken, "the two did not both print"
    assert ArchivedDocument.objects.filter(handover=h).count() == 1
    assert Event.objects.filter(handover=h, kind="archived").count() == 1
    job = ArchiveJob.objects.get(handover=h)
    assert job.state == ArchiveJobState.DONE and job.attempts == 2


def test_the_archive_thread_takes_one_handover_once_at_a_time(monkeypatch):
    ran = []
    gate = threading.Event()

    def run(handover_id):
        gate.wait(10)
        ran.append(handover_id)

    worker = InProcess(run, "archive")
    for handover_id in (7, 7, 8, 7):
        worker.submit(handover_id)
    gate.set()
    assert worker.wait(10)
    assert sorted(ran) == [7, 8]


# ---------------------------------------------------------------------------------------
# Who sees the progress: those who may download the archive


def _api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user)[0]}")
    return client


@pytest.mark.parametrize("who", ["departing", "receiver", "supervisor", "witness", "manager", "other_sales"])
def test_only_those_who_download_the_archive_see_its_progress(handover, people, login, who):
    h = advance_to(handover, State.COMPLETED)
    user = getattr(people, who)
    assert login(user).get(reverse("handover:archive_status", args=[h.pk])).status_code == 403
    assert login(user).post(reverse("handover:archive_now", args=[h.pk])).status_code == 403
    assert _api(user).get(reverse("api:archive-status", args=[h.pk])).status_code in (403, 404)
    response = _api(user).post(reverse("api:archive-retry", args=[h.pk]), HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code in (403, 404)
    detail = login(user).get(reverse("handover:detail", args=[h.pk])).content.decode()
    assert "data-archive-state" not in detail


def test_hr_follows_the_progress_on_the_page_and_through_the_api(
    handover, people, login, sealed, django_capture_on_commit_callbacks
):
    h = advance_to(handover, State.COMPLETED)  # its archive never asked for
    api = _api(people.hr)
    response = api.get(reverse("api:archive-status", args=[h.pk]))
    assert response.status_code == 200 and response.json()["progress"] == "pending", response.json()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(reverse("api:archive-retry", args=[h.pk]), HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 202
    body = api.get(reverse("api:archive-status", args=[h.pk])).json()
    assert body["progress"] == "ready" and body["download_url"] == reverse("api:archive-download", args=[h.pk])
    assert body["verification_code"] == ArchivedDocument.objects.get(handover=h).verification_code
    # The token opens it (the page's URL would send a token client to the login page).
    assert api.get(body["download_url"])["Content-Type"] == "application/pdf"
    # The archive page shows it ready too.
    page = login(people.hr).get(reverse("handover:archive")).content.decode()
    assert body["verification_code"] in page


def test_an_open_handover_has_no_archive_status(handover, people, login):
    assert login(people.hr).get(reverse("handover:archive_status", args=[handover.pk])).status_code == 404
    response = _api(people.hr).get(reverse("api:archive-status", args=[handover.pk]))
    assert response.status_code in (404, 409)


def test_the_pending_partial_polls_through_app_js_with_no_inline_script(handover, people, login):
    h = advance_to(handover, State.COMPLETED)
    page = login(people.hr).get(reverse("handover:detail", args=[h.pk])).content.decode()
    status_url = reverse("handover:archive_status", args=[h.pk])
    assert re.search(rf'data-archive-state="pending" data-poll-url="{re.escape(status_url)}\?next=', page)
    assert "正在生成" in page or "Making the signed confirmation" in page
    assert "<script>" not in page


# ---------------------------------------------------------------------------------------
# The printed verification link: the site's real address


def _pdf_text(doc) -> str:
    return re.sub(r"\s+", "", poppler("pdftotext", "-", "-", data=_stored(doc)))


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (poppler-utils) is not installed")
def test_the_printed_link_is_at_site_url(handover, people, sealed, settings, django_capture_on_commit_callbacks):
    settings.SITE_URL = "https://jiaojie.kerui-med.cn/"
    h = advance_to(handover, State.COMPLETED)
    with django_capture_on_commit_callbacks(execute=True):
        archive.queue_archive_after_commit(h, people.manager)
    doc = ArchivedDocument.objects.get(handover=h)
    assert f"https://jiaojie.kerui-med.cn/handovers/verify/?code={doc.verification_code}" in _pdf_text(doc)


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (poppler-utils) is not installed")
def test_without_site_url_the_link_is_at_the_address_the_approval_came_from(
    handover, people, sealed, settings, login, django_capture_on_commit_callbacks
):
    settings.SITE_URL = ""
    settings.ALLOWED_HOSTS = ["crm.kerui-med.cn", "testserver"]
    h = _at_final_approval(handover)
    with django_capture_on_commit_callbacks(execute=True):
        response = _approve_on_the_page(login(people.manager), h, HTTP_HOST="crm.kerui-med.cn", secure=True)
    assert response.status_code == 302
    doc = ArchivedDocument.objects.get(handover=h)
    text = _pdf_text(doc)
    assert f"https://crm.kerui-med.cn/handovers/verify/?code={doc.verification_code}" in text
    assert "127.0.0.1" not in text and "example.com" not in text and "testserver" not in text
