"""The handover shows money the one way (¥1,234,567.00): its page, its checklist and its prints.

The API's figures stay numbers (Decimal strings); only what is shown as text is formatted.
"""

from django.urls import reverse
from rest_framework.test import APIClient

from handover import pdf
from handover.models import ChecklistItem, ItemKind, State
from tests.walk import advance_to

from .test_api import url as api_url
from .test_pdf import flat, needs_poppler, pdf_text

# The book (conftest): 10 clients, each one contract of 100,000.00 (40,000.00 paid) with one
# receivable of 30,000.00 outstanding, and one open deal of 50,000.00.


def test_the_handover_page_shows_its_figures_in_the_one_money_format(handover, people, login):
    h = advance_to(handover, State.REPORT)
    page = login(people.departing).get(reverse("handover:detail", args=[h.pk])).content.decode()
    assert "¥1,000,000.00" in page  # contract value
    assert "¥300,000.00" in page  # outstanding
    assert "1000000.00" not in page and "300000.00" not in page


def test_the_api_keeps_the_figures_as_numbers(handover, people):
    h = advance_to(handover, State.REPORT)
    client = APIClient()
    client.force_authenticate(people.departing)
    figures = client.get(api_url(h, "report/")).json()["live_figures"]
    assert figures["outstanding"] == "300000.00"
    assert figures["contract_value"] == "1000000.00"


def test_the_checklist_names_amounts_in_the_one_money_format(handover):
    contract = ChecklistItem.objects.filter(handover=handover, kind=ItemKind.CONTRACT).first()
    receivable = ChecklistItem.objects.filter(handover=handover, kind=ItemKind.RECEIVABLE).first()
    assert contract.description == "金额¥100,000.00，已付¥40,000.00"
    assert receivable.description == "未收¥30,000.00"


@needs_poppler
def test_the_printed_plan_shows_amounts_in_the_one_money_format(handover):
    text = flat(pdf_text(pdf.render_stage_list(handover, "plan")))
    assert "¥100,000.00" in text and "¥30,000.00" in text and "¥50,000.00" in text
    assert "100000.00" not in text
