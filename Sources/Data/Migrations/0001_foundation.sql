-- Foundation: the warehouse schema that holds extracted and synced tables.
-- Application tables arrive with the issues that need them.
CREATE SCHEMA IF NOT EXISTS warehouse;
