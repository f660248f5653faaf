-- A page of an extracted table's rows as JSON, with the table's metadata, in one round
-- trip: GET /api/tables/{id}/rows runs on every dashboard refresh. The table name comes
-- from extracted_tables only and is quoted with %I; column names likewise with %I/%L.
CREATE FUNCTION extracted_table_page(p_id uuid, p_team uuid, p_limit integer, p_offset integer)
RETURNS TABLE (id uuid, document_id uuid, table_name text, page_from integer, page_to integer, bbox text,
               columns text, row_count integer, confidence double precision, rows text, n bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t extracted_tables%ROWTYPE;
    fields text;
BEGIN
    SELECT * INTO t FROM extracted_tables e WHERE e.id = p_id AND e.team_id = p_team;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT string_agg(format('%L, r.%I', c ->> 'name', c ->> 'name'), ', ' ORDER BY o)
    INTO fields FROM jsonb_array_elements(t.columns) WITH ORDINALITY AS x (c, o);
    RETURN QUERY EXECUTE format(
        'SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, '
        || 'coalesce(json_agg(json_build_object(%s) ORDER BY r._row), ''[]'')::text, count(*) '
        || 'FROM (SELECT * FROM warehouse.%I ORDER BY _row LIMIT $10 OFFSET $11) r',
        coalesce(fields, ''), t.table_name)
    USING t.id, t.document_id, t.table_name, t.page_from, t.page_to, t.bbox::text, t.columns::text, t.row_count,
          t.confidence, p_limit, p_offset;
END
$$;

-- When a connection's table first reached the warehouse: a stable order for listings.
ALTER TABLE etl_tables ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
