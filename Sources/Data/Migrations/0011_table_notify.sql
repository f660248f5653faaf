-- FastCGI workers keep pages of extracted tables they have served (TablePageCache): an
-- extracted table's rows never change in place, it is only replaced or dropped, and both
-- go through its metadata row. Every such change, whatever causes it (re-extraction, a
-- deleted document, a deleted team's cascade), tells the workers which table to forget.
CREATE FUNCTION extracted_tables_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('assay_tables', OLD.id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER extracted_tables_notify AFTER UPDATE OR DELETE ON extracted_tables
    FOR EACH ROW EXECUTE FUNCTION extracted_tables_notify();
