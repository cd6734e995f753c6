-- SearchActivity through the distinct values of the searchable fields
-- (location_store.c: activity_terms_stmt, activity_rows_stmt).
--
-- A package's barcode is on every activity row of its life, a location's
-- name on every row at that location: 5,000,000 rows hold about 2,100,000
-- distinct values. The query is looked up among the values first (an
-- exact or prefix range of the primary key, a 4-gram index for "contains"),
-- then the rows of each value found are read newest first from that
-- field's index of migration 0002, LIMITed, and merged. The trigram index
-- over every row's concatenated fields (activity_search_trgm) read the
-- posting list of each trigram of the query, and digit trigrams are in
-- about 3 % of all rows: 8-9 ms per query at 5,000,000 rows, against
-- 0.3-0.8 ms for the 4-grams of the values (docs/performance.md).

-- field: 1 barcode, 2 tracking_number, 3 order_identifier, 4 door_label,
-- 5 location_name (location_store.c: ACT_FIELD_*). A value in two fields
-- is two rows. Values are lowered as the search lowers them. Never
-- deleted: activity is append-only, and a value without rows finds none.
CREATE TABLE activity_terms (
    tenant_id uuid NOT NULL,
    term text NOT NULL,
    field smallint NOT NULL CHECK (field BETWEEN 1 AND 5),
    -- activity_terms_stmt: `term = q` (exact tier) and `term LIKE 'q%'`
    -- (prefix tier), a range of this key (the database collates by C).
    PRIMARY KEY (tenant_id, term, field)
);

-- The 4-character substrings of t (none when t is shorter): a value holds
-- the query only if it holds every 4-gram of it, and 10,000 digit 4-grams
-- make posting lists a tenth as long as 1,000 digit trigrams do.
CREATE FUNCTION activity_grams(t text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT coalesce(array_agg(substr(t, i, 4)), '{}') FROM generate_series(1, length(t) - 3) AS i $$;

-- activity_terms_stmt, partial tier: `activity_grams(term) @> activity_grams(window)`.
CREATE INDEX activity_terms_grams_idx ON activity_terms USING gin (activity_grams(term));

-- The searchable values of one activity row, lowered as the search lowers
-- them (field codes as in activity_terms). Inlined where it is called.
CREATE FUNCTION activity_values(a activity) RETURNS TABLE (term text, field int)
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT v.term, v.field
          FROM (VALUES (lower(a.barcode), 1), (lower(a.tracking_number), 2),
                       (lower(a.order_identifier), 3), (lower(a.door_label), 4),
                       (lower(a.location_name), 5)) AS v(term, field)
          WHERE v.term <> '' $$;

-- Every insert into activity records its values, in the same transaction:
-- one statement per inserting statement, whatever inserted (the store, a
-- bulk load), in key order so that two inserts of the same new values wait
-- for each other instead of deadlocking.
CREATE FUNCTION activity_terms_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO activity_terms (tenant_id, term, field)
    SELECT DISTINCT n.tenant_id, v.term, v.field
    FROM new_rows n, activity_values(n) v
    ORDER BY 1, 2, 3
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER activity_terms_add AFTER INSERT ON activity
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION activity_terms_add();

INSERT INTO activity_terms (tenant_id, term, field)
SELECT DISTINCT a.tenant_id, v.term, v.field
FROM activity a, activity_values(a) v
ON CONFLICT DO NOTHING;

-- The partial tier no longer reads every row's trigrams; a fragment too
-- short for a 4-gram, or found in very many values, walks the tenant's
-- rows newest first (activity_time_idx) instead.
DROP INDEX activity_search_trgm;
ALTER TABLE activity DROP COLUMN search_text;
