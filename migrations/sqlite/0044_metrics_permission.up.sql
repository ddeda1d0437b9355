-- Scraping /metrics with a staff user's bearer token takes
-- metrics:read:all (admins, as seeded); a scraper may instead send the
-- static metrics_token, or use the metrics_listen address (README,
-- Metrics).
INSERT INTO permissions (name, description) VALUES
	('metrics:read:all', 'scrape /metrics (Prometheus)');
INSERT INTO role_permissions (role, permission) VALUES
	('admin', 'metrics:read:all');
