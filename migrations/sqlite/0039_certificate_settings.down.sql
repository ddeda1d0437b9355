-- The certificate's logo and accreditation settings gone; a process that
-- cached them reloads at its next read (the epoch moves).
DELETE FROM settings WHERE key IN ('certificate_logo_png', 'certificate_accreditation');
UPDATE settings_epoch SET epoch = epoch + 1 WHERE id = 1;
