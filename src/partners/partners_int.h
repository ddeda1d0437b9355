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
/* The GDPR export of a person's accesses (erasure keeps them). */
struct gdpr_hook;
extern const struct gdpr_hook partner_access_gdpr_hook;
void			      partner_access_mine(struct request *);

/* codes.c */
/* A new random code (normalised). */
void partner_code_new(char out[PARTNER_CODE_LEN + 1]);
/* The keyed hash stored for a normalised code (hex, 64 + NUL). */
void partner_code_hash(const char *code, char out[PARTNER_CODE_HASH_LEN]);
void partner_access_validate(struct request *);
void partner_access_assign(struct request *);
/* The partners.prune_guesses job: drop guess windows that have ended. */
struct store;
struct job;
int partners_prune_guesses(struct store *, const struct job *, char *err);
/* Registration: the people module's register hook (people.h). */
int partners_register_check(struct request *, void **state);
int partners_register_apply(
    struct tx *, struct request *, const char *user_id, void *state);

/* reports.c */
/*
 * Reports: aggregates over a date range [from, to) of at most
 * REPORT_RANGE_MAX_MS, grouped by day, week (starting Monday) or month
 * in UTC; at most config report_max_rows rows.
 */
#define REPORT_RANGE_MAX_MS (5LL * 366 * 24 * 3600 * 1000)
void reports_list(struct request *);
void reports_run(struct request *);
/* 401 without a caller, 403 without reports:read:all (answered); OK
 * with the caller in *who (may be NULL). */
int reports_caller_admin(struct request *, struct principal **who);
/* 1 if name is a report of the catalogue. */
int report_known(const char *name);
/* One report to make: a GET's query, or a queued run's row. */
struct report_query {
	const char *name;     /* borrowed */
	int64_t	    from, to; /* ms, as report_args_parse checks */
	int	    period;   /* enum report_period */
	int	    csv;      /* else JSON */
};
struct report_out {
	char  *data; /* malloc'd; the caller frees it */
	size_t len;
	size_t rows;
	int    too_many_rows; /* ERR_TOO_LARGE: past report_max_rows */
};
/*
 * Make report q: the bytes of the answer GET /v1/reports/{name} gives
 * (compact JSON or the CSV), at most max of them, its rows and totals
 * read in one snapshot. ERR_NOT_FOUND: no such report; ERR_TOO_LARGE:
 * past report_max_rows rows (out->too_many_rows) or past max bytes;
 * ERR_BUSY, ERR_DB, ERR_UNAVAILABLE: the database.
 */
int report_make(struct store *, const struct report_query *q, size_t max,
    struct report_out *out);
/* 'attachment; filename="<report>_<from>_<to>_<period>.<csv|json>"'. */
#define REPORT_CD_LEN 256
void report_disposition(const struct report_query *, char *out, size_t len);

/* report_runs.c: reports made by the job queue, kept for a while. */
void report_runs_create(struct request *);
void report_runs_list(struct request *);
void report_runs_get(struct request *);
void report_runs_result(struct request *);
/* The report_runs.make and report_runs.prune jobs. */
int report_runs_make_job(struct store *, const struct job *, char *err);
int report_runs_prune_job(struct store *, const struct job *, char *err);

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
/* Report parameters: ?from= ?to= (required) ?period= ?format=. */
enum report_period {
	REPORT_PERIOD_DAY = 0,
	REPORT_PERIOD_WEEK,
	REPORT_PERIOD_MONTH
};
extern const char *const report_periods[]; /* by enum report_period */
struct report_args {
	int64_t from, to; /* ms, 0 <= from < to <= from + RANGE_MAX */
	int	period;	  /* enum report_period; month by default */
	int	csv;	  /* format=csv (json by default) */
};
/* OK, or ERR_INVALID with an entry in errs per bad parameter. Any of
 * the strings may be NULL (not sent). */
int report_args_parse(const char *from, const char *to, const char *period,
    const char *format, struct report_args *, json_t *errs);

#endif
