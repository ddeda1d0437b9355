/*
 * The partners module (seeds 000 and 002): partner organisations and
 * their branding, the features they switch on, their admins, and partner
 * access: one grant of features (live chat, therapy sessions) to one
 * user, redeemed once with a 6-character code or made at registration.
 * See partners_int.h for how the files divide it.
 *
 * What other modules may use: the rows of the partner a partner admin
 * administers, for a resource whose related scope is "my partner's rows"
 * (therapy bookings): scope_where[SCOPE_RELATED] = "partner_id IN ("
 * PARTNERS_ADMINISTERED ")", with partners_admin_check as before_list.
 */
#ifndef PARTNERS_PARTNERS_H
#define PARTNERS_PARTNERS_H

struct module;
struct resource_ctx;

extern const struct module partners_module;

/* The partner the caller (?) administers: an active partner_admins row of
 * an active partner. */
/* clang-format off */
#define PARTNERS_ADMINISTERED						\
	"SELECT pa.partner_id FROM partner_admins pa JOIN partners pp ON "	\
	"pp.id = pa.partner_id WHERE pa.user_id = ? AND pa.is_active = 1 "	\
	"AND pp.is_active = 1"
/* clang-format on */

/*
 * A list's before_list hook: a caller listing with related scope who
 * administers no active partner is refused (403) rather than answered an
 * empty list.
 */
int partners_admin_check(struct resource_ctx *);

#endif
