/*
 * The mail that tells a booker their payment is being refunded
 * (training_payment_refunded): how much of what they paid (as the
 * currency counts its minor units: training_money_format): "in full" only
 * when the refund is all that was paid, else the amount and what was left
 * of the payment after earlier refunds; why; and how it comes back (to
 * the card, or, paid offline, the way they paid). Sent through the people
 * module's mail hook, in the transaction that made the refund.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mail.h"
#include "core/pages.h"
#include "resource/hooks.h"
#include "training/training_int.h"

#define REFUND_MAIL "training_payment_refunded"

static const struct mail_template refund_template = {
	REFUND_MAIL,
	"Your payment for booking {{booking_reference}} is being refunded",
	"Hello {{first_name}},\n\n"
	"{{what}}: {{why}}.\n\n"
	"{{how}}\n\n"
	"Your booking: {{link}}\n",
	"<p>Hello {{first_name}},</p><p>{{what}}: {{why}}.</p><p>{{how}}</p>"
	"<p><a href=\"{{link}}\">Your booking</a></p>",
	"{\"first_name\":\"Sam\",\"booking_reference\":\"RFT-2031-0001\","
	"\"amount\":\"75.00 GBP\",\"paid\":\"75.00 GBP\",\"what\":\"Your "
	"payment of 75.00 GBP for training booking RFT-2031-0001 is being "
	"refunded in full\",\"why\":\"the course was cancelled\",\"how\":"
	"\"The money goes back to the card you paid with.\","
	"\"link\":\"/bookings/0190a0b0-0000-7000-8000-000000000001\"}",
};

int
training_refund_mail_init(void)
{
	int rc = mail_template_register(&refund_template);

	return (rc == ERR_CONFLICT ? OK : rc);
}

int
training_refund_tell(struct tx *tx, const struct training_booking *b,
    const char *currency, int64_t paid, int64_t amount, const char *why,
    int manual)
{
	struct person_contact pc;
	json_t		     *vars;
	char		      money[48], whole[48], what[256], *link;
	int		      rc;

	memset(&pc, 0, sizeof(pc));
	if ((rc = hooks_contact(tx, b->user_id, 0, &pc)) != OK ||
	    pc.email == NULL) {
		hooks_contact_clear(&pc);
		return (rc == ERR_NOT_FOUND || rc == ERR_INVALID ||
			    rc == ERR_UNAVAILABLE || rc == OK
			? OK
			: rc);
	}
	/* As the currency's minor units go: 75.00 GBP, 5000 JPY. In full
	 * only when it is all that was paid; else what was left of it. */
	training_money_format(amount, currency, money, sizeof(money));
	training_money_format(paid, currency, whole, sizeof(whole));
	if (amount >= paid)
		snprintf(what, sizeof(what),
		    "Your payment of %s for training booking %s\nis being "
		    "refunded in full",
		    whole, b->reference);
	else
		snprintf(what, sizeof(what),
		    "Of your payment of %s for training booking %s,\n%s is "
		    "being refunded, all that was left of it after earlier "
		    "refunds",
		    whole, b->reference, money);
	vars = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "first_name",
	    pc.first_name != NULL ? pc.first_name : "there",
	    "booking_reference", b->reference, "amount", money, "paid", whole,
	    "what", what, "why", why, "how",
	    manual ? "We pay it back the way you paid us (bank transfer or as "
		     "agreed with\nyou) and will let you know when it is done."
		   : "The money goes back to the card you paid with; banks "
		     "take 5 to 10 days\nto show it.");
	link = pages_link(PAGE_BOOKING, b->id);
	rc = vars != NULL && link != NULL &&
		json_object_set_new(vars, "link", json_string(link)) == 0
	    ? hooks_mail(tx, pc.email, b->user_id, REFUND_MAIL, vars, NULL)
	    : ERR_NOMEM;
	free(link);
	json_decref(vars);
	hooks_contact_clear(&pc);
	if (rc == ERR_INVALID || rc == ERR_UNAVAILABLE) {
		log_warn("event=training_refund_mail_skipped booking_id=%s "
			 "code=%s",
		    b->id, err_code(rc));
		rc = OK;
	}
	return (rc);
}
