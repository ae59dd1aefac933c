"""Printed documents: the signed confirmation (《客户交接确认书》) and the per-stage lists.

Rendered with WeasyPrint from templates/pdf/. Everything a person typed reaches the HTML
through Django's autoescaping, so it is text, never markup. The URL fetcher is ours and
refuses everything but the app's own static files and the images this module made for the
document (the QR code and the signature PNGs, registered under asset: URLs): no file:
URL, no remote host, no data: URL it did not register.

Chinese: the documents ask for Noto Sans CJK SC, which scripts/setup.sh installs
(fonts-noto-cjk) and fontconfig finds; WeasyPrint embeds the subset of glyphs used, cut
by HarfBuzz (libharfbuzz-subset0). Long tables use table-layout: fixed, so WeasyPrint does
not measure every cell twice.
"""

import dataclasses
import datetime
import functools
import gc
import hashlib
import io
import mimetypes
import re
from collections import defaultdict
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from clients.models import OpportunityStage
from clients.money import format_money
from clients.selectors import open_business_by_client

from . import origin, signing
from .choices import RiskLevel
from .models import (
    CallResult,
    ChecklistItem,
    Handover,
    HandoverClient,
    ItemKind,
    ItemStatus,
    PhoneCheck,
    Signature,
    SignaturePurpose,
    Visit,
    VisitMode,
)
from .selectors import figure_rows
from .selectors.risk import by_risk, client_risks, rule_text

STAGE_LISTS = ("plan", "materials", "visits")

# What the fetcher may hand WeasyPrint from the static files: stylesheets, fonts and images.
STATIC_TYPES = {".css", ".otf", ".ttf", ".woff", ".woff2", ".png", ".svg"}


class FetchRefused(ValueError):
    """The document asked for something the fetcher does not serve."""


class RestrictedFetcher(URLFetcher):
    """Serves the app's static files (static:PATH) and the assets registered for this document.

    Everything else is refused before any I/O: file: URLs, http(s) to any host, data: URLs,
    and static paths that leave the static directories. `requested` and `refused` record what
    was asked, for the tests.
    """

    def __init__(self):
        # No protocol is allowed to reach urllib: fetch() below answers everything itself.
        super().__init__(timeout=2, allowed_protocols=set(), allow_redirects=False)
        self.assets: dict[str, tuple[bytes, str]] = {}
        self.requested: list[str] = []
        self.refused: list[str] = []

    def register(self, data: bytes, mime_type: str) -> str:
        url = f"asset:{hashlib.sha256(data).hexdigest()[:32]}"
        self.assets[url] = (data, mime_type)
        return url

    def fetch(self, url, headers=None):
        self.requested.append(url)
        if url in self.assets:
            data, mime_type = self.assets[url]
            return URLFetcherResponse(url, body=data, headers={"Content-Type": mime_type})
        if url.startswith("static:"):
            path = static_path(url.removeprefix("static:"))
            if path is not None:
                mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": mime_type})
        self.refused.append(url)
        raise FetchRefused(f"not fetched: {url[:200]}")


def static_path(relative: str) -> Path | None:
    """The file of one of the app's static files, or None for anything else."""
    if not relative or relative.startswith(("/", "\\")) or "\\" in relative or ".." in relative.split("/"):
        return None
    if Path(relative).suffix.lower() not in STATIC_TYPES:
        return None
    try:
        found = finders.find(relative)
    except Exception:  # noqa: BLE001 - a suspicious path is simply not found
        return None
    if not found:
        return None
    path = Path(found).resolve()
    roots = [Path(d).resolve() for d in settings.STATICFILES_DIRS]
    roots += [Path(p).resolve() for p in _app_static_dirs()]
    if not any(path.is_relative_to(root) for root in roots) or not path.is_file():
        return None
    return path


def _app_static_dirs() -> list[str]:
    return [str(Path(app.path) / "static") for app in apps.get_app_configs() if (Path(app.path) / "static").is_dir()]


def _in_company_language(function):
    """Documents are printed in the company's language and time zone, whoever asks for them."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with translation.override(settings.LANGUAGE_CODE), timezone.override(settings.TIME_ZONE):
            return function(*args, **kwargs)

    return wrapper


@_in_company_language
def render_pdf(
    template: str, context: dict, fetcher: RestrictedFetcher | None = None, *, title: str, footer: str | None
) -> bytes:
    """The PDF of a template under templates/pdf/; title and footer run on every page.

    footer None: a part of a document, its footer and page numbers laid over it once the parts
    are joined (number_pages)."""
    fetcher = fetcher or RestrictedFetcher()
    return write_html(render_html(template, context, title=title, footer=footer), fetcher)


def render_html(template: str, context: dict, *, title: str, footer: str | None) -> str:
    h = context["h"]
    context = {
        **context,
        "title": str(title),
        "head_css": _css_string(f"{settings.COMPANY_NAME} · {h.number} · {title}"),
        **(_footer_css(footer) if footer is not None else {"foot_css": '""', "page_counter_css": '""'}),
    }
    return render_to_string(template, context)


def _footer_css(footer: str) -> dict:
    return {"foot_css": _css_string(str(footer)), **_page_labels()}


def write_html(html: str, fetcher: RestrictedFetcher | None = None) -> bytes:
    fetcher = fetcher or RestrictedFetcher()
    # No base URL: a relative link means nothing, so nothing is fetched for it.
    # WeasyPrint makes hundreds of thousands of short-lived objects; in a process holding a
    # large heap (a worker, the web server) the garbage collector's full passes over that heap
    # cost more than the layout itself. Reference counting frees the document afterwards.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf()
    finally:
        if gc_was_enabled:
            gc.enable()


def _css_string(text: str) -> str:
    """A CSS string literal; safe inside <style> too (no quote, backslash or angle bracket survives)."""
    escaped = "".join(c if c.isalnum() or c in " ·/-_:.，、" else f"\\{ord(c):x} " for c in text)
    return f'"{escaped}"'


def _page_labels() -> dict:
    # "Page N of M" as a CSS content value: the translated words around the two counters.
    marker = "\x00"
    text = _("Page %(page)s of %(pages)s") % {"page": marker, "pages": marker}
    parts = text.split(marker)
    if len(parts) != 3:
        parts = ["", " / ", ""]
    counter = f"{_css_string(parts[0])} counter(page) {_css_string(parts[1])} counter(pages) {_css_string(parts[2])}"
    return {"page_counter_css": counter}


# ---------------------------------------------------------------------------------------
# What the documents show


@dataclasses.dataclass
class ClientLine:
    number: int
    name: str
    credit_code: str
    grade: str
    receiver: str
    contracts: str = ""
    receivables: str = ""
    deals: str = ""
    materials: str = ""
    plan: str = ""
    visit: str = ""
    call: str = ""
    in_sample: bool = False


@dataclasses.dataclass
class SignatureBlock:
    role: str
    name: str
    purpose: str
    signed_at: datetime.datetime | None = None
    image_url: str = ""
    typed_name: str = ""
    method: str = ""
    sha256: str = ""
    valid: bool = True


def _people(h: Handover) -> list[tuple[str, str]]:
    return [
        (_("departing salesperson"), h.departing.display_name),
        (_("default receiver"), h.receiver.display_name),
        (_("direct supervisor"), h.supervisor.display_name),
        (_("witness"), h.witness.display_name),
        (_("manager in charge"), h.manager.display_name),
    ]


def _dates(h: Handover) -> list[tuple[str, str]]:
    local = timezone.localtime
    rows = [
        (_("reason"), h.get_reason_display()),
        (_("notice date"), f"{h.notice_date:%Y-%m-%d}"),
        (_("last working day"), f"{h.last_working_day:%Y-%m-%d}"),
        (_("started at"), f"{local(h.started_at):%Y-%m-%d %H:%M}"),
    ]
    if h.completed_at:
        rows.append((_("completed at"), f"{local(h.completed_at):%Y-%m-%d %H:%M}"))
    return rows


def _load(h: Handover) -> dict:
    """Every row the documents print, in a fixed number of queries whatever the size of the book."""
    hcs = list(
        HandoverClient.objects.filter(handover=h)
        .select_related("client", "receiver")
        .order_by("grade", "client__name", "id")
    )
    business = open_business_by_client(hc.client_id for hc in hcs)
    items = list(ChecklistItem.objects.filter(handover=h).select_related("receiver").order_by("order", "id"))
    visits = list(Visit.objects.filter(handover_client__handover=h).order_by("visited_on", "id"))
    calls = list(PhoneCheck.objects.filter(handover_client__handover=h).order_by("called_at", "id"))
    report = getattr(h, "report", None)
    signatures = list(
        Signature.objects.filter(handover=h, superseded_at__isnull=True).select_related("signer").order_by("pk")
    )
    return {
        "hcs": hcs,
        "contracts": business.contracts,
        "receivables": business.receivables,
        "deals": business.deals,
        "items": items,
        "visits": visits,
        "calls": calls,
        "report": report,
        "signatures": signatures,
    }


def _by_client(rows) -> defaultdict[int, list]:
    """Rows of the handover grouped by their handover client, in the order loaded."""
    grouped = defaultdict(list)
    for row in rows:
        grouped[row.handover_client_id].append(row)
    return grouped


def _client_lines(h: Handover, data: dict, today: datetime.date) -> list[ClientLine]:
    """One row per client, each cell a few short lines: the 500-client confirmation must print in
    seconds, and WeasyPrint's time goes by the number of cells and lines."""
    stages = {k: str(v) for k, v in OpportunityStage.choices}
    modes = {k: str(v) for k, v in VisitMode.choices}
    results = {k: str(v) for k, v in CallResult.choices}
    t_paid, t_done = _("paid"), _("performed")
    t_overdue, t_due = _("overdue %(days)d days"), _("due %(date)s")
    t_confirmed, t_concerns = _("%(confirmed)d/%(items)d confirmed"), _("concerns")
    t_not_sampled = _("not sampled")
    t_pair, t_with_note = _("%(label)s: %(value)s"), _("%(text)s (%(note)s)")
    t_status, t_risks, t_next, t_planned = _("current status"), _("risks"), _("next steps"), _("planned visit date")
    items_by_client = _by_client(data["items"])
    # Visits and calls set aside when the spot-check sent a client back no longer count.
    visits_by_client = _by_client(v for v in data["visits"] if not v.superseded)
    calls_by_client = _by_client(c for c in data["calls"] if not c.superseded)

    lines = []
    for n, hc in enumerate(data["hcs"], start=1):
        cid = hc.client_id
        contracts = [
            f"{c.number} {format_money(c.amount)} {t_done} {c.performance_progress}% {t_paid} {c.payment_progress}%"
            for c in data["contracts"][cid]
        ]
        receivables = []
        for r in data["receivables"][cid]:
            overdue = r.overdue_days(today)
            when = t_overdue % {"days": overdue} if overdue > 0 else t_due % {"date": f"{r.due_date:%Y-%m-%d}"}
            receivables.append(f"{format_money(r.outstanding)} {when}")
        deals = [
            f"{o.name} {stages.get(o.stage, o.stage)} {format_money(o.expected_amount)}" for o in data["deals"][cid]
        ]
        items = items_by_client[hc.pk]
        confirmed = sum(1 for i in items if i.status == ItemStatus.CONFIRMED)
        visit_lines = []
        for v in visits_by_client[hc.pk]:
            line = t_pair % {
                "label": f"{v.visited_on:%Y-%m-%d} {modes.get(v.mode, v.mode)} {v.contact_met}",
                "value": v.outcome,
            }
            if v.concerns:
                line = t_with_note % {"text": line, "note": t_pair % {"label": t_concerns, "value": v.concerns}}
            visit_lines.append(line)
        latest = calls_by_client[hc.pk][-1:]
        if not hc.in_sample:
            call = t_not_sampled
        elif latest:
            call = (
                f"{results.get(latest[0].result, latest[0].result)}\n{timezone.localtime(latest[0].called_at):%Y-%m-%d}"
            )
        else:
            call = "—"
        lines.append(
            ClientLine(
                number=n,
                name=hc.client.name,
                credit_code=hc.client.credit_code,
                grade=hc.grade,
                receiver=hc.receiver.display_name,
                contracts="\n".join(contracts) or "—",
                receivables="\n".join(receivables) or "—",
                deals="\n".join(deals) or "—",
                materials=t_confirmed % {"confirmed": confirmed, "items": len(items)},
                plan="\n".join(
                    part
                    for part in (
                        t_pair % {"label": t_status, "value": hc.current_status} if hc.current_status else "",
                        t_pair % {"label": t_risks, "value": hc.risks} if hc.risks else "",
                        t_pair % {"label": t_next, "value": hc.next_steps} if hc.next_steps else "",
                        t_pair % {"label": t_planned, "value": f"{hc.planned_visit_on:%Y-%m-%d}"}
                        if hc.planned_visit_on
                        else "",
                    )
                    if part
                ),
                visit="\n".join(visit_lines) or "—",
                call=call,
                in_sample=hc.in_sample,
            )
        )
    return lines


def _checker(h: Handover, data: dict) -> signing.SignatureChecker:
    """Whether each signature still holds, checked on the rows the document prints."""
    items = [{f: getattr(i, "pk" if f == "pk" else f) for f in signing.ITEM_FIELDS} for i in data["items"]]
    content = signing.SignedContent(
        h, clients=data["hcs"], items=items, visits=data["visits"], calls=data["calls"], report=data["report"]
    )
    return signing.SignatureChecker(h, content, signatures=data["signatures"])


def _signed_block(
    sig: Signature, *, role: str, purpose: str, checker: signing.SignatureChecker, fetcher: RestrictedFetcher
) -> SignatureBlock:
    """A given signature as the documents print it: who, when, the image or typed name, whether it holds."""
    image = bytes(sig.image or b"")
    return SignatureBlock(
        role=role,
        name=sig.signer.display_name,
        purpose=purpose,
        signed_at=sig.signed_at,
        image_url=fetcher.register(image, "image/png") if image else "",
        typed_name=sig.typed_name,
        method=sig.method,
        sha256=sig.content_sha256,
        valid=checker.is_valid(sig),
    )


def _signature_blocks(h: Handover, data: dict, fetcher: RestrictedFetcher) -> dict:
    checker = _checker(h, data)
    purposes = {k: str(v) for k, v in SignaturePurpose.choices}

    def block(sig: Signature | None, role: str, name: str, purpose: str) -> SignatureBlock:
        if sig is None:
            return SignatureBlock(role=role, name=name, purpose=purposes[purpose])
        return _signed_block(sig, role=role, purpose=purposes[purpose], checker=checker, fetcher=fetcher)

    names = {hc.receiver_id: hc.receiver.display_name for hc in data["hcs"]}
    names.update({i.receiver_id: i.receiver.display_name for i in data["items"]})
    receivers = sorted(names, key=lambda pk: (pk != h.receiver_id, names[pk]))
    checklist = SignaturePurpose.CHECKLIST
    parties = [block(checker.current(checklist, h.departing_id), _("Departing"), h.departing.display_name, checklist)]
    parties += [block(checker.current(checklist, pk), _("Receiver"), names[pk], checklist) for pk in receivers]
    parties.append(block(checker.current(checklist, h.witness_id), _("Witness"), h.witness.display_name, checklist))
    approvals = [
        block(
            checker.current(SignaturePurpose.REPORT_REVIEW, h.supervisor_id),
            _("Direct supervisor"),
            h.supervisor.display_name,
            SignaturePurpose.REPORT_REVIEW,
        ),
        block(
            checker.current(SignaturePurpose.REPORT_APPROVAL, h.manager_id),
            _("Manager in charge"),
            h.manager.display_name,
            SignaturePurpose.REPORT_APPROVAL,
        ),
    ]
    order = [p.value for p in SignaturePurpose]
    trail = [
        SignatureBlock(
            role="",
            name=sig.signer.display_name,
            purpose=purposes[sig.purpose],
            signed_at=sig.signed_at,
            method=sig.get_method_display(),
            sha256=sig.content_sha256,
            valid=checker.is_valid(sig),
        )
        for sig in sorted(data["signatures"], key=lambda s: (s.signed_at, order.index(s.purpose), s.pk))
    ]
    return {"parties": parties, "approvals": approvals, "trail": trail}


def _item_rows(data: dict, *, standard_only: bool = False) -> list[dict]:
    """The checklist items as both documents print them; standard_only keeps those of no client."""
    kinds = {k: str(v) for k, v in ItemKind.choices}
    statuses = {k: str(v) for k, v in ItemStatus.choices}
    client_name = {hc.pk: hc.client.name for hc in data["hcs"]}
    return [
        {
            "client": client_name.get(i.handover_client_id, "—"),
            "kind": kinds.get(i.kind, i.kind),
            "title": i.title,
            "description": i.description,
            "storage_location": i.storage_location,
            "receiver": i.receiver.display_name,
            "status": statuses.get(i.status, i.status),
            "confirmed_at": i.confirmed_at,
            "dispute_reason": i.dispute_reason,
        }
        for i in data["items"]
        if not standard_only or i.handover_client_id is None
    ]


def verification_url(code: str, site_url: str = "") -> str:
    """The printed link to the verification page: at SITE_URL, else at the address the handover was
    completed at (site_url, which its archive job kept), else that of the request being answered."""
    path = reverse("handover:verify") + f"?code={code}"
    return origin.site_url(site_url) + path


def qr_svg(text: str) -> bytes:
    # Loaded when a confirmation is printed, not in every process that imports this module.
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    return image.to_string(encoding="unicode").encode()


@dataclasses.dataclass(frozen=True)
class RiskLine:
    name: str
    grade: str
    receiver: str
    level: str
    level_display: str
    reasons: str


def _risk_lines(h: Handover, data: dict, today: datetime.date) -> list[RiskLine]:
    """The clients at relationship risk as the handover ends (selectors/risk.py), high first."""
    risks = client_risks(h, today=today)
    lines = [
        RiskLine(
            hc.client.name,
            hc.grade,
            hc.receiver.display_name,
            risks[hc.pk].level,
            risks[hc.pk].level_display,
            "；".join(risks[hc.pk].reasons),
        )
        for hc in data["hcs"]
        if hc.pk in risks and risks[hc.pk].level != RiskLevel.LOW
    ]
    return by_risk(lines, lambda line: line.level)


def _base_context(h: Handover) -> dict:
    facts = _people(h) + _dates(h)
    return {
        "h": h,
        "company": settings.COMPANY_NAME,
        # Three label-value pairs a row.
        "facts": [facts[i : i + 3] for i in range(0, len(facts), 3)],
        "printed_at": timezone.localtime(),
    }


def _handover(h: Handover | int) -> Handover:
    pk = h.pk if isinstance(h, Handover) else h
    return Handover.objects.select_related(
        "departing__department", "receiver", "supervisor", "witness", "manager", "started_by", "report"
    ).get(pk=pk)


def confirmation_context(
    h: Handover, *, verification_code: str, fetcher: RestrictedFetcher, site_url: str = ""
) -> dict:
    h = _handover(h)
    today = timezone.localdate(h.completed_at) if h.completed_at else timezone.localdate()
    data = _load(h)
    report = data["report"]
    return {
        **_base_context(h),
        "clients": _client_lines(h, data, today),
        "standard_items": _item_rows(data, standard_only=True),
        "report": report,
        "figures": figure_rows(report.figures if report else {}),
        "signatures": _signature_blocks(h, data, fetcher),
        "risks": _risk_lines(h, data, today),
        "risk_rule": rule_text(),
        "verification_code": verification_code,
        "verification_url": verification_url(verification_code, site_url),
        "qr_url": fetcher.register(qr_svg(verification_url(verification_code, site_url)), "image/svg+xml"),
    }


CONFIRMATION = "pdf/confirmation.html"
ANNEX = "pdf/confirmation_annex.html"


def _confirmation_title() -> str:
    return _("Client handover confirmation")


def _confirmation_day(h: Handover) -> datetime.date:
    return timezone.localdate(h.completed_at) if h.completed_at else timezone.localdate()


def _annex_html(context: dict) -> str:
    return render_html(ANNEX, context, title=_confirmation_title(), footer=None)


@dataclasses.dataclass(frozen=True)
class Annex:
    """The confirmation's annex as printed: the SHA-256 of its HTML, and its PDF."""

    sha256: str
    pdf: bytes


@_in_company_language
def render_confirmation_annex(h: Handover | int) -> Annex:
    """The annex (the clients and the materials the checklist signatures vouch for), printed ahead.

    Once the three parties have signed the checklist, what it shows can no longer change: it is
    printed then, in the background, and the archive joins it after the cover it prints at the
    approval. The archive uses it only if the HTML it would print now is the same, so which path
    printed the annex never changes the document (a day's difference in how overdue a receivable
    is, say, prints it again)."""
    h = _handover(h)
    data = _load(h)
    context = {
        **_base_context(h),
        "clients": _client_lines(h, data, _confirmation_day(h)),
        "standard_items": _item_rows(data, standard_only=True),
    }
    html = _annex_html(context)
    return Annex(hashlib.sha256(html.encode()).hexdigest(), write_html(html))


@_in_company_language
def render_confirmation(
    h: Handover | int, *, verification_code: str, site_url: str = "", annex: Annex | None = None
) -> bytes:
    """The three-party signed confirmation of a completed handover, as archived: the cover (the
    people, the report, the signatures, the verification code), then the annex, numbered as one
    document with the verification code in every page's footer. `annex`: one printed ahead."""
    fetcher = RestrictedFetcher()
    context = confirmation_context(h, verification_code=verification_code, fetcher=fetcher, site_url=site_url)
    title = _confirmation_title()
    cover = render_html(CONFIRMATION, {**context, "client_count": len(context["clients"])}, title=title, footer=None)
    cover_pdf = write_html(cover, fetcher)
    annex_html = _annex_html(context)
    if annex is None or annex.sha256 != hashlib.sha256(annex_html.encode()).hexdigest():
        annex = Annex("", write_html(annex_html))
    footer = _("Verification code %(code)s") % {"code": verification_code}
    return number_pages([cover_pdf, annex.pdf], h=context["h"], title=title, footer=footer)


def number_pages(parts: list[bytes], *, h: Handover, title: str, footer: str) -> bytes:
    """The parts joined into one PDF, with the footer and "page N of M" laid over every page.

    The parts are printed without them (render_html(footer=None)); the footers are printed here as
    a document of as many empty pages, with the same page size and margins, and each of its pages
    is laid over the page of the same number."""
    from pypdf import PdfReader, PdfWriter

    readers = [PdfReader(io.BytesIO(part)) for part in parts]
    pages = [page for reader in readers for page in reader.pages]
    footers = render_html("pdf/footers.html", {"h": h, "pages": range(len(pages))}, title=title, footer=footer)
    overlay = PdfReader(io.BytesIO(write_html(footers))).pages
    if len(overlay) != len(pages):
        raise RuntimeError(f"the footers printed {len(overlay)} pages for {len(pages)}")
    writer = PdfWriter()
    for page, over in zip(pages, overlay, strict=True):
        writer.add_page(page).merge_page(over)
    if readers[0].metadata:
        writer.add_metadata(dict(readers[0].metadata))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@_in_company_language
def render_stage_list(h: Handover | int, stage: str) -> bytes:
    """The plan, the materials or the visits of a handover, printed on demand."""
    if stage not in STAGE_LISTS:
        raise ValueError(stage)
    fetcher = RestrictedFetcher()
    h = _handover(h)
    data = _load(h)
    titles = {
        "plan": _("Client handover plan"),
        "materials": _("Materials handover list"),
        "visits": _("Joint visits record"),
    }
    purposes = {"materials": SignaturePurpose.MATERIALS_RECEIPT, "visits": SignaturePurpose.VISITS}
    checker = _checker(h, data)
    stage_signatures = []
    if stage in purposes:
        label = dict(SignaturePurpose.choices)[purposes[stage]]
        for sig in data["signatures"]:
            if sig.purpose == purposes[stage]:
                stage_signatures.append(
                    _signed_block(sig, role=_("Receiver"), purpose=str(label), checker=checker, fetcher=fetcher)
                )
    modes = {k: str(v) for k, v in VisitMode.choices}
    client_name = {hc.pk: hc.client.name for hc in data["hcs"]}
    context = {
        **_base_context(h),
        "stage": stage,
        "title": titles[stage],
        "clients": _client_lines(h, data, timezone.localdate()),
        "items": _item_rows(data),
        "visits": [
            {
                "client": client_name.get(v.handover_client_id, ""),
                "visited_on": v.visited_on,
                "mode": modes.get(v.mode, v.mode),
                "contact_met": v.contact_met,
                "outcome": v.outcome,
                "concerns": v.concerns,
                "confirmed": v.is_confirmed,
                "superseded": v.superseded,
            }
            for v in data["visits"]
        ],
        "stage_signatures": stage_signatures,
    }
    footer = _("Printed at %(time)s") % {"time": f"{timezone.localtime():%Y-%m-%d %H:%M}"}
    return render_pdf("pdf/stage_list.html", context, fetcher, title=context["title"], footer=footer)


_FILENAME_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def filename(h: Handover, kind: str) -> str:
    return _FILENAME_SAFE.sub("-", f"{h.number}-{kind}.pdf")


def page_count(data: bytes) -> int:
    # pyHanko is heavy and only the benchmark and the tests count pages: loaded when asked.
    from pyhanko.pdf_utils.reader import PdfFileReader

    return int(PdfFileReader(io.BytesIO(data), strict=False).root["/Pages"]["/Count"])


# ---------------------------------------------------------------------------------------
# The client notice (客户告知函): one letter a page, each with the client's own answer link


@_in_company_language
def render_client_letters(h: Handover, letters: list[dict]) -> bytes:
    """The notices as letters. `letters`: per client, the texts of services.notice_texts (values and
    letter) and the link; each gets the link's QR code."""
    fetcher = RestrictedFetcher()
    for letter in letters:
        letter["qr_url"] = fetcher.register(qr_svg(letter["link"]), "image/svg+xml")
        letter["paragraphs"] = [p for p in re.split(r"\n\s*\n", letter.pop("text", "")) if p.strip()]
    context = {
        "h": h,
        "company": settings.COMPANY_NAME,
        "letters": letters,
        "printed_on": f"{timezone.localdate():%Y-%m-%d}",
    }
    title = _("Notice of your new contact")
    footer = _("Printed at %(time)s") % {"time": f"{timezone.localtime():%Y-%m-%d %H:%M}"}
    return render_pdf("pdf/client_notice.html", context, fetcher, title=title, footer=footer)
