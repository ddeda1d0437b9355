/*
 * Refunds of training payments (issue 16 part 1c, item 5): the refunds
 * resource. How a refund is sent to Stripe and completed is
 * refund_jobs.c's.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "module.h"
#include "resource/resource.h"
#include "training/training_int.h"

#define STAFF_OWN (SEE_ALL | SEE_OWN)

static const char *const statuses[] = { "pending", "approved", "rejected",
	"processing", "completed", "failed", NULL };
static const char *const causes[] = { "request", "schedule_cancelled",
	"staff_cancelled", "late_payment", "duplicate_payment", NULL };
static const char *const policies[] = { "full", "fee", "override", NULL };

static const struct field refund_fields[] = {
	{ "booking_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, "training_bookings", 0, "the booking refunded" },
	{ "user_id", FIELD_UUID, FIELD_READONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, NULL, 0, "the booker; owns the row" },
	{ "payment_transaction_id", FIELD_UUID, FIELD_READONLY, 0, 0, NULL,
	    NULL, "payment_transactions", 0, "the payment refunded" },
	{ "refund_reference", FIELD_TEXT, FIELD_READONLY | FIELD_FILTER, 0,
	    TRAINING_REF_LEN, NULL, NULL, NULL, 0,
	    "10 characters without look-alikes, random, unique" },
	{ "amount_minor", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    "the part of the payment refunded (with the fee kept)" },
	{ "processing_fee_minor", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL,
	    NULL, 0, "kept by the cancellation policy" },
	{ "net_refund_minor", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL, NULL,
	    0, "amount_minor - processing_fee_minor: what goes back",
	    "(refunds.amount_minor - refunds.processing_fee_minor)" },
	{ "currency", FIELD_TEXT, FIELD_READONLY, 0, 3, NULL, NULL, NULL, 0,
	    "the payment's" },
	{ "cause", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0, causes,
	    NULL, NULL, 0,
	    "request (asked for), or made by carebase: schedule_cancelled, "
	    "staff_cancelled, late_payment, duplicate_payment" },
	{ "policy", FIELD_ENUM, FIELD_READONLY, 0, 0, policies, NULL, NULL, 0,
	    "full, fee (the policy kept a fee) or override (staff's)" },
	{ "reason", FIELD_TEXT,
	    FIELD_READONLY | FIELD_PERSONAL | FIELD_NULLABLE, 0,
	    TRAINING_REASON_MAX, NULL, NULL, NULL, STAFF_OWN,
	    "why it was asked for" },
	{ "override_reason", FIELD_TEXT,
	    FIELD_READONLY | FIELD_PERSONAL | FIELD_NULLABLE, 0,
	    TRAINING_REASON_MAX, NULL, NULL, NULL, STAFF_OWN,
	    "staff's reason for setting the policy aside" },
	{ "rejection_reason", FIELD_TEXT,
	    FIELD_READONLY | FIELD_PERSONAL | FIELD_NULLABLE, 0,
	    TRAINING_REASON_MAX, NULL, NULL, NULL, STAFF_OWN,
	    "staff's reason for rejecting it" },
	{ "cancels_booking", FIELD_BOOL, FIELD_READONLY, 0, 0, NULL, NULL, NULL,
	    0, "all that was left: approving it cancels the booking" },
	{ "status", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER, 0, 0, statuses,
	    NULL, NULL, 0,
	    "pending (asked for), approved, rejected, processing (sent to "
	    "Stripe), completed or failed" },
	{ "stripe_refund_id", FIELD_TEXT, FIELD_READONLY | FIELD_NULLABLE, 0,
	    STRIPE_ID_MAX, NULL, NULL, NULL, SEE_ALL, NULL },
	{ "failure_reason", FIELD_TEXT, FIELD_READONLY | FIELD_NULLABLE, 0,
	    STRIPE_ID_MAX, NULL, NULL, NULL, 0, "Stripe's" },
	{ "requested_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, SEE_ALL, "who asked (NULL: carebase)" },
	{ "requested_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "approved_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, NULL },
	{ "rejected_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, NULL },
	{ "processed_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, "sent to Stripe" },
	{ "completed_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, 0, NULL },
	{ "failed_at", FIELD_TIME, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "processed_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0,
	    NULL, NULL, NULL, SEE_ALL,
	    "the staff member who approved or rejected it" },
};

const struct resource refunds_resource = {
	.name = "refunds",
	.path = "/v1/refunds",
	.table = "refunds",
	.fields = refund_fields,
	.nfields = NELEM(refund_fields),
	.owner_column = "user_id",
	.actions = (1 << ACTION_LIST) | (1 << ACTION_READ),
	.doc = "Refunds of training payments made through Stripe: made by "
	       "carebase when a paid booking's schedule or the booking is "
	       "cancelled by staff, or a payment comes too late or twice, and "
	       "sent to Stripe by the training.refund job; completed by "
	       "Stripe's webhook.",
};
