-- Workers keep query results per warehouse table (TablePageCache) until the table changes.
-- An ETL'd table changes in place on every sync, which updates its etl_tables row (rows,
-- columns, last sync time): tell the workers which table to forget, as extracted tables do
-- (migration 0011, same channel and function).
CREATE TRIGGER etl_tables_notify AFTER UPDATE OR DELETE ON etl_tables
    FOR EACH ROW EXECUTE FUNCTION extracted_tables_notify();
