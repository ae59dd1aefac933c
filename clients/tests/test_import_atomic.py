"""The import writes all or nothing, even when the database refuses a row halfway through the write.

Validation mirrors the constraints, so in real life only a concurrent edit of the same records
gets the database to refuse a row; these tests stand in for one.
"""

from decimal import Decimal

import pytest

from clients.models import Receivable
from clients.tests.test_import import db_counts, good_book, run


# Committing for real, as in production: inside the test's own transaction a missing one would not show.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_row_the_database_refuses_mid_write_leaves_nothing_written(people, monkeypatch):
    write = Receivable.objects.bulk_create

    def refuse_the_second(objs, **kwargs):
        # Clients, ownership records, contacts, contracts and the first receivable are written by
        # now; the second breaks the database's own check (received more than due).
        first, second, *_ = objs
        write([first], **kwargs)
        second.amount_received = second.amount_due + Decimal("1.00")
        return write([second], **kwargs)

    monkeypatch.setattr(Receivable.objects, "bulk_create", refuse_the_second)

    result = run(people, good_book(people))

    assert db_counts() == (0, 0, 0, 0, 0, 0)
    assert len(result.errors) == 1 and result.errors[0].row is None
    assert "本次未导入任何数据" in result.errors[0].message  # "Nothing was imported"
    assert result.created == result.updated == 0
