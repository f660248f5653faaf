-- scripts/lib/sample_data_mysql.sql: the sample `company_finance` database on the source
-- MariaDB (scripts/sample-data runs it as root, after dropping and re-creating the database).
-- The same rows as scripts/lib/sample_data_pg.sql (same arithmetic on the row number n), in
-- MySQL's types: TINYINT(1) booleans, ENUM, JSON (LONGTEXT with a JSON_VALID check on
-- MariaDB), DATETIME and TIMESTAMP, INT UNSIGNED, DECIMAL. Row numbers come from MariaDB's
-- built-in sequence tables (seq_1_to_600).
SET NAMES utf8mb4;
SET time_zone = '+00:00';

CREATE TABLE departments (
    id          INT NOT NULL PRIMARY KEY,
    name        VARCHAR(60) NOT NULL UNIQUE,
    cost_center CHAR(6) NOT NULL,
    budget      DECIMAL(14, 2) NOT NULL,
    created_at  TIMESTAMP NOT NULL
) ENGINE = InnoDB COMMENT = 'Sample data from scripts/sample-data';

INSERT INTO departments (id, name, cost_center, budget, created_at) VALUES
    (1, 'Finance', 'CC-100', 1250000.00, '2019-01-15 09:00:00'),
    (2, 'Sales', 'CC-200', 2400000.00, '2019-01-15 09:00:00'),
    (3, 'Engineering', 'CC-300', 3900000.50, '2019-02-01 10:30:00'),
    (4, 'Marketing', 'CC-400', 980000.00, '2019-03-11 08:15:00'),
    (5, 'Operations', 'CC-500', 1430000.25, '2019-04-02 12:00:00'),
    (6, 'Human Resources', 'CC-600', 610000.00, '2019-06-20 14:45:00'),
    (7, 'Legal', 'CC-700', 540000.00, '2020-01-06 09:00:00'),
    (8, 'Customer Success', 'CC-800', 875000.75, '2021-09-13 07:30:00');

CREATE TABLE employees (
    id            INT NOT NULL PRIMARY KEY,
    department_id INT NOT NULL,
    manager_id    INT NULL,
    first_name    VARCHAR(40) NOT NULL,
    last_name     VARCHAR(40) NOT NULL,
    email         VARCHAR(120) NOT NULL UNIQUE,
    hire_date     DATE NOT NULL,
    salary        DECIMAL(10, 2) NOT NULL,
    is_active     TINYINT(1) NOT NULL,
    last_login_at DATETIME NULL,
    profile       JSON NOT NULL,
    CONSTRAINT employees_department_fk FOREIGN KEY (department_id) REFERENCES departments (id),
    CONSTRAINT employees_manager_fk FOREIGN KEY (manager_id) REFERENCES employees (id)
) ENGINE = InnoDB;

-- Employees 1-8 head departments 1-8 and have no manager; the others report to their head.
INSERT INTO employees
SELECT n,
       (n - 1) % 8 + 1,
       IF(n <= 8, NULL, (n - 1) % 8 + 1),
       first_name,
       ELT((n * 11) % 20 + 1, 'Smith', 'Müller', 'García', 'Nakamura', 'O''Brien', 'Kowalski', 'Dubois',
           'Rossi', 'Andersson', 'Nguyen', 'Okafor', 'Silva', 'Jensen', 'Novák', 'Papadopoulos', 'Kim',
           'Schneider', 'Fernández', 'Ivanova', 'Brown'),
       CONCAT(LOWER(first_name), '.', n, '@company.example'),
       DATE_ADD('2015-01-05', INTERVAL (n * 37) % 3000 DAY),
       42000 + (n * 1379) % 90000 + (n % 4) * 0.25,
       n % 9 <> 0,
       IF(n % 10 = 0, NULL, DATE_ADD('2024-06-01 08:00:00', INTERVAL (n * 5417) % 100000 MINUTE)),
       JSON_OBJECT('level', n % 5 + 1, 'remote', n % 3 = 0,
                   'skills', JSON_ARRAY('excel', IF(n % 2 = 0, 'sql', 'python')))
FROM (SELECT seq AS n,
             ELT((seq * 7) % 20 + 1, 'Anna', 'Ben', 'Chloe', 'David', 'Emma', 'Felix', 'Grace', 'Hugo',
                 'Ines', 'Jonas', 'Kara', 'Liam', 'Maya', 'Noah', 'Olivia', 'Paul', 'Quinn', 'Rosa',
                 'Sam', 'Tara') AS first_name
      FROM seq_1_to_120) AS f
ORDER BY n;

CREATE TABLE customers (
    id             INT NOT NULL PRIMARY KEY,
    external_id    CHAR(36) NOT NULL UNIQUE,
    name           VARCHAR(120) NOT NULL,
    country        CHAR(2) NOT NULL,
    segment        ENUM('enterprise', 'mid_market', 'smb') NOT NULL,
    credit_limit   DECIMAL(12, 2) NOT NULL,
    employee_count INT UNSIGNED NOT NULL,
    is_active      TINYINT(1) NOT NULL,
    notes          TEXT NULL,
    created_at     TIMESTAMP NOT NULL
) ENGINE = InnoDB;

INSERT INTO customers
SELECT n,
       CONCAT_WS('-', SUBSTR(h, 1, 8), SUBSTR(h, 9, 4), SUBSTR(h, 13, 4), SUBSTR(h, 17, 4), SUBSTR(h, 21)),
       CONCAT(ELT(n % 16 + 1, 'Northwind', 'Acme', 'Globex', 'Initech', 'Umbrella', 'Stark', 'Wayne', 'Tyrell',
                  'Cyberdyne', 'Hooli', 'Vandelay', 'Soylent', 'Wonka', 'Gringotts', 'Oscorp', 'Aperture'),
              ' ', ELT(n % 7 + 1, 'Traders', 'Industries', 'Logistics', 'Foods', 'Systems', 'Partners', 'Labs'),
              ' ', ELT(n % 5 + 1, 'Ltd', 'GmbH', 'Inc.', 'S.A.', 'AB')),
       ELT(n % 10 + 1, 'DE', 'US', 'GB', 'FR', 'ES', 'IT', 'NL', 'SE', 'JP', 'BR'),
       ELT(n % 4 + 1, 'enterprise', 'mid_market', 'smb', 'smb'),
       5000 + (n * 2311) % 95000,
       (n * 97) % 5000 + 1,
       n % 13 <> 0,
       CASE WHEN n % 17 = 0 THEN 'Prefers "net 30"; contact O''Brien first'
            WHEN n % 23 = 0 THEN CONCAT('Line one', CHAR(10), 'Line two')
            WHEN n % 29 = 0 THEN 'Zahlung per Überweisung – Ümlaut, € and 日本語'
            ELSE NULL END,
       DATE_ADD('2020-01-01 00:00:00', INTERVAL n * 79 HOUR)
FROM (SELECT seq AS n, MD5(CONCAT('customer-', seq)) AS h FROM seq_1_to_200) AS c;

CREATE TABLE invoices (
    id                 INT NOT NULL PRIMARY KEY,
    invoice_number     VARCHAR(20) NOT NULL UNIQUE,
    customer_id        INT NOT NULL,
    account_manager_id INT NOT NULL,
    issued_on          DATE NOT NULL,
    due_on             DATE NOT NULL,
    amount             DECIMAL(12, 2) NOT NULL,
    tax_rate           DECIMAL(5, 4) NOT NULL,
    currency           CHAR(3) NOT NULL,
    status             ENUM('draft', 'sent', 'paid', 'overdue', 'void') NOT NULL,
    is_recurring       TINYINT(1) NOT NULL,
    paid_at            DATETIME NULL,
    line_items         JSON NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    KEY invoices_customer_id (customer_id),
    KEY invoices_issued_on (issued_on),
    CONSTRAINT invoices_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id),
    CONSTRAINT invoices_manager_fk FOREIGN KEY (account_manager_id) REFERENCES employees (id)
) ENGINE = InnoDB;

INSERT INTO invoices
SELECT n,
       CONCAT('INV-2024-', LPAD(n, 5, '0')),
       (n * 7) % 200 + 1,
       (n * 11) % 120 + 1,
       issued_on,
       DATE_ADD(issued_on, INTERVAL IF(n % 4 = 0, 45, 30) DAY),
       100 + (n * 7919) % 50000 + (n % 100) / 100.0,
       ELT(n % 4 + 1, 0.0000, 0.0700, 0.1900, 0.2000),
       ELT(n % 3 + 1, 'EUR', 'USD', 'GBP'),
       status,
       n % 8 = 0,
       IF(status = 'paid', TIMESTAMP(DATE_ADD(issued_on, INTERVAL n % 25 DAY), '10:30:00'), NULL),
       JSON_ARRAY(
           JSON_OBJECT('sku', CONCAT('SKU-', LPAD(n % 40, 3, '0')), 'qty', n % 9 + 1, 'unit_price', 10 + n % 90),
           JSON_OBJECT('sku', CONCAT('SKU-', LPAD((n * 3) % 40, 3, '0')), 'qty', 1, 'unit_price', 5 + n % 15)),
       TIMESTAMP(issued_on, '09:00:00')
FROM (SELECT seq AS n,
             DATE_ADD('2024-01-01', INTERVAL (seq * 13) % 540 DAY) AS issued_on,
             CASE WHEN seq % 10 < 6 THEN 'paid' WHEN seq % 10 < 8 THEN 'sent'
                  WHEN seq % 10 = 8 THEN 'overdue' ELSE 'void' END AS status
      FROM seq_1_to_600) AS d;

CREATE VIEW invoice_summary AS
SELECT c.id AS customer_id, c.name AS customer_name, i.currency,
       COUNT(*) AS invoice_count, SUM(i.amount) AS total_amount,
       SUM(CASE WHEN i.status = 'paid' THEN i.amount ELSE 0.00 END) AS paid_amount
FROM invoices i
JOIN customers c ON c.id = i.customer_id
GROUP BY c.id, c.name, i.currency;

ANALYZE TABLE departments, employees, customers, invoices;
