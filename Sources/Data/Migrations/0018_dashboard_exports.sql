-- Dashboards can be exported as jobs too (PDF, Excel, JSON, PNG): an export of kind
-- 'dashboard' names its dashboard; `table_ids` keeps the tables its widgets read.
ALTER TABLE exports DROP CONSTRAINT exports_kind_check;
ALTER TABLE exports ADD CONSTRAINT exports_kind_check CHECK (kind IN ('table', 'batch', 'dashboard'));
ALTER TABLE exports ADD COLUMN dashboard_id uuid REFERENCES dashboards (id) ON DELETE SET NULL;
