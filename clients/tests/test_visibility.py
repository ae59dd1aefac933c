"""Who sees which clients, tested from the refused side on every page that lists them."""

import csv
import io

import pytest
from django.urls import reverse

from clients.tests.factories import ClientFactory, ContactFactory


@pytest.fixture
def book(people):
    """One client per salesperson: two in department east, one in north."""
    return {
        "departing": ClientFactory(owner=people.departing, name="华东甲客户有限公司"),
        "receiver": ClientFactory(owner=people.receiver, name="华东乙客户有限公司"),
        "north": ClientFactory(owner=people.other_sales, name="华北丙客户有限公司"),
    }


def listed_names(client, **params) -> set[str]:
    response = client.get(reverse("clients:list"), params)
    assert response.status_code == 200
    return {c.name for c in response.context["page"].object_list}


def exported_names(client, **params) -> set[str]:
    response = client.get(reverse("clients:export"), params)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return {row[0] for row in list(csv.reader(io.StringIO(text)))[1:]}


def names(book, *keys) -> set[str]:
    return {book[k].name for k in keys}


def test_a_salesperson_lists_only_their_own_clients(people, login, book):
    assert listed_names(login(people.departing)) == names(book, "departing")


def test_a_salesperson_gets_404_for_a_colleagues_client(people, login, book):
    client = login(people.departing)
    assert client.get(reverse("clients:detail", args=[book["receiver"].pk])).status_code == 404
    assert client.get(reverse("clients:detail", args=[book["north"].pk])).status_code == 404


def test_a_salesperson_opens_their_own_client(people, login, book):
    response = login(people.departing).get(reverse("clients:detail", args=[book["departing"].pk]))
    assert response.status_code == 200
    assert response.context["client"] == book["departing"]


def test_search_does_not_find_another_teams_client(people, login, book):
    ContactFactory(client=book["departing"], phone="13900001111")
    client = login(people.other_sales)
    assert listed_names(client, q="华东") == set()
    assert listed_names(client, q=book["departing"].credit_code) == set()
    assert listed_names(client, q="13900001111") == set()
    assert listed_names(client, q="华北") == names(book, "north")


def test_export_of_another_department_contains_none_of_ours(people, login, book):
    assert exported_names(login(people.other_sales)) == names(book, "north")


def test_export_of_a_salesperson_contains_only_their_clients(people, login, book):
    assert exported_names(login(people.departing)) == names(book, "departing")


def test_a_supervisor_sees_their_department_but_not_another(people, login, book):
    client = login(people.supervisor)
    assert listed_names(client) == names(book, "departing", "receiver")
    assert client.get(reverse("clients:detail", args=[book["receiver"].pk])).status_code == 200
    assert client.get(reverse("clients:detail", args=[book["north"].pk])).status_code == 404
    assert exported_names(client) == names(book, "departing", "receiver")


def test_the_other_supervisor_sees_only_north(people, login, book):
    client = login(people.other_supervisor)
    assert listed_names(client) == names(book, "north")
    assert client.get(reverse("clients:detail", args=[book["departing"].pk])).status_code == 404


def test_a_witness_without_clients_sees_none(people, login, book):
    client = login(people.witness)
    assert listed_names(client) == set()
    assert client.get(reverse("clients:detail", args=[book["departing"].pk])).status_code == 404


@pytest.mark.parametrize("role", ["manager", "hr", "admin"])
def test_managers_hr_and_administrators_see_every_client(people, login, book, role):
    client = login(getattr(people, role))
    assert listed_names(client) == names(book, "departing", "receiver", "north")
    for c in book.values():
        assert client.get(reverse("clients:detail", args=[c.pk])).status_code == 200


def test_owner_choices_offer_only_owners_the_viewer_can_see(people, login, book):
    response = login(people.supervisor).get(reverse("clients:list"))
    owners = set(response.context["form"].fields["owner"].queryset)
    assert owners == {people.departing, people.receiver}
    assert people.other_sales.display_name not in response.content.decode()


def test_filtering_by_an_invisible_owner_shows_nothing_of_theirs(people, login, book):
    assert listed_names(login(people.departing), owner=people.other_sales.pk) == names(book, "departing")
    assert exported_names(login(people.departing), owner=people.other_sales.pk) == names(book, "departing")


def test_industry_choices_come_only_from_visible_clients(people, login, book):
    book["north"].industry = "北方独有行业"
    book["north"].save()
    response = login(people.departing).get(reverse("clients:list"))
    assert "北方独有行业" not in dict(response.context["form"].fields["industry"].choices)
    assert "北方独有行业" not in response.content.decode()


def test_an_inactive_user_sees_nothing(people, client, book):
    people.departing.is_active = False
    people.departing.save()
    client.force_login(people.departing)
    response = client.get(reverse("clients:list"))
    # Django logs an inactive user out on the next request, so this is a login redirect.
    assert response.status_code == 302


@pytest.mark.parametrize(
    "url",
    [reverse("clients:list"), reverse("clients:export"), reverse("clients:detail", args=[1])],
)
def test_anonymous_is_sent_to_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
