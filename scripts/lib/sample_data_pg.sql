-- scripts/lib/sample_data_pg.sql: the sample `company_finance` database on the source
-- PostgreSQL (scripts/sample-data runs it as the bootstrap superuser, connected to a freshly
-- created company_finance). scripts/lib/sample_data_mysql.sql makes the same rows on MariaDB:
-- every value is computed from the row number n with the same arithmetic (no random()), so the
-- two databases hold identical data and an ETL of either must give the same warehouse tables.
--
--   departments   8 rows   budgets, a cost centre code
--   employees   120 rows   -> departments, -> employees (manager); salaries, hire dates,
--                          an active flag, last login (some NULL), a JSON profile
--   customers   200 rows   an enum segment, credit limits, uuids, notes with quotes, newlines
--                          and non-ASCII text (some NULL)
--   invoices    600 rows   -> customers, -> employees; amounts, tax rates, currencies, an enum
--                          status, paid_at only when paid, JSON line items
--   invoice_summary        a view: totals per customer and currency
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET TIME ZONE 'UTC';

CREATE TYPE customer_segment AS ENUM ('enterprise', 'mid_market', 'smb');
CREATE TYPE invoice_status AS ENUM ('draft', 'sent', 'paid', 'overdue', 'void');

CREATE TABLE departments (
    id          integer PRIMARY KEY,
    name        varchar(60) NOT NULL UNIQUE,
    cost_center char(6) NOT NULL,
    budget      numeric(14, 2) NOT NULL,
    created_at  timestamptz NOT NULL
);
COMMENT ON TABLE departments IS 'Sample data from scripts/sample-data';

INSERT INTO departments (id, name, cost_center, budget, created_at) VALUES
    (1, 'Finance', 'CC-100', 1250000.00, '2019-01-15 09:00:00+00'),
    (2, 'Sales', 'CC-200', 2400000.00, '2019-01-15 09:00:00+00'),
    (3, 'Engineering', 'CC-300', 3900000.50, '2019-02-01 10:30:00+00'),
    (4, 'Marketing', 'CC-400', 980000.00, '2019-03-11 08:15:00+00'),
    (5, 'Operations', 'CC-500', 1430000.25, '2019-04-02 12:00:00+00'),
    (6, 'Human Resources', 'CC-600', 610000.00, '2019-06-20 14:45:00+00'),
    (7, 'Legal', 'CC-700', 540000.00, '2020-01-06 09:00:00+00'),
    (8, 'Customer Success', 'CC-800', 875000.75, '2021-09-13 07:30:00+00');

CREATE TABLE employees (
    id            integer PRIMARY KEY,
    department_id integer NOT NULL REFERENCES departments (id),
    manager_id    integer REFERENCES employees (id),
    first_name    varchar(40) NOT NULL,
    last_name     varchar(40) NOT NULL,
    email         varchar(120) NOT NULL UNIQUE,
    hire_date     date NOT NULL,
    salary        numeric(10, 2) NOT NULL,
    is_active     boolean NOT NULL,
    last_login_at timestamp, -- without time zone, like MariaDB's DATETIME
    profile       jsonb NOT NULL
);

-- Employees 1-8 head departments 1-8 and have no manager; the others report to their head.
INSERT INTO employees
SELECT n,
       (n - 1) % 8 + 1,
       CASE WHEN n <= 8 THEN NULL ELSE (n - 1) % 8 + 1 END,
       first_name,
       (ARRAY['Smith', 'Müller', 'García', 'Nakamura', 'O''Brien', 'Kowalski', 'Dubois', 'Rossi',
              'Andersson', 'Nguyen', 'Okafor', 'Silva', 'Jensen', 'Novák', 'Papadopoulos', 'Kim',
              'Schneider', 'Fernández', 'Ivanova', 'Brown'])[(n * 11) % 20 + 1],
       lower(first_name) || '.' || n || '@company.example',
       DATE '2015-01-05' + (n * 37) % 3000,
       42000 + (n * 1379) % 90000 + (n % 4) * 0.25,
       n % 9 <> 0,
       CASE WHEN n % 10 = 0 THEN NULL
            ELSE TIMESTAMP '2024-06-01 08:00:00' + ((n * 5417) % 100000) * INTERVAL '1 minute' END,
       jsonb_build_object('level', n % 5 + 1, 'remote', n % 3 = 0,
                          'skills', jsonb_build_array('excel', CASE WHEN n % 2 = 0 THEN 'sql' ELSE 'python' END))
FROM generate_series(1, 120) AS n,
     LATERAL (SELECT (ARRAY['Anna', 'Ben', 'Chloe', 'David', 'Emma', 'Felix', 'Grace', 'Hugo',
                            'Ines', 'Jonas', 'Kara', 'Liam', 'Maya', 'Noah', 'Olivia', 'Paul',
                            'Quinn', 'Rosa', 'Sam', 'Tara'])[(n * 7) % 20 + 1] AS first_name) AS f
ORDER BY n;

CREATE TABLE customers (
    id             integer PRIMARY KEY,
    external_id    uuid NOT NULL UNIQUE,
    name           varchar(120) NOT NULL,
    country        char(2) NOT NULL,
    segment        customer_segment NOT NULL,
    credit_limit   numeric(12, 2) NOT NULL,
    employee_count integer NOT NULL,
    is_active      boolean NOT NULL,
    notes          text,
    created_at     timestamptz NOT NULL
);

INSERT INTO customers
SELECT n,
       md5('customer-' || n)::uuid,
       (ARRAY['Northwind', 'Acme', 'Globex', 'Initech', 'Umbrella', 'Stark', 'Wayne', 'Tyrell',
              'Cyberdyne', 'Hooli', 'Vandelay', 'Soylent', 'Wonka', 'Gringotts', 'Oscorp', 'Aperture'])[n % 16 + 1]
           || ' ' || (ARRAY['Traders', 'Industries', 'Logistics', 'Foods', 'Systems', 'Partners',
                            'Labs'])[n % 7 + 1]
           || ' ' || (ARRAY['Ltd', 'GmbH', 'Inc.', 'S.A.', 'AB'])[n % 5 + 1],
       (ARRAY['DE', 'US', 'GB', 'FR', 'ES', 'IT', 'NL', 'SE', 'JP', 'BR'])[n % 10 + 1],
       (ARRAY['enterprise', 'mid_market', 'smb', 'smb'])[n % 4 + 1]::customer_segment,
       5000 + (n * 2311) % 95000,
       (n * 97) % 5000 + 1,
       n % 13 <> 0,
       CASE WHEN n % 17 = 0 THEN 'Prefers "net 30"; contact O''Brien first'
            WHEN n % 23 = 0 THEN 'Line one' || chr(10) || 'Line two'
            WHEN n % 29 = 0 THEN 'Zahlung per Überweisung – Ümlaut, € and 日本語'
            ELSE NULL END,
       TIMESTAMPTZ '2020-01-01 00:00:00+00' + n * INTERVAL '3 days 7 hours'
FROM generate_series(1, 200) AS n;

CREATE TABLE invoices (
    id                 integer PRIMARY KEY,
    invoice_number     varchar(20) NOT NULL UNIQUE,
    customer_id        integer NOT NULL REFERENCES customers (id),
    account_manager_id integer NOT NULL REFERENCES employees (id),
    issued_on          date NOT NULL,
    due_on             date NOT NULL,
    amount             numeric(12, 2) NOT NULL,
    tax_rate           numeric(5, 4) NOT NULL,
    currency           char(3) NOT NULL,
    status             invoice_status NOT NULL,
    is_recurring       boolean NOT NULL,
    paid_at            timestamp, -- without time zone, like MariaDB's DATETIME
    line_items         jsonb NOT NULL,
    created_at         timestamptz NOT NULL
);
CREATE INDEX invoices_customer_id ON invoices (customer_id);
CREATE INDEX invoices_issued_on ON invoices (issued_on);

INSERT INTO invoices
SELECT n,
       'INV-2024-' || lpad(n::text, 5, '0'),
       (n * 7) % 200 + 1,
       (n * 11) % 120 + 1,
       issued_on,
       issued_on + CASE WHEN n % 4 = 0 THEN 45 ELSE 30 END,
       100 + (n * 7919) % 50000 + (n % 100) / 100.0,
       (ARRAY[0.0000, 0.0700, 0.1900, 0.2000])[n % 4 + 1],
       (ARRAY['EUR', 'USD', 'GBP'])[n % 3 + 1],
       status::invoice_status,
       n % 8 = 0,
       CASE WHEN status = 'paid' THEN (issued_on + n % 25) + TIME '10:30:00' END,
       jsonb_build_array(
           jsonb_build_object('sku', 'SKU-' || lpad((n % 40)::text, 3, '0'), 'qty', n % 9 + 1,
                              'unit_price', 10 + n % 90),
           jsonb_build_object('sku', 'SKU-' || lpad(((n * 3) % 40)::text, 3, '0'), 'qty', 1,
                              'unit_price', 5 + n % 15)),
       (issued_on + TIME '09:00:00') AT TIME ZONE 'UTC'
FROM generate_series(1, 600) AS n,
     LATERAL (SELECT DATE '2024-01-01' + (n * 13) % 540 AS issued_on,
                     CASE WHEN n % 10 < 6 THEN 'paid' WHEN n % 10 < 8 THEN 'sent'
                          WHEN n % 10 = 8 THEN 'overdue' ELSE 'void' END AS status) AS d;

CREATE VIEW invoice_summary AS
SELECT c.id AS customer_id, c.name AS customer_name, i.currency,
       count(*) AS invoice_count, sum(i.amount) AS total_amount,
       sum(CASE WHEN i.status = 'paid' THEN i.amount ELSE 0.00 END) AS paid_amount
FROM invoices i
JOIN customers c ON c.id = i.customer_id
GROUP BY c.id, c.name, i.currency;

-- The `source` role reads everything (Assay's connections use it).
GRANT USAGE ON SCHEMA public TO source;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO source;
ANALYZE;
