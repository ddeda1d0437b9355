UPDATE permissions SET description = 'confirm training bookings (stands in for payment)'
	WHERE name = 'training_bookings:confirm:all';
DELETE FROM role_permissions WHERE permission IN (SELECT name FROM permissions
	WHERE name LIKE 'payment_transactions:%' OR name LIKE 'refunds:%'
	OR name = 'training_bookings:pay:own');
DELETE FROM permissions WHERE name LIKE 'payment_transactions:%' OR name LIKE 'refunds:%'
	OR name = 'training_bookings:pay:own';
DROP TABLE refunds;
DROP TABLE stripe_events;
DROP TABLE payment_transactions;
