-- Back to 0057, keeping audit_pages: audit rows name its pages by their
-- digest, and without them the log would no longer say which rows those
-- reads showed (`carebase audit verify` would report each row). A
-- carebase from before 0058 reads those rows as they are stored,
-- {"$ids":"<digest>"}, and verifies the chain as before; the table is
-- dropped with audit_log (0002's down).
SELECT 1;
