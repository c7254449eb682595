-- database_history names the database history a mapping's high-water mark is stored in, for a table
-- (see 011: the cluster, its WAL timeline and the table's oid). A part the server does not tell (a
-- managed Postgres without the control functions or WAL file names) is left empty rather than
-- failing the load or poll that stores it.
CREATE FUNCTION database_history(tbl text) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    sys text := '';
    tli text := '';
BEGIN
    BEGIN
        SELECT system_identifier::text INTO sys FROM pg_control_system();
    EXCEPTION WHEN OTHERS THEN
        sys := '';
    END;
    BEGIN
        tli := substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8);
    EXCEPTION WHEN OTHERS THEN
        tli := '';
    END;
    RETURN COALESCE(sys, '') || '/' || COALESCE(tli, '') || '/' || COALESCE(to_regclass(tbl)::oid::text, '');
END
$$;

---- create above / drop below ----

DROP FUNCTION database_history(text);
