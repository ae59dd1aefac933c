"""Server settings of the app's own database connections."""

import pytest
from django.db import connection


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a PostgreSQL setting; scripts/test.sh runs on PostgreSQL"
)
@pytest.mark.django_db
def test_postgresql_jit_is_off_for_the_apps_connections():
    # JIT made each large-book list query 0.5-1 s slower than the query itself (issue 12).
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
