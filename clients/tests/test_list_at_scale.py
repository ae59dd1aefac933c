"""What keeps the client list fast on a large book: no joins in the visibility, a capped count."""

import pytest
from django.urls import reverse

from clients import filters
from clients.selectors import clients_visible_to
from clients.tests.factories import ClientFactory

URL = reverse("clients:list")


def test_a_supervisors_visibility_is_a_filter_on_owner_ids_without_joins(people):
    sql = str(clients_visible_to(people.supervisor).query)
    # An OR over joins to users and departments made the database read every client.
    assert "JOIN" not in sql.upper()
    assert '"owner_id" IN (' in sql
    ClientFactory(owner=people.departing)
    ClientFactory(owner=people.other_sales)
    visible_owners = set(clients_visible_to(people.supervisor).values_list("owner_id", flat=True))
    assert visible_owners == {people.departing.pk}


def test_above_the_cap_the_list_says_n_plus_and_every_page_stays_reachable(people, login, monkeypatch):
    monkeypatch.setattr(filters, "COUNT_CAP", 30)
    for i in range(60):
        ClientFactory(owner=people.departing, name=f"客户{i:03d}")
    client = login(people.departing)

    first = client.get(URL)
    paginator = first.context["page"].paginator
    assert paginator.count_is_capped and paginator.count_shown == 30
    html = first.content.decode()
    assert "30+" in html and "?page=2" in html
    assert "60" not in first.content.decode().split('id="client-count"')[1].split("</small>")[0]

    third = client.get(URL, {"page": 3})
    assert [c.name for c in third.context["page"].object_list] == [f"客户{i:03d}" for i in range(50, 60)]
    # Near the end the count is exact again, and the page says so.
    assert not third.context["page"].paginator.count_is_capped
    assert third.context["page"].paginator.count == 60


@pytest.mark.parametrize("count", [0, 1, 30])
def test_under_the_cap_the_count_is_exact(people, login, monkeypatch, count):
    monkeypatch.setattr(filters, "COUNT_CAP", 30)
    ClientFactory.create_batch(count, owner=people.departing)
    paginator = login(people.departing).get(URL).context["page"].paginator
    assert paginator.count == count and not paginator.count_is_capped


def test_the_whole_books_industry_choices_are_each_industry_once_in_order(people, login):
    for industry in ["制造业", "软件和信息技术服务业", "制造业", "", "批发业"]:
        ClientFactory(owner=people.other_sales, industry=industry)
    form = login(people.manager).get(URL).context["form"]
    choices = [value for value, _label in form.fields["industry"].choices]
    assert choices == ["", *sorted({"制造业", "软件和信息技术服务业", "批发业"})]


def test_a_search_by_phone_unions_with_name_and_code_matches(people, login):
    by_name = ClientFactory(owner=people.departing, name="九零八七科技有限公司")
    ClientFactory(owner=people.departing, name="别的公司")
    listed = login(people.departing).get(URL, {"q": "九零八七"}).context["page"].object_list
    assert [c.pk for c in listed] == [by_name.pk]


@pytest.mark.parametrize("value", [None, "", "2", "<b>"])
def test_the_plain_select_writes_what_djangos_select_writes(value):
    choices = [("", "全部"), ("1", "张三 & <李四>"), ("2", '"引号"'), ("<b>", "x")]
    attrs = {"class": "form-select form-select-sm", "id": "id_owner", "required": True, "data-x": False}
    plain = filters.PlainSelect(attrs=attrs, choices=choices).render("owner", value)
    django = filters.forms.Select(attrs=attrs, choices=choices).render("owner", value)
    assert plain == django
