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
struct tx;

extern const struct module partners_module;

/*
 * The partner user_id administers (an active partner_admins row of an
 * active partner): its id into out (37); ERR_NOT_FOUND without one.
 */
int partners_admin_of(struct tx *, const char *user_id, char *out);

/*
 * A partner by id or by name (without regard to case): id into id_out
 * (37), name into name_out (may be NULL; PARTNER_NAME_MAX * 4 + 1 bytes),
 * *active; ERR_NOT_FOUND.
 */
int partners_find(struct tx *, const char *id_or_name, char *id_out,
    char *name_out, int *active);

/* The partner the caller (?) administers: an active partner_admins row of
 * an active partner. */
/* clang-format off */
#define PARTNERS_ADMINISTERED						\
	"SELECT pa.partner_id FROM partner_admins pa JOIN partners pp ON "	\
	"pp.id = pa.partner_id WHERE pa.user_id = ? AND pa.is_active = 1 "	\
	"AND pp.is_active = 1"
/* clang-format on */

/*
 * SQL: the active accesses of active partners that user (an SQL
 * expression: "?" or a column) holds, as a FROM clause with its WHERE
 * (partner_access pa, partners pt): "SELECT pt.name_key FROM "
 * PARTNERS_ACTIVE_ACCESS("?"). The one rule of a partner user: what
 * their partners include (learning), their chat profile's partners and
 * features (partners/chat_profile.c), and who is no public user below.
 */
/* clang-format off */
#define PARTNERS_ACTIVE_ACCESS(user)					\
	"partner_access pa JOIN partners pt ON pt.id = pa.partner_id "	\
	"WHERE pa.user_id = " user " AND pa.is_active = 1 AND "		\
	"pa.deleted_at IS NULL AND pt.is_active = 1"
/* clang-format on */

/*
 * SQL: user (an SQL expression: "?", then bound twice, or a column) is a
 * public user (seed 002: one who "joins Bloom without a partner"): they
 * hold no active access of an active partner and are no active partner
 * admin (the seed's own kind of user). The only definition: a public
 * user's chat access on live courses (learning/chat_profile.c) goes by
 * it.
 */
/* clang-format off */
#define PARTNERS_PUBLIC_USER(user)					\
	"NOT EXISTS (SELECT 1 FROM " PARTNERS_ACTIVE_ACCESS(user) ") AND "	\
	"NOT EXISTS (SELECT 1 FROM partner_admins pad WHERE pad.user_id = "	\
	user " AND pad.is_active = 1)"
/* clang-format on */

/*
 * A list's before_list hook: a caller listing with related scope who
 * administers no active partner is refused (403) rather than answered an
 * empty list.
 */
int partners_admin_check(struct resource_ctx *);

#endif
