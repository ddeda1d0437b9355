-- Scraping /metrics with a staff user's bearer token takes
-- metrics:read:all (admins, as seeded); a scraper may instead send the
-- static metrics_token, or use the metrics_listen address (README,
-- Metrics). Every process re-reads role permissions at its next request.
INSERT INTO permissions (name, description) VALUES
	('metrics:read:all', 'scrape /metrics (Prometheus)');
INSERT INTO role_permissions (role, permission) VALUES
	('admin', 'metrics:read:all');
UPDATE role_permissions_epoch SET epoch = epoch + 1 WHERE id = 1;
