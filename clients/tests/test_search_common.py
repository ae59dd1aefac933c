"""A common fragment (more matches than COMMON_FRAGMENT) is searched row by row in the list's
order instead of gathering every match first; both ways find the same clients."""

import pytest
from django.http import QueryDict

from clients import filters
from clients.filters import filter_clients, search_condition
from clients.models import Client
from clients.tests.factories import ClientFactory, ContactFactory


def found(q: str) -> set[int]:
    _form, clients = filter_clients(Client.objects.all(), QueryDict(f"q={q}"))
    return set(clients.values_list("pk", flat=True))


@pytest.fixture
def book(db):
    tech = [ClientFactory(name=f"华东{i}科技有限公司") for i in range(4)]
    other = [ClientFactory(name=f"华东{i}贸易有限公司") for i in range(3)]
    by_phone = other[0]
    ContactFactory(client=by_phone, phone="0571-科技热线")  # phones are free text
    by_code = other[1]
    return {"tech": tech, "by_phone": by_phone, "by_code": by_code, "other": other}


def test_a_rare_fragment_is_looked_up_by_id_and_a_common_one_row_by_row(book, monkeypatch):
    monkeypatch.setattr(filters, "COMMON_FRAGMENT", 10)
    rare = str(search_condition("科技"))
    assert "pk__in" in rare and "name__icontains" not in rare and "Exists" not in rare
    monkeypatch.setattr(filters, "COMMON_FRAGMENT", 0)
    common = str(search_condition("科技"))
    assert "pk__in" not in common and "name__icontains" in common and "Exists" in common


def test_each_look_up_is_decided_on_its_own(book, monkeypatch):
    # 科技 is in four names and one phone: the names are tested row by row, the one phone is
    # looked up by the id of its client rather than by a test of every client's contacts.
    monkeypatch.setattr(filters, "COMMON_FRAGMENT", 3)
    condition = search_condition("科技")
    assert "name__icontains" in str(condition) and "Exists" not in str(condition)
    assert found("科技") == {c.pk for c in book["tech"]} | {book["by_phone"].pk}


def test_a_fragment_found_nowhere_finds_nothing(book):
    assert found("无此客户") == set()


@pytest.mark.parametrize("q", ["科技", "华东", "热线", "有限公司"])
def test_both_ways_find_the_same_clients_by_name_code_and_phone(book, monkeypatch, q):
    monkeypatch.setattr(filters, "COMMON_FRAGMENT", 10_000)
    by_ids = found(q)
    monkeypatch.setattr(filters, "COMMON_FRAGMENT", 0)
    row_by_row = found(q)
    assert by_ids == row_by_row and by_ids


def test_the_credit_code_is_searched_both_ways(book, monkeypatch):
    code = book["by_code"].credit_code[3:9]
    expected = {c.pk for c in Client.objects.filter(credit_code__icontains=code)}
    assert book["by_code"].pk in expected
    for threshold in (10_000, 0):
        monkeypatch.setattr(filters, "COMMON_FRAGMENT", threshold)
        assert found(code) == expected
    assert book["by_phone"].pk in found("热线")
