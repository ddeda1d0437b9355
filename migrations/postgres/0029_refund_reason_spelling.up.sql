-- refunds.failure_reason in the API's one spelling, "cancelled" (0026;
-- issue 15 review): Stripe writes "canceled" (a refund's status canceled,
-- kept as the reason when Stripe gives none; its reason
-- expired_or_canceled_card), and carebase now stores it as
-- "cancelled" (refund_jobs.c, reason_spelled). The rows stored before
-- move too.
UPDATE refunds SET failure_reason = replace(failure_reason, 'canceled', 'cancelled')
	WHERE failure_reason LIKE '%canceled%';
