/*
 * Private to src/partners. partners.c holds the module (routes,
 * resources, init), the partners, features, partner_features and
 * partner_admins resources, the public branding route and the helpers
 * below; access.c the partner_access resource (the rows staff create,
 * list and change, and their holders read) with its own rules; codes.c
 * the codes themselves: how they are made, normalised and hashed, guess
 * throttling, validate-code, assign and redemption at registration;
 * input.c the pure parsers of what comes from outside (codes and the
 * bodies carrying them, report parameters), which the fuzz targets run.
 * Therapy bookings, which spend an access's sessions, are their own
 * module (src/bookings).
 */
#ifndef PARTNERS_PARTNERS_INT_H
#define PARTNERS_PARTNERS_INT_H

#include <stdint.h>

#include <jansson.h>

#include "core/crypto.h"
#include "core/fold.h"
#include "core/util.h"
#include "partners/partners.h"
#include "resource/resource.h"

struct request;
struct tx;
struct stmt;
struct principal;
struct resource;

#define PARTNER_NAME_MAX   64	/* code points of a partner's name */
#define PARTNER_URL_MAX	   2048 /* bytes of a logo, website or social URL */
#define PARTNER_SOCIAL_MAX 16	/* members of social_links */
/* Bytes of a name key (partners.name_key) with its NUL. */
#define PARTNER_NAME_KEY_SIZE FOLD_OUT_MAX(PARTNER_NAME_MAX * 4)

/*
 * Codes: PARTNER_CODE_LEN characters drawn uniformly (libsodium's
 * randombytes_uniform) from PARTNER_CODE_ALPHABET, the upper-case letters
 * and digits without the look-alikes 0, O, 1, I and L: 31 symbols, so
 * 31^6 = 887,503,681 codes (29.7 bits). Input is case-insensitive
 * (upper-cased, surrounding blanks dropped) before it is hashed.
 */
#define PARTNER_CODE_LEN       6
#define PARTNER_CODE_ALPHABET  "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
#define PARTNER_CODE_INPUT_MAX 64 /* bytes of a code as typed */
#define PARTNER_CODE_HASH_LEN  65 /* hex of the keyed hash, and NUL */
#define PARTNER_CODE_TTL_MS    (365LL * 24 * 3600 * 1000) /* a year */

/*
 * Guessing: failed look-ups (DOES_NOT_EXIST) per client address and per
 * account within a window; past the limit every look-up is refused (429,
 * Retry-After) until the window ends.
 */
#define PARTNER_GUESS_WINDOW_MS	  (15LL * 60 * 1000)
#define PARTNER_GUESS_MAX_ACCOUNT 10
#define PARTNER_GUESS_MAX_IP	  30

/* therapy_sessions_remaining a creator may set, by their scope. */
#define PARTNER_SESSIONS_MAX_RELATED 6	/* a partner admin */
#define PARTNER_SESSIONS_MAX_ALL     50 /* an admin */

#define PARTNER_LIST_MAX 200

/* partners.c */
extern const struct resource partners_resource;
extern const struct resource features_resource;
extern const struct resource partner_features_resource;
extern const struct resource partner_admins_resource;
void			     partners_public_get(struct request *);
/* partners_admin_of, partners_find: partners.h */
/* OK if partner_id has feature switched on (active), else ERR_NOT_FOUND. */
int partners_feature_on(
    struct tx *, const char *partner_id, const char *feature);
/* Append {"field", "code", "detail"} to errs. */
#define partners_err resource_field_err
/* Answer 422 with errs (taken) when it has entries: returns ERR_INVALID;
 * OK (errs freed) when empty. */
#define partners_errs_answer resource_errs_answer

/* names.c */
/*
 * The key a partner's name is unique by and found by (partners.name_key):
 * the name under Unicode simple case folding (core/fold.h) into out
 * (PARTNER_NAME_KEY_SIZE). ERR_INVALID for a name that is not UTF-8 or
 * longer than PARTNER_NAME_MAX * 4 bytes (out is then "").
 */
int partners_name_key(const char *name, char *out);
/* A body naming the partner's name gets its key (name_key), and 409
 * NAME_TAKEN when another partner has that key (ctx->id: not this one). */
int partners_name_key_set(struct resource_ctx *, json_t *body);
/* Start-up: partners from before migration 0014 get their name key. */
struct store;
int partners_name_keys_fill(struct store *);

/* access.c */
extern const struct resource partner_access_resource;
/* GET /v1/me/partner-access: the caller's own. */
void partner_access_mine(struct request *);

/* codes.c */
/* A new random code (normalised). */
void partner_code_new(char out[PARTNER_CODE_LEN + 1]);
/* The keyed hash stored for a normalised code (hex, 64 + NUL). */
void partner_code_hash(const char *code, char out[PARTNER_CODE_HASH_LEN]);
void partner_access_validate(struct request *);
void partner_access_assign(struct request *);
/* Redeem access_id for user_id with no request and no actor (the demo
 * seed): OK, or ERR_CONFLICT when the code may not be redeemed. */
int partner_access_redeem(
    struct tx *, const char *access_id, const char *user_id);

/* seed.c: a demo partner for `carebase seed` */
struct seed_accounts;
int partners_seed(struct store *, struct seed_accounts *);
/* The partners.prune_guesses job: drop guess windows that have ended. */
struct store;
struct job;
int partners_prune_guesses(struct store *, const struct job *, char *err);
/* Registration: the people module's register hook (people.h). */
int partners_register_check(struct request *, void **state);
int partners_register_apply(
    struct tx *, struct request *, const char *user_id, void *state);

/* input.c: the pure parsers of outside input (no database, no HTTP), shared
 * by the handlers and the fuzz targets. */
/*
 * Normalise a code as typed: blanks around it dropped, upper-cased; OK
 * when the rest is PARTNER_CODE_LEN characters of the alphabet (out gets
 * them), ERR_INVALID otherwise.
 */
int partner_code_normalise(const char *in, char out[PARTNER_CODE_LEN + 1]);
/* A code and the partner it is for, as a request body gives them. */
struct partner_code_input {
	char	    code[PARTNER_CODE_LEN + 1]; /* "": none sent */
	const char *partner;	/* a name or id (borrowed), or NULL */
	const char *partner_id; /* a UUID (borrowed), or NULL */
	int	    bad_code;	/* refused: the code is not one */
};
/*
 * The body of validate-code and assign, {"code", "partner"?}: OK;
 * ERR_INVALID with an entry in errs per bad or unknown member;
 * ERR_MALFORMED when the body is not an object, or with bad_code set
 * when the code is missing or not one (400 INVALID_CODE).
 */
int partner_code_body(json_t *body, struct partner_code_input *, json_t *errs);
/*
 * The partner members of a registration body: partner_access_code
 * (null: none), partner_id (a UUID), partner (a name or id). As
 * partner_code_body, but unknown members are not this parser's to judge.
 */
int partner_register_body(
    json_t *body, struct partner_code_input *, json_t *errs);

/*
 * The parts of a person's chat profile (resource/hooks.h), registered by
 * partners_init (chat_profile.c): partners, features and session counts,
 * and a partner's members.
 */
int partners_profile_init(void);

#endif
