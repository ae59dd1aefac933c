"""The client-book import refuses free text over the field's limit, with the row, and writes nothing."""

import pytest
from django.core.exceptions import ValidationError

from clients.models import Client, FollowUp, Opportunity
from clients.tests.test_import import db_counts, good_book, run, where
from clients.validators import TEXT_MAX_LENGTH

TOO_LONG = "长" * (TEXT_MAX_LENGTH + 1)


@pytest.mark.parametrize(
    ("sheet", "column"),
    [("客户", "当前情况"), ("客户", "决策链"), ("客户", "合作历史"), ("商机", "主要异议"), ("商机", "下一步")],
)
def test_the_import_refuses_text_over_the_limit_with_the_row(people, sheet, column):
    sheets = good_book(people)
    sheets[sheet][0][column] = TOO_LONG

    result = run(people, sheets)

    assert where(result) == {(sheet, 2, column)}
    assert str(TEXT_MAX_LENGTH) in result.errors[0].message and column in result.errors[0].message
    assert db_counts() == (0, 0, 0, 0, 0, 0)


def test_the_import_takes_text_up_to_the_limit(people):
    sheets = good_book(people)
    sheets["客户"][0]["当前情况"] = "长" * TEXT_MAX_LENGTH

    result = run(people, sheets)

    assert result.ok, result.errors
    assert len(Client.objects.get(name=sheets["客户"][0]["客户名称"]).current_situation) == TEXT_MAX_LENGTH


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (Client, "current_situation"),
        (Client, "decision_chain"),
        (Client, "preferences"),
        (Client, "cooperation_history"),
        (Client, "potential_needs"),
        (Opportunity, "main_objections"),
        (Opportunity, "next_step"),
        (FollowUp, "content"),
        (FollowUp, "objections"),
        (FollowUp, "commitments"),
        (FollowUp, "next_plan"),
    ],
)
def test_every_free_text_field_of_the_book_checks_its_limit(model, name):
    # The admin and the import validate through the model field.
    field = model._meta.get_field(name)
    assert field.max_length == TEXT_MAX_LENGTH
    field.clean("长" * TEXT_MAX_LENGTH, None)
    with pytest.raises(ValidationError):
        field.clean(TOO_LONG, None)
