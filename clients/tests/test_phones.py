"""Phone numbers are links a phone can dial, on every page that shows one."""

import pytest
from django.urls import reverse

from clients.phones import tel_href
from clients.tests.factories import ClientFactory, ContactFactory


def test_a_number_becomes_its_digits_with_a_leading_plus_kept():
    assert tel_href("138 0013 8000") == "tel:13800138000"
    assert tel_href("+86 (21) 5555-0101") == "tel:+862155550101"
    assert tel_href("无") == ""


@pytest.mark.django_db
def test_the_client_page_links_each_contact_phone(people, login):
    client = ClientFactory(owner=people.departing)
    ContactFactory(client=client, phone="021-5555 0101")
    page = login(people.departing).get(reverse("clients:detail", args=[client.pk])).content.decode()
    assert '<a href="tel:02155550101" class="tel">021-5555 0101</a>' in page
