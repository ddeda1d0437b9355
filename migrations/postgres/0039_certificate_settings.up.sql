-- Issue 17 item 3: the settings the certificate PDF reads beside
-- business_name (GET /v1/certificates/{id}/pdf, src/training/cert_route.c):
-- its logo, a PNG in base64 (format png_base64: checked as the PDF would
-- draw it, at most 256 KiB), and the accreditation line printed under the
-- provider's name, as the awarding body words it. Neither is set: a
-- certificate has no logo and claims no accreditation until an admin sets
-- them. Idempotent (a key there already is left as it is).
INSERT INTO settings (id, key, value, value_type, category, display_name, description,
	is_public, is_editable, requires_restart, validation_rules, default_value,
	created_at, updated_at) VALUES
('5e771a65-0000-4000-8000-000000000043', 'certificate_logo_png', NULL, 'string',
	'certificates', 'Certificate logo (PNG, base64)',
	'the logo at the top left of every certificate: a PNG of at most 256 KiB and 2048 x 2048 pixels, in base64; not set: no logo',
	0, 1, 0, '{"format":"png_base64"}', NULL, 0, 0),
('5e771a65-0000-4000-8000-000000000044', 'certificate_accreditation', NULL, 'string',
	'certificates', 'Accreditation line',
	'printed under the provider''s name on every certificate, as the awarding body words it (e.g. "Approved centre no. 12345 of Example Awards"); not set: no line, and no accreditation is claimed',
	0, 1, 0, '{"min_length":1,"max_length":200}', NULL, 0, 0)
ON CONFLICT (key) DO NOTHING;
UPDATE settings_epoch SET epoch = epoch + 1 WHERE id = 1;
