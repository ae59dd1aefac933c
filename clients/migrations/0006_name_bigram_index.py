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
CREATE_INDEX = (
    'CREATE INDEX IF NOT EXISTS "client_name_bigram" ON "clients_client" USING gin (client_name_bigrams("name"::text))'
)


def create_bigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CREATE_FUNCTION)
    schema_editor.execute(CREATE_INDEX)


def drop_bigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute('DROP INDEX IF EXISTS "client_name_bigram"')
    schema_editor.execute("DROP FUNCTION IF EXISTS client_name_bigrams(text)")


class Migration(migrations.Migration):
    dependencies = [("clients", "0005_search_indexes")]

    operations = [migrations.RunPython(create_bigram_index, drop_bigram_index)]
