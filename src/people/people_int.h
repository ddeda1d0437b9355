/*
 * Private to src/people: what the module's files share. people.c holds
 * the module (routes, resources, init, seed); users.c the users resource
 * and /v1/me; auth.c register, login, logout, password change and reset;
 * sessions.c auth sessions and the request authenticator;
 * session_routes.c a person's sessions listed and ended; roles.c roles and
 * their permissions (and `carebase roles`); throttle.c failed-login
 * counting; passwords.c the password rules; cli.c `carebase user`; relationships.c and gdpr.c relationships, consent, export and
 * erasure; family.c a member's own family (invitations, children's
 * accounts), family_close.c how they are let go; chat_profile.c what the module tells others of a person.
 *
 * Contract with relationships.c and gdpr.c: people.c lists their routes
 * and resource by these names, so each must be defined there.
 */
#ifndef PEOPLE_PEOPLE_INT_H
#define PEOPLE_PEOPLE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/crypto.h"

struct buf;
struct request;
struct tx;
struct stmt;
struct store;
struct principal;
struct resource;

#define PEOPLE_EMAIL_MAX       320 /* bytes of an address */
#define PEOPLE_PASSWORD_MIN    12  /* code points */
#define PEOPLE_PASSWORD_MAX    128 /* code points */
#define PEOPLE_PASSWORD_BYTES  (PEOPLE_PASSWORD_MAX * 4)
#define PEOPLE_FINGERPRINT_MAX 256 /* X-Device-Fingerprint, bytes kept */
#define PEOPLE_AGENT_MAX       512 /* User-Agent, bytes kept */
/*
 * Last activity is written at most once a step: the idle timeout / 60,
 * from 1 s to a minute, so a session ends at most 1/60 of its timeout
 * early (1 s at the 60 s least timeout), never late.
 */
#define PEOPLE_ACTIVITY_STEP_MIN_MS 1000
#define PEOPLE_ACTIVITY_STEP_MAX_MS 60000
#define PEOPLE_WINDOW_MS	    3600000 /* failed-login counting window */
#define PEOPLE_BACKOFF_CAP_S	    900 /* longest wait between login tries */
/* "Someone tried to register with your address": one a window at most. */
#define PEOPLE_REGISTER_NOTICE_MS 3600000

/* users.c: the users resource, GET and PATCH /v1/me */
extern const struct resource users_resource;
void			     people_me_get(struct request *);
void			     people_me_patch(struct request *);

/* A user made outside the resource layer (register, CLI, seed). */
struct people_new_user {
	const char *email;	   /* NULL only for a child's (family.c) */
	const char *password_hash; /* may be NULL (set later by a reset) */
	const char *role;	   /* an existing role */
	const char *first_name;	   /* may be NULL */
	const char *last_name;
	const char *date_of_birth; /* "YYYY-MM-DD" or NULL */
	const char *country;
	const char *locale;
	const char *signup_language;
	int	    terms_accepted;   /* terms accepted now */
	int	    privacy_accepted; /* privacy notice accepted now */
	const char *created_by;	      /* who made it for them, or NULL */
	int	    unverified; /* self-registered: the address unproven */
};
/* Insert with sealed fields, data key and audit record; ERR_CONFLICT if
 * the email is taken. req may be NULL (CLI, seed). */
int people_user_insert(struct tx *, struct request *,
    const struct people_new_user *, char id_out[37]);
/* cli.c: people_user_add with every field of nu (password checked and
 * hashed here); *why says what a rule refused. */
int people_user_add_full(struct store *, struct people_new_user *nu,
    const char *password, char *id_out, const char **why);
/* The user's email, opened (malloc'd, caller frees); ERR_NOT_FOUND. */
int people_user_email(struct tx *, const char *user_id, char **out);
/* Current password hash of a live user into out; ERR_NOT_FOUND. */
int people_user_hash(
    struct tx *, const char *user_id, char out[PASSWORD_HASH_LEN]);
/* Verify password against user_id's hash; OK or ERR_UNAUTHORIZED. */
int people_user_verify(
    struct store *, const char *user_id, const char *password);

/* roles.c: GET /v1/roles, GET /v1/roles/{name}, PUT
 * /v1/roles/{name}/permissions, GET /v1/permissions */
void people_roles_list(struct request *);
void people_role_get(struct request *);
void people_role_permissions_put(struct request *);
void people_permissions_list(struct request *);

/* session_routes.c: GET /v1/me/sessions, DELETE /v1/me/sessions/{id},
 * POST /v1/me/sessions/end-others, and the same of a user for admins:
 * GET /v1/users/{id}/sessions, DELETE /v1/users/{id}/sessions/{session_id},
 * POST /v1/users/{id}/sessions/end-all */
void people_my_sessions_list(struct request *);
void people_my_session_end(struct request *);
void people_my_sessions_end_others(struct request *);
void people_user_sessions_list(struct request *);
void people_user_session_end(struct request *);
void people_user_sessions_end_all(struct request *);

/* auth.c: route handlers */
void people_auth_register(struct request *);
void people_auth_login(struct request *);
void people_auth_logout(struct request *);
struct job;
int people_audit_anchor_job(struct store *, const struct job *, char *err);
/* password_reset.c: route handlers and the reset job */
void people_me_password(struct request *);
void people_auth_reset(struct request *);
int  people_reset_job(struct store *, const struct job *, char *err);
void people_auth_reset_confirm(struct request *);
/*
 * Queue the reset job inside tx for email (ip: who asked, may be NULL;
 * sealed in the payload, then in the reset row under the person's key):
 * a set-password link mailed if the address has an active account, with
 * template (NULL: "password_reset"; "family_welcome": a child's account
 * made by their guardian).
 */
int people_reset_queue(
    struct tx *, const char *email, const char *ip, const char *template);
/* An address sealed for a job's payload under context (URL-safe base64,
 * malloc'd) and opened again (malloc'd, people_wipe_free it). */
int people_email_seal(const char *context, const char *email, char **b64);
int people_email_open(const char *context, const char *b64, char **email);

/* family.c: a member's own family (POST /v1/me/family/invite,
 * /v1/me/family/children), the invitation job, and the table of
 * invitations as export and erasure follow it */
void people_family_invite(struct request *);
void people_family_child(struct request *);
int  people_family_invite_job(struct store *, const struct job *, char *err);
extern const struct resource family_invites_resource;
/* Migrations 0030 and 0037 applied: OK; else ERR_UNAVAILABLE, with 503
 * MIGRATIONS_PENDING on req unless it is NULL. */
int people_family_ready(struct tx *, struct request *);
/* The name on user_id's account as mail names them ("First Last", or "A
 * carebase member"), into out. */
int people_family_name(struct tx *, const char *user_id, char *out, size_t n);
/* family_close.c: POST /v1/me/family/invites/{id}/withdraw, POST
 * /v1/auth/family-welcome/refuse, the nightly people.family_expire, and
 * the welcome mail's guardian and "this is not me" link: vars gets
 * "guardian", "refuse_link" and "refuse_days" for child_id's welcome to
 * email; ERR_NOT_FOUND when no guardian's record of the account is left. */
void people_family_withdraw(struct request *);
void people_family_refuse(struct request *);
int  people_family_expire_job(struct store *, const struct job *, char *err);
int  people_family_welcome(
     struct tx *, const char *child_id, const char *email, json_t *vars);
/* relationships.c: set guardians_answer of relationship id, pending
 * guardian_of, from its follower's age (under the consent age: 1). */
int people_guardians_answer_set(struct tx *, const char *id);

/* sessions.c */
struct people_session {
	char	id[37];
	char	token[TOKEN_LEN]; /* given once to the client */
	int64_t created_at;
	int64_t expires_at; /* absolute */
	int64_t idle_timeout_ms;
};
/* Start a session for user_id (ip, agent, fingerprint from req). */
int people_session_start(struct tx *, struct request *, const char *user_id,
    int is_staff, struct people_session *out);
/* The sealed details of a session: ip, user_agent, device_fingerprint. */
#define PEOPLE_SESSION_DETAILS 3
/*
 * Column col of st, the sealed detail which (0 ip, 1 user_agent, 2
 * device_fingerprint) of session id, opened under its user's key: a
 * string, or null when NULL, when key is NULL (the user erased) or when
 * it does not open.
 */
json_t *people_session_detail(const unsigned char *key, struct stmt *st,
    int col, int which, const char *id);
/* Seal the rows migration 0033 carried over in clear (start-up). */
int people_sessions_seal_legacy(struct store *);
/* The request authenticator given to resource_set_auth. */
int people_authenticate(struct request *, struct principal **out);
/* End one session. */
int people_session_end(struct tx *, const char *session_id, const char *reason);
/*
 * End every live session of user_id except except_session_id (NULL = all),
 * recording reason ("password_changed", "password_reset", "deactivated",
 * "erased", "deleted", "role_changed", "email_refused": family_close.c). For gdpr.c and the users resource's after_write.
 */
int people_sessions_end(struct tx *, const char *user_id,
    const char *except_session_id, const char *reason);
/* 409 LAST_ADMIN (problem set) when no active admin remains; call inside
 * the write that may have removed one. */
int people_last_admin_guard(struct request *, struct tx *);
/*
 * Tell the modules watching user_id's own fields (hooks_fields_watch,
 * resource/hooks.h) of a change: for an update,
 * those watching a field that differs between old and row; with old and
 * row NULL, those watching last_active_at (sign-in, activity).
 */
int people_user_changed(
    struct tx *, const char *user_id, json_t *old, json_t *row);

/*
 * session_cache.c: what the authenticator read of a session and its
 * user, kept a short while per process (session_cache_ttl_ms) so most
 * requests do not read it again. Dropped in this process once a change
 * commits (people_session_cache_forget_tx), in the others by PostgreSQL
 * NOTIFY (migration 0050's triggers); on SQLite each entry carries the
 * auth_changes counter it was read with, and a hit is taken only while
 * the counter is still that.
 */
struct people_auth {
	char	session_id[37];
	char	user_id[37];
	char	role[32];
	char	audit_ref[37];
	int64_t last_activity_at;
	int64_t idle_timeout_ms;
	int64_t expires_at;
	int64_t ended_at;
	int64_t changes; /* SQLite: auth_changes.n read with the row */
	int	is_active;
	int	deleted;
	int	is_staff;
};
/* Start the cache for this process (the listener on PostgreSQL): once,
 * a failed start tried again a second later; later calls do nothing.
 * Safe against a stop on another thread. */
void people_session_cache_start(struct store *);
void people_session_cache_stop(void);
/* A request's session taken from the cache (hit 1) or read (0). */
void people_session_cache_counted(int hit);
/* GET /metrics: carebase_session_cache_{hits,misses}_total, _usable. */
int people_session_cache_metrics(struct buf *);
/* 1 when entries may be taken and kept: enabled in config and, on
 * PostgreSQL, the listener listening. */
int people_session_cache_usable(void);
/* The generation a lookup starts under: people_session_cache_put keeps
 * its row only if nothing was forgotten since. */
uint64_t people_session_cache_gen(void);
/* OK with *out a copy of the entry of token hash, ERR_NOT_FOUND. */
int people_session_cache_get(
    const char *hash, int64_t now, struct people_auth *out);
void people_session_cache_put(
    const char *hash, const struct people_auth *, uint64_t gen, int64_t now);
/* Last activity written at `at` for the entry of hash (if still there). */
void people_session_cache_touched(const char *hash, int64_t at);
/* Drop the entries of a user or a session (either id), NULL or "" all. */
void people_session_cache_forget(const char *id);
/* The same now and once tx commits (store_tx_after_commit). */
void people_session_cache_forget_tx(struct tx *, const char *id);

/* Pure pieces, exposed for tests. */
/* OK when live at now, ERR_UNAUTHORIZED when idle, past expiry or ended. */
int people_session_live(int64_t now, int64_t last_activity_at,
    int64_t idle_timeout_ms, int64_t expires_at, int64_t ended_at);
/* How often last activity is written for a session of this timeout. */
int64_t people_activity_step(int64_t idle_timeout_ms);
/* Token from "Bearer <token>" into *tok (borrowed); ERR_MALFORMED. */
int people_bearer_parse(const char *header, const char **tok, size_t *len);
/* 1 if a raw query string carries a credential: a key such as
 * access_token, or a value equal to bearer (may be NULL) or "Bearer ...". */
int people_query_has_token(
    const char *query, const char *bearer, size_t bearer_len);

/* web_session.c: the browser's session by cookie, and CSRF (docs/WEB.md) */
#define PEOPLE_SESSION_COOKIE "carebase_session"
#define PEOPLE_CSRF_COOKIE    "carebase_csrf"
/* 1 when the request asks for a cookie session: X-Carebase-Client: web. */
int people_web_client(const struct request *);
/* 1 when the request's caller came by cookie (no Authorization header). */
int people_web_by_cookie(const struct request *);
/*
 * The token of the carebase_session cookie (for a request with no
 * Authorization header) into *tok (borrowed) and *len; *tok NULL when
 * there is none. A bad one is refused: 401 (both cookies cleared), 431
 * COOKIE_TOO_LARGE past the Cookie parser's bounds; problem set.
 */
int people_cookie_token(struct request *, const char **tok, size_t *len);
/* A cookie refused as credentials (the authenticator's 401): both
 * cookies cleared when the request authenticated by cookie. */
void people_web_refused(struct request *);
/* The CSRF value of session_id: 43 chars, URL-safe base64. */
int people_csrf_value(const char *session_id, char out[TOKEN_LEN]);
/* A cookie-authenticated request of session_id other than GET, HEAD or
 * OPTIONS: OK, or 403 CSRF_FAILED (problem set) when X-CSRF-Token is not
 * the session's value or Origin is another site's. */
int people_csrf_check(struct request *, const char *session_id);
/* Set-Cookie: the session's (when with_session: token) and its CSRF's,
 * for max_age_s seconds. */
int people_web_cookies_set(struct request *, const char *token,
    const char *session_id, int64_t max_age_s, int with_session);
/* Set-Cookie: both cleared (Max-Age=0). */
void people_web_cookies_clear(struct request *);
/* GET /v1/auth/session, GET /v1/auth/csrf */
void people_auth_session_get(struct request *);
void people_auth_csrf_get(struct request *);

/* throttle.c: failed logins per account and client address, per account,
 * per client address */
/*
 * Count this login attempt before the password is checked, so parallel
 * attempts are counted exactly. client is the address's limit key
 * (req->client_key). ERR_RATE_LIMIT with *retry_after_s when the account
 * from this address, the account or the address must wait (nothing
 * counted then).
 */
int people_throttle_reserve(struct store *, const char *email_index,
    const char *client, int64_t now, int *retry_after_s);
/*
 * The request's attempt at email counted (people_throttle_reserve) under
 * its blind index (written to index) and the request's client (*client):
 * OK, or the problem answered: 429 with Retry-After ("too many <what>"),
 * else failed (the detail given).
 */
int people_throttle_gate(struct request *, const char *email, char index[65],
    const char **client, const char *what, const char *failed);
/* The password was right: the attempt was no failure. Forget the account's
 * failures from this address; the account's and the address's other
 * failures stay counted. */
int people_throttle_success(
    struct tx *, const char *email_index, const char *client);
/* The password was changed or reset: forget every failure of the account. */
int people_throttle_forget(struct tx *, const char *email_index);
/*
 * Pure: after the n-th counted attempt in a window that started at
 * window_start, the time before which the next attempt is refused
 * (0 = none): 2^(n-after) s from now (cap PEOPLE_BACKOFF_CAP_S) once n
 * reaches after, the end of the window once n reaches max.
 */
int64_t people_throttle_lock(
    int64_t n, int64_t after, int64_t max, int64_t window_start, int64_t now);
/* Seconds to announce in Retry-After for a lock ending at until. */
int people_retry_after(int64_t until, int64_t now);

/* passwords.c */
/* OK, or ERR_INVALID with *why ("too_short", "too_long", "common",
 * "same_as_email", "not_utf8", "contains_nul"). len: bytes of pw. */
int people_password_check(
    const char *pw, size_t len, const char *email, const char **why);
/* Code points of valid UTF-8 text, or -1. */
long people_utf8_count(const char *s, size_t len);
/* 1 if pw is in the common-password list (case-insensitive). */
int people_password_common(const char *pw);
/* A hash of a password nobody has, for timing-equal refusals. */
const char *people_password_dummy(void);

/* relationships.c (colleague): the relationships resource */
extern struct resource relationships_resource;
/* At start, before serving: migration 0037 pending, the relationships'
 * scopes go without its column (relationships.c). */
int people_relationships_init(struct store *);
/* sessions.c: the auth_sessions table, for the GDPR export and erasure. */
extern const struct resource auth_sessions_resource;
/* password_reset.c: the password_resets table, likewise. */
extern const struct resource password_resets_resource;

/* email_verify.c: address verification and staff invitations */
extern const struct resource email_tokens_resource;
int			     people_email_templates_init(void);
int people_mail_gate(struct tx *, const char *to, const char *user_id,
    const char *template, int *allowed);
/* Mail user_id a new verification link (earlier ones end). */
int people_verify_send(struct tx *, const char *user_id);
/* Mail user_id an invitation to set their password, as role. */
int people_invite_send(struct tx *, const char *user_id, const char *role);
/* Mark user_id's address verified (now), unless it is already. */
int people_email_verified(struct tx *, const char *user_id);
/*
 * End every open link of user_id (verification, invitation, password
 * reset): used, so it answers as a used one does. An address changed,
 * an account deactivated or deleted: none comes back to life.
 */
int people_tokens_end(struct tx *, const char *user_id);
/*
 * user_id's sign-in address changed from old_email (the row holds the new
 * one): the address is unproven again, every open link ends, the new
 * address gets a verification link (an invited staff member without a
 * password: a new invitation) and the old one, if it was proven, a notice
 * (old_email NULL: there was none, no notice).
 */
int people_email_changed(
    struct tx *, const char *user_id, const char *old_email);
/* user_id's sign-in address taken off: nothing is proven, no link open. */
int people_email_dropped(struct tx *, const char *user_id);
/* Tell owner_id, at their stored address, that someone tried to register
 * with it or take it (at most once per PEOPLE_REGISTER_NOTICE_MS; an
 * inactive or deleted owner: nothing). */
int  people_register_notice(struct tx *, const char *owner_id);
void people_auth_verify_email(struct request *);
void people_auth_verify_resend(struct request *);
void people_auth_set_password(struct request *);

/* gdpr.c (colleague): GET /v1/me/export, DELETE /v1/me,
 * GET /v1/users/{id}/export, POST /v1/users/{id}/erase */
void people_me_export(struct request *);
void people_me_erase(struct request *);
void people_user_export(struct request *);
void people_user_erase(struct request *);
/*
 * Erase user_id again, from the erasure journal: as DELETE /v1/me does,
 * without a caller or the last-admin rule, audited as replayed; a data
 * key left beside a row erased already is destroyed. *erased: the row
 * was erased now; *was_admin: it was an admin's.
 */
int people_erase_replayed(
    struct store *, const char *user_id, int *erased, int *was_admin);

/*
 * Serialise a write about one person with their erasure: the erasure takes
 * it first, so a write that takes it too either finishes before the
 * erasure (whose hooks then see it) or waits and finds the person gone
 * (check deleted_at again after taking it). PostgreSQL advisory lock for
 * the transaction; SQLite write transactions are serial already.
 */
int people_user_lock(struct tx *, const char *user_id);
/*
 * Lock user_id's row (SELECT ... FOR UPDATE on PostgreSQL; SQLite write
 * transactions are serial already) so that what is read of it (its
 * address) stays so until the transaction ends: a change of address
 * commits before or after, never in between. ERR_NOT_FOUND when
 * email_index is given and the live row no longer has it.
 */
int people_user_row_lock(
    struct tx *, const char *user_id, const char *email_index);

/* chat_profile.c: what people tells of a person (resource/hooks.h: the
 * contact, held addresses, its part of the chat profile); at start-up. */
int people_profile_init(void);

/* erasures.c: append one erasure to the journal, fsynced; ERR_IO. */
int people_erasures_append(const char *user_id, int64_t at);
/*
 * erasures.c: an erasure of user_id journalled at `at` whose transaction
 * then failed with rc. Is the person erased after all (a COMMIT whose
 * answer was lost may have taken effect)? Looked at in a fresh
 * transaction under the person's lock. Erased: PEOPLE_ERASE_MADE, the line
 * stays. Not: the line is withdrawn (PEOPLE_ERASE_WITHDRAWN), or could not
 * be (PEOPLE_ERASE_KEPT). Not found out: PEOPLE_ERASE_UNKNOWN. Logged.
 */
enum {
	PEOPLE_ERASE_UNKNOWN,
	PEOPLE_ERASE_MADE,
	PEOPLE_ERASE_WITHDRAWN,
	PEOPLE_ERASE_KEPT,
};
int people_erasures_settle(
    struct store *, const char *user_id, int64_t at, int rc);

/* What auth.c and password_reset.c share. */
#define PEOPLE_TOKEN_INPUT_MAX 128 /* bytes of a token as sent */
/* A live account found by its email's blind index. */
struct people_account {
	char id[37];
	char hash[PASSWORD_HASH_LEN];
	char role[32];
	char audit_ref[37];
	int  is_staff;
	int  usable;	 /* active, with a password: may log in */
	int  resettable; /* active (a password or not): may reset it */
};

/* What the transactions of this file are handed. */
struct people_auth_op {
	struct request	      *req;
	struct principal      *who;
	const char	      *email;
	const char	      *index;
	char		       user_id[37];
	char		       hash[PASSWORD_HASH_LEN];
	char		       token_hash[TOKEN_HASH_LEN];
	const char	      *link;
	char		      *link_buf; /* owned, when link is ours */
	const char	      *ip;	 /* the requester (login: limit key) */
	struct people_account *acct;
	struct people_session  session;
	struct people_new_user nu;
	int		       rehash;
	int		       taken; /* register: the address has an account */
	void		      *ext;   /* register_hook's state */
	const char	      *mail_template; /* the reset job's mail */
};

/* A 422 with one entry for field; returns ERR_INVALID. */
int people_field_error(
    struct request *, const char *field, const char *code, const char *detail);
/* A string member of the JSON body, bounded; NULL (problem set) when
 * missing (and required), not a non-empty string, or too long. */
const char *people_body_string(
    struct request *, const char *name, size_t max, int required);
/* The live account of a blind index into *a (a->id "" when none). */
int people_account_find(
    struct store *, const char *index, struct people_account *a);
/* Wipe and free a malloc'd secret; NULL is fine. */
void people_wipe_free(char *);

#endif
