DELETE FROM role_permissions WHERE permission IN (SELECT name FROM permissions
	WHERE name LIKE 'discount_codes:%' OR name LIKE 'training_bookings:%'
	OR name LIKE 'training_booking_attendees:%' OR name LIKE 'booking_inquiries:%'
	OR name LIKE 'special_requirements:%');
DELETE FROM permissions WHERE name LIKE 'discount_codes:%' OR name LIKE 'training_bookings:%'
	OR name LIKE 'training_booking_attendees:%' OR name LIKE 'booking_inquiries:%'
	OR name LIKE 'special_requirements:%';
DROP TABLE special_requirements;
DROP TABLE training_booking_attendees;
DROP TABLE training_bookings;
DROP TABLE booking_inquiries;
DROP TABLE discount_codes;
