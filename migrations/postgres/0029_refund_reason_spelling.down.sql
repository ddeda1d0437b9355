-- Back to Stripe's spelling, "canceled", in refunds.failure_reason.
UPDATE refunds SET failure_reason = replace(failure_reason, 'cancelled', 'canceled')
	WHERE failure_reason LIKE '%cancelled%';
