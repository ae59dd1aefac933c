from django.db import migrations

# pg_trgm serves fragments of three characters and more; a two-character Chinese fragment
# (科技) read the whole book. pg_bigm is not packaged here, so on PostgreSQL the name's
# character bigrams are indexed as an expression: computed by the database from the name
# itself, so no write path (save, bulk_create, COPY, raw SQL) can leave them stale.
# UPPER as icontains writes it, so the index and the LIKE re-check agree on case.
CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION client_name_bigrams(text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ARRAY(SELECT DISTINCT substr(upper($1), i, 2) FROM generate_series(1, char_length($1) - 1) AS i)
$$
"""
# The contact phone's two-character look-up goes through the same bigrams (a candidate filter,
# re-checked by the exact LIKE): phones are free text, so no format lets it be skipped.
BIGRAM_INDEXES = [
    ("client_name_bigram", "clients_client", "name"),
    ("contact_phone_bigram", "clients_contact", "phone"),
]


def create_bigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CREATE_FUNCTION)
    for name, table, column in BIGRAM_INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin (client_name_bigrams("{column}"::text))'
        )


def drop_bigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in BIGRAM_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')
    schema_editor.execute("DROP FUNCTION IF EXISTS client_name_bigrams(text)")


class Migration(migrations.Migration):
    dependencies = [("clients", "0005_search_indexes")]

    operations = [migrations.RunPython(create_bigram_index, drop_bigram_index)]
