/*
 * Chat profile sync (issue 6, part 6; seeds 000 and 002: the "Crisp
 * profiles" that reflect a user's partners, access and course progress).
 *
 * Coalescing. chat_profile_touch runs inside the transaction that changed
 * something. It upserts the user's chat_profile_sync row (which holds the
 * row lock until that transaction ends, so touches of one user are
 * serialised) and, unless the row names a job still in the queue, queues
 * one chat.profile_sync job chat_sync_delay_ms ahead and names it there.
 * A touch that finds its job still queued only sets dirty. Each attempt of
 * the job first names itself and clears dirty, then reads the profile: a
 * change committed before that is in what it reads; one committed after
 * sets dirty again, and the job, once done, queues a follow-up instead of
 * letting go of the row. So a burst of changes makes one push, and no
 * change is left unpushed. A job whose row names another job, or whose
 * job is gone from the queue (buried, retried by hand), is harmless: at
 * worst a profile is pushed twice.
 *
 * The job (payload {"user_id"} only). It reads the user and skips one
 * that is erased or deleted; else it builds the profile below, and when
 * its digest (keyed BLAKE2b-256 of people id and profile) equals the one
 * last pushed, it stops there. Otherwise it sends, with HTTP basic auth
 * (chat_sync_identifier : chat_sync_key) and X-Crisp-Tier: plugin,
 *
 *	PUT <chat_sync_url>/website/<website id>/people/data/<email>
 *	{"data": {...}}
 *
 * Crisp's "save people data", which replaces the person's data with ours
 * (so a course or partner that went away goes from the profile too). The
 * person is identified by their email, opened with their data key; it is
 * sent to the provider only, never logged, queued or kept in an error.
 * When the provider has no such person (404), the profile is made first
 * (POST .../people/profile {"email", "person": {"nickname"}}, the first
 * name or else the part of the address before the @) and the data sent
 * again. A 2xx is success; 408, 429, 5xx, a timeout or no connection fail
 * the attempt and the queue retries with backoff (CHAT_SYNC_ATTEMPTS
 * attempts); any other answer gives up at once (failed_jobs, with the
 * status and Crisp's reason). At most CHAT_RESPONSE_MAX bytes of an answer
 * are read.
 *
 * The person's address changes (PATCH /v1/me, an admin's PATCH of the
 * user): the profile stored under the old address must not stay there.
 * The sync row remembers the addresses the provider may hold a profile
 * under, sealed under the user's data key: pushed_identity (the last push
 * that landed) and pending_identity (a push under way or failed, which
 * may have made one). Before pushing, the job deletes the profile under
 * each of them that is not the current address,
 *
 *	DELETE <chat_sync_url>/website/<website id>/people/profile/<email>
 *
 * (Crisp's "remove people profile"; 2xx or 404 is done), then records the
 * current address as pending, then pushes; only a push that landed
 * replaces pushed_identity and clears pending_identity. A delete that
 * fails fails the attempt like a push (retried, or failed_jobs), and the
 * old address stays recorded until a delete of it has succeeded. A
 * profile is "unchanged" only when the digest matches and it was pushed
 * under the current address with nothing pending.
 *
 * Erasure (people's GDPR hook, run before the data key is destroyed)
 * forgets the row and queues one chat.profile_delete job per address the
 * provider may hold (pushed, pending; for a row pushed before migration
 * 0013 and not sealed since, the current address), whose payload is the
 * user id and the address sealed under the system key (bound to
 * "jobs.chat_profile_delete:<user id>"), so it is in clear nowhere in the
 * database; the job sends the DELETE above, retried with backoff like a
 * push and put in failed_jobs when it gives up. A push that lands after
 * the erasure committed (it read the profile before), or fails after
 * marking its address pending, finds the row gone and queues the same job
 * for its address. Erasure queues them with chat_sync_url empty too (the
 * job then waits in failed_jobs for a retry once it is set), reads the
 * data key only for a row with addresses, and is never refused for a key
 * that does not open (logged; nothing queued).
 *
 * No DELETE (the job's, or a push's of an old address) is sent for an
 * address that another user who is not erased holds now (by its blind
 * index): the profile under it is theirs, and the delete counts as done.
 * At start-up, rows pushed before migration 0013 get the user's current
 * address sealed into pushed_identity. The attempt's writes to the row
 * (pending, pushed) are made only while the row names its job; a chat job
 * makes at most CHAT_SYNC_REQUESTS requests, and config requires that many
 * timeouts to fit in job_timeout_s, so it is not reclaimed while running.
 *
 * Besides the partners module's and learning's touches, people tells of
 * changes to the user's own fields below, and of their email and first
 * name (hooks_fields_watch; last_active_at on sign-in and at most
 * hourly on activity): those push the profile of a user who has one
 * already (a chat_profile_sync row), and make none.
 *
 * The profile: flat keys and values, times ISO 8601 UTC ("" when none).
 * From the user row: signed_up_at, last_active_at,
 * email_reminders_frequency, marketing_permission and
 * service_emails_permission; the rest is the modules' parts
 * (hooks_profile_register, resource/hooks.h), each documented where it
 * is made: partners, features and session counts
 * (partners/chat_profile.c), therapy session times
 * (partners/bookings_profile.c), course states (learning/chat_profile.c).
 * A change of a partner touches the profiles of its members
 * (hooks_members).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/log.h"
#include "core/util.h"
#include "module.h"
#include "ops/chatsync.h"
#include "resource/hooks.h"
#include "resource/seal.h"
#include "store/jobs.h"
#include "store/store.h"

#define CHAT_SYNC_KIND	    "chat.profile_sync"
#define CHAT_FORGET_KIND    "chat.profile_delete"
#define CHAT_FORGET_AD	    "jobs.chat_profile_delete:"
#define CHAT_PEOPLE_ID_MAX  320 /* bytes of an address, as people's */
#define CHAT_SYNC_QUEUE	    "chat"
#define CHAT_SYNC_ATTEMPTS  10		/* ~17 min with the default backoff */
#define CHAT_RESPONSE_MAX   (64 * 1024) /* bytes of an answer read */
#define CHAT_WEBSITE_ID_MAX 128
#define CHAT_REASON_MAX	    64
#define DIGEST_LEN	    65
#define CHAT_LEGACY_BATCH   100 /* rows sealed per transaction */

/* What the job read; strings malloc'd (personal ones wiped on free). */
struct profile {
	const char    *user_id;
	int64_t	       now;
	int	       gone;	/* erased or unknown: not sent */
	int	       deleted; /* deleted, not erased: not sent */
	char	      *email;	/* the people id */
	char	      *nickname;
	char	      *pushed;	/* pushed_identity opened; NULL: none */
	char	      *pending; /* pending_identity opened, or NULL */
	unsigned char *sealed;	/* email sealed as the row's identity */
	size_t	       sealed_len;
	json_t	      *data;
	char	       last_digest[DIGEST_LEN]; /* "" = never pushed */
};

/* The end of an attempt (and its pending mark), run by store_run. */
struct sync_end {
	const char	    *user_id;
	const char	    *job_id;
	const char	    *digest;	/* pushed: store it; NULL: not pushed */
	const char	    *people_id; /* what was pushed, borrowed */
	const unsigned char *identity;	/* it sealed for the row, borrowed */
	size_t		     identity_len;
	int		     release; /* done, or failed for good */
	int		     gone;    /* the user is erased: forget the row */
	int		     found;   /* pending_tx: the row is there */
	int		     superseded; /* pending_tx: it names another job */
	int		     orphan;	 /* orphan_tx: delete queued */
};

/* Start-up: rows pushed before migration 0013, a batch at a time. */
struct legacy_batch {
	char	after[UUID_STR_LEN]; /* the batch starts after it */
	char	last[UUID_STR_LEN];  /* the batch's last user id */
	int64_t seen;		     /* rows of the batch */
	int64_t sealed;		     /* sealed in the batch */
};

/* Is an address another live user's? (chat_address_held_tx) */
struct held {
	const char *user_id;
	char	    index[65]; /* keyring_email_index of it */
	int	    held;
};

static int chatsync_init(struct store *);
static int chatsync_run(struct store *, const struct job *, char *err);
static int chatforget_run(struct store *, const struct job *, char *err);
static int profile_send(struct store *, struct profile *, struct sync_end *,
    const char *digest, char *err, int *give_up, const char **outcome);
static int pending_tx(struct tx *, void *);
static int orphan_tx(struct tx *, void *);
static int chatsync_seal_legacy(struct store *);
static int identity_column_tx(struct tx *, void *);
static int legacy_batch_tx(struct tx *, void *);
static int legacy_row(struct tx *, const char *user_id, int *sealed);
static int chat_address_held_tx(struct tx *, void *);
static int chat_forget_unless_held(struct store *, const char *kind,
    const char *user_id, const char *people_id, char *err, int *give_up,
    int *held);
static int identity_open(const unsigned char *key, const char *user_id,
    struct stmt *, int col, char **out);
static int profile_identities(
    struct tx *, struct profile *, const unsigned char *key);
static int chat_forget(
    const char *kind, const char *people_id, char *err, int *give_up);
static int chat_forget_enqueue(
    struct tx *, const char *user_id, const char *people_id);
static void    free_secret(char *);
static int     chatsync_enabled(void);
static int     chat_enqueue(struct tx *, const char *user_id, char *job_id);
static int     chat_profile_refresh(struct tx *, const char *user_id);
static int     sync_begin_tx(struct tx *, void *);
static int     sync_end_tx(struct tx *, void *);
static int     profile_load_tx(struct tx *, void *);
static int     profile_user(struct tx *, struct profile *);
static void    profile_clear(struct profile *);
static void    profile_digest(const struct profile *, char out[DIGEST_LEN]);
static json_t *iso_or_empty(struct stmt *, int);
static int     chat_push(const struct profile *, char *err, int *give_up);
static int chat_request(const char *kind, const char *method, const char *path,
    const char *people_id, const char *body, char *err, int *give_up);
static size_t chat_write(char *, size_t, size_t, void *);
static void   chat_reason(const struct buf *, char *out, size_t n);
static int    gdpr_export(struct tx *, const char *user_id, json_t *rows);
static int    gdpr_erase(struct tx *, const char *user_id);
static int    chat_changed(struct tx *, enum change, const char *);

static const struct job_kind chatsync_jobs[] = {
	{ CHAT_SYNC_KIND, chatsync_run, CHAT_SYNC_ATTEMPTS },
	{ CHAT_FORGET_KIND, chatforget_run, CHAT_SYNC_ATTEMPTS },
};

static const struct gdpr_hook gdpr_hook = {
	"chat_profile_sync",
	gdpr_export,
	gdpr_erase,
};

/* The user's own fields in the profile (the people id and nickname
 * too): a change of one pushes it again. */
static const char *const profile_user_fields[] = { "email", "first_name",
	"last_active_at", "email_reminders_frequency", "contact_permission",
	"service_emails_permission", NULL };

static const struct fields_watch change_hook = {
	"chat_profile",
	profile_user_fields,
	chat_profile_refresh,
};

const struct module chatsync_module = {
	"chatsync",
	NULL,
	0,
	chatsync_jobs,
	NELEM(chatsync_jobs),
	NULL,
	0,
	NULL,
	0,
	chatsync_init,
	NULL,
};

/*
 * A set chat_sync_url needs an http(s) URL and a website id that may
 * stand in a URL path; anything else stops start-up with one line.
 */
static int
chatsync_init(struct store *db)
{
	const char *u = config.chat_sync_url;
	const char *w = config.chat_sync_website_id;
	size_t	    i, n;
	int	    rc;

	if ((rc = hooks_gdpr_register(&gdpr_hook)) != OK && rc != ERR_CONFLICT)
		return (rc);
	if ((rc = hooks_change_listen(chat_changed)) != OK &&
	    rc != ERR_CONFLICT)
		return (rc);
	if ((rc = hooks_fields_watch(&change_hook)) != OK && rc != ERR_CONFLICT)
		return (rc);
	if (u[0] == '\0')
		goto seal;
	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
		log_error("event=config_invalid name=chat_sync_url "
			  "detail=\"must start with http:// or https://\"");
		return (ERR_CONFIG);
	}
	n = strlen(w);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)w[i]) && w[i] != '-' && w[i] != '_')
			break;
	if (n == 0 || n > CHAT_WEBSITE_ID_MAX || i < n) {
		log_error(
		    "event=config_invalid name=chat_sync_website_id "
		    "detail=\"needed with chat_sync_url: 1 to %d letters, "
		    "digits, - or _\"",
		    CHAT_WEBSITE_ID_MAX);
		return (ERR_CONFIG);
	}
seal:
	/* Rows pushed before migration 0013 get their identity now. */
	return (chatsync_seal_legacy(db));
}

/*
 * A row pushed before migration 0013 has pushed_at but no
 * pushed_identity: the profile is under the address the user had then,
 * which is taken to be the current one (as erasure does), sealed into
 * pushed_identity so that the next email change deletes it. Rows of
 * erased users, or whose key does not open, are left as they are.
 */
static int
chatsync_seal_legacy(struct store *db)
{
	struct legacy_batch lb;
	int64_t		    total = 0;
	int		    rc, has = 0;

	if ((rc = store_run(db, STORE_TX_READ, identity_column_tx, &has)) !=
		OK ||
	    !has)
		return (rc);
	memset(&lb, 0, sizeof(lb));
	do {
		if ((rc = store_run(
			 db, STORE_TX_WRITE, legacy_batch_tx, &lb)) != OK) {
			log_error("event=chat_identity_seal_failed status=%s",
			    err_code(rc));
			return (rc);
		}
		total += lb.sealed;
		memcpy(lb.after, lb.last, sizeof(lb.after));
	} while (lb.seen == CHAT_LEGACY_BATCH);
	if (total > 0)
		log_info(
		    "event=chat_identity_sealed rows=%lld", (long long)total);
	return (OK);
}

/* Does chat_profile_sync have pushed_identity (migration 0013)? */
static int
identity_column_tx(struct tx *tx, void *arg)
{
	struct stmt *st;
	int	    *has = arg, rc;

	st = store_prepare(tx,
	    store_tx_dialect(tx) == STORE_POSTGRES
		? "SELECT count(*) FROM information_schema.columns WHERE "
		  "table_schema = current_schema() AND table_name = "
		  "'chat_profile_sync' AND column_name = 'pushed_identity'"
		: "SELECT count(*) FROM pragma_table_info('chat_profile_sync') "
		  "WHERE name = 'pushed_identity'");
	if ((rc = store_step(st)) == STORE_ROW)
		*has = store_col_int64(st, 0) == 1;
	store_finalize(st);
	return (rc == STORE_ROW ? OK : rc == STORE_DONE ? ERR_DB : rc);
}

/* The next CHAT_LEGACY_BATCH rows after lb->after, sealed. */
static int
legacy_batch_tx(struct tx *tx, void *arg)
{
	struct legacy_batch *lb = arg;
	struct stmt	    *st;
	char		     ids[CHAT_LEGACY_BATCH][UUID_STR_LEN];
	int64_t		     n = 0, i, sealed = 0;
	int		     rc, one;

	st = store_prepare(tx,
	    "SELECT user_id FROM chat_profile_sync WHERE "
	    "pushed_at IS NOT NULL AND pushed_identity IS NULL AND user_id > ? "
	    "ORDER BY user_id LIMIT ?");
	store_bind_text(st, 1, lb->after);
	store_bind_int64(st, 2, CHAT_LEGACY_BATCH);
	while ((rc = store_step(st)) == STORE_ROW && n < CHAT_LEGACY_BATCH)
		strlcpy_cb(ids[n++], store_col_text(st, 0), UUID_STR_LEN);
	store_finalize(st);
	if (rc != STORE_DONE && rc != STORE_ROW)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	for (i = 0; i < n; i++) {
		if ((rc = legacy_row(tx, ids[i], &one)) != OK)
			return (rc);
		sealed += one;
	}
	lb->seen = n;
	lb->sealed = sealed;
	if (n > 0)
		strlcpy_cb(lb->last, ids[n - 1], sizeof(lb->last));
	return (OK);
}

static int
legacy_row(struct tx *tx, const char *user_id, int *sealed)
{
	struct stmt  *st;
	unsigned char key[SEAL_KEY_LEN], *identity = NULL;
	const void   *b;
	char	     *email = NULL;
	size_t	      n = 0;
	int	      rc, have_key = 0;

	*sealed = 0;
	st = store_prepare(tx,
	    "SELECT email FROM users WHERE id = ? AND "
	    "email IS NOT NULL");
	store_bind_text(st, 1, user_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		if ((rc = seal_key_load(tx, user_id, key)) == OK) {
			have_key = 1;
			b = store_col_blob(st, 0, &n);
			rc = seal_open_field(
			    key, "users", "email", user_id, b, n, &email);
		}
		if (rc == OK)
			rc = seal_field(key, "chat_profile_sync", "identity",
			    user_id, email, &identity, &n);
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND; /* erased or gone */
	store_finalize(st);
	if (rc == ERR_NOT_FOUND || rc == ERR_INVALID) {
		if (rc == ERR_INVALID)
			log_warn("event=chat_identity_seal user=%s "
				 "status=unreadable",
			    user_id);
		rc = OK;
		goto out;
	}
	if (rc != OK) {
		rc = rc == ERR_BUSY   ? ERR_BUSY
		    : rc == ERR_NOMEM ? ERR_NOMEM
				      : ERR_DB;
		goto out;
	}
	st = store_prepare(tx,
	    "UPDATE chat_profile_sync SET "
	    "pushed_identity = ? WHERE user_id = ? AND pushed_identity IS "
	    "NULL");
	store_bind_blob(st, 1, identity, n);
	store_bind_text(st, 2, user_id);
	rc = store_step(st);
	*sealed = store_changes(st) == 1;
	store_finalize(st);
	rc = rc == STORE_DONE ? OK : rc == ERR_BUSY ? ERR_BUSY : ERR_DB;
out:
	if (have_key)
		sodium_memzero(key, sizeof(key));
	free_secret(email);
	free(identity);
	return (rc);
}

static int
chatsync_enabled(void)
{
	return (
	    config.chat_sync_url != NULL && config.chat_sync_url[0] != '\0');
}

/* Touching */

static int
chat_enqueue(struct tx *tx, const char *user_id, char *job_id)
{
	char payload[64];

	snprintf(payload, sizeof(payload), "{\"user_id\":\"%s\"}", user_id);
	return (jobs_enqueue(tx, CHAT_SYNC_KIND, payload, CHAT_SYNC_QUEUE,
	    time_now_ms() + config.chat_sync_delay_ms, job_id));
}

/* The change listener: a person, or every member of a partner. */
static int
chat_changed(struct tx *tx, enum change kind, const char *id)
{
	return (kind == CHANGE_PARTNER ? chat_profile_touch_partner(tx, id)
				       : chat_profile_touch(tx, id));
}

int
chat_profile_touch(struct tx *tx, const char *user_id)
{
	struct stmt *st;
	char	     job_id[JOB_ID_LEN];
	int64_t	     now = time_now_ms(), n;
	int	     rc, has_job = 0;

	if (!chatsync_enabled() || user_id == NULL)
		return (OK);
	if (!uuid_valid(user_id))
		return (ERR_INVALID);
	st = store_prepare(tx,
	    "INSERT INTO chat_profile_sync (user_id, dirty, "
	    "created_at, updated_at) VALUES (?, 0, ?, ?) ON CONFLICT (user_id) "
	    "DO UPDATE SET updated_at = excluded.updated_at RETURNING job_id");
	store_bind_text(st, 1, user_id);
	store_bind_int64(st, 2, now);
	store_bind_int64(st, 3, now);
	if ((rc = store_step(st)) == STORE_ROW) {
		has_job = !store_col_is_null(st, 0);
		while ((rc = store_step(st)) == STORE_ROW)
			;
	}
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if (has_job) {
		/* Its job is still queued or running: it covers this. */
		st = store_prepare(tx,
		    "UPDATE chat_profile_sync SET dirty = 1 "
		    "WHERE user_id = ? AND EXISTS (SELECT 1 FROM jobs WHERE "
		    "jobs.id = chat_profile_sync.job_id)");
		store_bind_text(st, 1, user_id);
		rc = store_step(st);
		n = store_changes(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
		if (n == 1)
			return (OK);
	}
	if ((rc = chat_enqueue(tx, user_id, job_id)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "UPDATE chat_profile_sync SET job_id = ?, "
	    "dirty = 0 WHERE user_id = ?");
	store_bind_text(st, 1, job_id);
	store_bind_text(st, 2, user_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
}

/*
 * A change of the user's own fields (people's change hook): pushed only
 * for a user who has a profile with the provider already (a sync row), so
 * signing in or changing settings makes no profile for someone whose
 * partners, therapy and courses never gave them one.
 */
static int
chat_profile_refresh(struct tx *tx, const char *user_id)
{
	struct stmt *st;
	int	     rc;

	if (!chatsync_enabled() || user_id == NULL)
		return (OK);
	st = store_prepare(tx,
	    "SELECT 1 FROM chat_profile_sync WHERE "
	    "user_id = ?");
	store_bind_text(st, 1, user_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_DONE)
		return (OK);
	if (rc != STORE_ROW)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	return (chat_profile_touch(tx, user_id));
}

int
chat_profile_touch_partner(struct tx *tx, const char *partner_id)
{
	json_t *users, *v;
	size_t	i;
	int	rc;

	if (!chatsync_enabled() || partner_id == NULL)
		return (OK);
	if ((users = json_array()) == NULL)
		return (ERR_NOMEM);
	if ((rc = hooks_members(tx, CHANGE_PARTNER, partner_id, users)) == OK)
		json_array_foreach(
		    users, i, v) if ((rc = chat_profile_touch(tx,
					  json_string_value(v))) != OK) break;
	json_decref(users);
	return (rc);
}

/* The job */

static int
chatsync_run(struct store *db, const struct job *job, char *err)
{
	struct profile	p;
	struct sync_end e;
	json_t	       *pl;
	json_error_t	jerr;
	const char     *user_id = NULL, *outcome = "pushed";
	char		digest[DIGEST_LEN];
	int		rc, rc2, give_up = 0;

	memset(&p, 0, sizeof(p));
	if ((pl = json_loads(job->payload, 0, &jerr)) == NULL ||
	    json_unpack(pl, "{s:s}", "user_id", &user_id) != 0 ||
	    !uuid_valid(user_id)) {
		snprintf(
		    err, JOB_ERR_LEN, "%s: malformed payload", CHAT_SYNC_KIND);
		if (job->give_up != NULL)
			*job->give_up = 1;
		json_decref(pl);
		return (ERR_INVALID);
	}
	if (!chatsync_enabled()) {
		log_info("event=chat_sync user=%s status=off", user_id);
		json_decref(pl);
		return (OK); /* turned off since it was queued */
	}
	memset(&e, 0, sizeof(e));
	e.user_id = user_id;
	e.job_id = job->id;
	if ((rc = store_run(db, STORE_TX_WRITE, sync_begin_tx, &e)) != OK) {
		snprintf(err, JOB_ERR_LEN,
		    "%s: the sync row could not be "
		    "claimed: %s",
		    CHAT_SYNC_KIND, err_code(rc));
		goto out;
	}
	p.user_id = user_id;
	if ((rc = store_run(db, STORE_TX_READ, profile_load_tx, &p)) != OK) {
		snprintf(err, JOB_ERR_LEN,
		    "%s: the profile could not be "
		    "read: %s",
		    CHAT_SYNC_KIND, err_code(rc));
		goto out;
	}
	if (p.gone) {
		outcome = "skipped";
		e.gone = 1;
	} else if (p.deleted)
		outcome = "skipped"; /* the row and its identities stay */
	else {
		profile_digest(&p, digest);
		if (strcmp(digest, p.last_digest) == 0 && p.pending == NULL &&
		    p.pushed != NULL && strcmp(p.pushed, p.email) == 0)
			outcome = "unchanged";
		else
			rc = profile_send(
			    db, &p, &e, digest, err, &give_up, &outcome);
	}
	/* Done, or finally failed: let go of the row (or follow up). */
	e.release = rc == OK || give_up || job->attempt >= job->max_attempts;
	if (e.release &&
	    (rc2 = store_run(db, STORE_TX_WRITE, sync_end_tx, &e)) != OK) {
		log_warn("event=chat_sync_end_failed user=%s status=%s",
		    user_id, err_code(rc2));
		if (rc == OK) {
			/* Pushed, but not recorded: run again. */
			rc = rc2;
			snprintf(err, JOB_ERR_LEN,
			    "%s: pushed, but the "
			    "sync row could not be updated: %s",
			    CHAT_SYNC_KIND, err_code(rc2));
		}
	}
	if (rc == OK)
		log_info("event=chat_sync user=%s status=%s", user_id, outcome);
	if (give_up && job->give_up != NULL)
		*job->give_up = 1;
out:
	profile_clear(&p);
	json_decref(pl);
	return (rc);
}

/* This attempt reads the profile from now on: name it, clear dirty. */
static int
sync_begin_tx(struct tx *tx, void *arg)
{
	struct sync_end *e = arg;
	struct stmt	*st;
	int		 rc;

	st = store_prepare(tx,
	    "UPDATE chat_profile_sync SET job_id = ?, "
	    "dirty = 0, updated_at = ? WHERE user_id = ?");
	store_bind_text(st, 1, e->job_id);
	store_bind_int64(st, 2, time_now_ms());
	store_bind_text(st, 3, e->user_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
}

/*
 * Delete the profiles under the addresses the provider may hold that are
 * not the current one (unless another user holds the address now), mark
 * the current one pending, push. OK with e->digest set when the push
 * landed, or with *outcome "skipped" when the row went meanwhile (erased:
 * nothing is sent) or "superseded" when another job took it. A push that
 * fails after the row went (an erasure in between) may have made a
 * profile: its delete is queued.
 */
static int
profile_send(struct store *db, struct profile *p, struct sync_end *e,
    const char *digest, char *err, int *give_up, const char **outcome)
{
	const char *old[2];
	size_t	    i;
	int	    rc, rc2, moved = 0, held;

	old[0] = p->pushed;
	old[1] = p->pending != NULL &&
		(p->pushed == NULL || strcmp(p->pending, p->pushed) != 0)
	    ? p->pending
	    : NULL;
	for (i = 0; i < NELEM(old); i++) {
		if (old[i] == NULL || strcmp(old[i], p->email) == 0)
			continue;
		if ((rc = chat_forget_unless_held(db, CHAT_SYNC_KIND,
			 p->user_id, old[i], err, give_up, &held)) != OK)
			return (rc);
		moved = 1;
	}
	e->identity = p->sealed;
	e->identity_len = p->sealed_len;
	if ((rc = store_run(db, STORE_TX_WRITE, pending_tx, e)) != OK) {
		snprintf(err, JOB_ERR_LEN,
		    "%s: the sync row could not be "
		    "marked: %s",
		    CHAT_SYNC_KIND, err_code(rc));
		return (rc);
	}
	if (e->superseded) {
		*outcome = "superseded";
		return (OK);
	}
	if (!e->found) {
		*outcome = "skipped";
		e->gone = 1;
		return (OK);
	}
	if ((rc = chat_push(p, err, give_up)) != OK) {
		e->people_id = p->email;
		if ((rc2 = store_run(db, STORE_TX_WRITE, orphan_tx, e)) != OK)
			log_warn("event=chat_orphan_check_failed user=%s "
				 "status=%s",
			    p->user_id, err_code(rc2));
		else if (e->orphan)
			log_info("event=chat_forget user=%s status=queued "
				 "reason=erased_during_push",
			    p->user_id);
		e->people_id = NULL;
		return (rc);
	}
	e->digest = digest;
	e->people_id = p->email;
	*outcome = moved ? "moved" : "pushed";
	return (OK);
}

/*
 * The current address is about to be pushed: the provider may hold it.
 * Only while the row names this job (e->superseded when it names
 * another; e->found 0 when it is gone).
 */
static int
pending_tx(struct tx *tx, void *arg)
{
	struct sync_end *e = arg;
	struct stmt	*st;
	int		 rc;

	e->found = e->superseded = 0;
	st = store_prepare(tx,
	    "UPDATE chat_profile_sync SET "
	    "pending_identity = ?, updated_at = ? WHERE user_id = ? AND "
	    "job_id = ?");
	store_bind_blob(st, 1, e->identity, e->identity_len);
	store_bind_int64(st, 2, time_now_ms());
	store_bind_text(st, 3, e->user_id);
	store_bind_text(st, 4, e->job_id);
	rc = store_step(st);
	e->found = store_changes(st) == 1;
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if (e->found)
		return (OK);
	st = store_prepare(tx,
	    "SELECT 1 FROM chat_profile_sync WHERE "
	    "user_id = ?");
	store_bind_text(st, 1, e->user_id);
	rc = store_step(st);
	e->superseded = rc == STORE_ROW;
	store_finalize(st);
	return (rc == STORE_ROW || rc == STORE_DONE ? OK
		: rc == ERR_BUSY		    ? ERR_BUSY
						    : ERR_DB);
}

/*
 * A push failed after pending_tx: if the row went meanwhile (erased),
 * queue the delete of what the push may have made (e->people_id).
 */
static int
orphan_tx(struct tx *tx, void *arg)
{
	struct sync_end *e = arg;
	struct stmt	*st;
	int		 rc;

	e->orphan = 0;
	st = store_prepare(tx,
	    "SELECT 1 FROM chat_profile_sync WHERE "
	    "user_id = ?");
	store_bind_text(st, 1, e->user_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		return (OK);
	if (rc != STORE_DONE)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if ((rc = chat_forget_enqueue(tx, e->user_id, e->people_id)) == OK)
		e->orphan = 1;
	return (rc);
}

/*
 * Record what was pushed; then, if the row still names this job, queue a
 * follow-up for a change made while it ran (dirty), or let go. The row of
 * an erased or deleted user goes.
 */
static int
sync_end_tx(struct tx *tx, void *arg)
{
	struct sync_end *e = arg;
	struct stmt	*st;
	char		 job_id[JOB_ID_LEN];
	int64_t		 now = time_now_ms(), n;
	int		 rc, mine = 0, dirty = 0;

	if (e->digest != NULL) {
		st = store_prepare(tx,
		    "UPDATE chat_profile_sync SET "
		    "digest = ?, pushed_identity = ?, pending_identity = NULL, "
		    "pushed_at = ?, updated_at = ? WHERE user_id = ? AND "
		    "job_id = ?");
		store_bind_text(st, 1, e->digest);
		store_bind_blob(st, 2, e->identity, e->identity_len);
		store_bind_int64(st, 3, now);
		store_bind_int64(st, 4, now);
		store_bind_text(st, 5, e->user_id);
		store_bind_text(st, 6, e->job_id);
		rc = store_step(st);
		n = store_changes(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
		if (n == 0) {
			/* Another job took the row: what it pushed stays
			 * pending there, for that job to settle. */
			st = store_prepare(tx,
			    "SELECT 1 FROM "
			    "chat_profile_sync WHERE user_id = ?");
			store_bind_text(st, 1, e->user_id);
			rc = store_step(st);
			store_finalize(st);
			if (rc == STORE_ROW)
				return (OK);
			if (rc != STORE_DONE)
				return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
			/* Erased since it read the profile: delete what it
			 * pushed. */
			return (
			    chat_forget_enqueue(tx, e->user_id, e->people_id));
		}
	}
	if (!e->release)
		return (OK);
	if (e->gone) {
		st = store_prepare(tx,
		    "DELETE FROM chat_profile_sync WHERE "
		    "user_id = ?");
		store_bind_text(st, 1, e->user_id);
		rc = store_step(st);
		store_finalize(st);
		return (rc == STORE_DONE ? OK
			: rc == ERR_BUSY ? ERR_BUSY
					 : ERR_DB);
	}
	/* The row's lock, and what it says now. */
	st = store_prepare(tx,
	    "UPDATE chat_profile_sync SET updated_at = ? "
	    "WHERE user_id = ? RETURNING job_id, dirty");
	store_bind_int64(st, 1, now);
	store_bind_text(st, 2, e->user_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		mine = !store_col_is_null(st, 0) &&
		    strcmp(store_col_text(st, 0), e->job_id) == 0;
		dirty = store_col_int64(st, 1) != 0;
		while ((rc = store_step(st)) == STORE_ROW)
			;
	}
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if (!mine)
		return (OK);
	if (dirty && (rc = chat_enqueue(tx, e->user_id, job_id)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "UPDATE chat_profile_sync SET job_id = ?, "
	    "dirty = 0 WHERE user_id = ?");
	store_bind_text(st, 1, dirty ? job_id : NULL);
	store_bind_text(st, 2, e->user_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
}

/* The profile */

/* Wipe and free a malloc'd string of personal data; NULL is fine. */
static void
free_secret(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static void
profile_clear(struct profile *p)
{
	free_secret(p->email);
	free_secret(p->nickname);
	free_secret(p->pushed);
	free_secret(p->pending);
	free(p->sealed);
	json_decref(p->data);
	p->email = p->nickname = p->pushed = p->pending = NULL;
	p->sealed = NULL;
	p->sealed_len = 0;
	p->data = NULL;
	p->gone = p->deleted = 0;
	p->last_digest[0] = '\0';
}

static int
profile_load_tx(struct tx *tx, void *arg)
{
	struct profile *p = arg;
	int		rc;

	profile_clear(p); /* store_run may run this again */
	p->now = time_now_ms();
	if ((p->data = json_object()) == NULL)
		return (ERR_NOMEM);
	if ((rc = profile_user(tx, p)) != OK || p->gone || p->deleted)
		return (rc);
	return (hooks_profile_build(tx, p->user_id, p->data));
}

/*
 * An identity column of the sync row opened into *out (NULL when the
 * column is NULL). One that does not open (it cannot be sealed under
 * another key: the row is the user's) is ERR_INVALID.
 */
static int
identity_open(const unsigned char *key, const char *user_id, struct stmt *st,
    int col, char **out)
{
	const void *b;
	size_t	    n = 0;

	*out = NULL;
	if (store_col_is_null(st, col))
		return (OK);
	b = store_col_blob(st, col, &n);
	return (seal_open_field(
	    key, "chat_profile_sync", "identity", user_id, b, n, out));
}

/*
 * The last digest and the addresses the provider may hold, opened, and
 * the current one sealed for the row.
 */
static int
profile_identities(struct tx *tx, struct profile *p, const unsigned char *key)
{
	struct stmt *st;
	int	     rc;

	if ((rc = seal_field(key, "chat_profile_sync", "identity", p->user_id,
		 p->email, &p->sealed, &p->sealed_len)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT digest, pushed_identity, "
	    "pending_identity FROM chat_profile_sync WHERE user_id = ?");
	store_bind_text(st, 1, p->user_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		if (!store_col_is_null(st, 0))
			strlcpy_cb(p->last_digest, store_col_text(st, 0),
			    sizeof(p->last_digest));
		if ((rc = identity_open(key, p->user_id, st, 1, &p->pushed)) ==
		    OK)
			rc = identity_open(key, p->user_id, st, 2, &p->pending);
	} else if (rc == STORE_DONE)
		rc = OK;
	store_finalize(st);
	return (rc);
}

static json_t *
iso_or_empty(struct stmt *st, int i)
{
	char iso[ISO_TIME_LEN];

	if (store_col_is_null(st, i))
		return (json_string(""));
	return (json_string(time_format_iso(store_col_int64(st, i), iso)));
}

/* The user's own fields, and their email and name opened. */
static int
profile_user(struct tx *tx, struct profile *p)
{
	struct stmt  *st;
	unsigned char key[SEAL_KEY_LEN];
	const void   *b;
	const char   *at;
	size_t	      n = 0;
	int	      rc;

	st = store_prepare(tx,
	    "SELECT email, first_name, created_at, "
	    "last_active_at, email_reminders_frequency, contact_permission, "
	    "service_emails_permission, deleted_at FROM users WHERE id = ?");
	store_bind_text(st, 1, p->user_id);
	if ((rc = store_step(st)) != STORE_ROW) {
		store_finalize(st);
		if (rc != STORE_DONE)
			return (rc);
		p->gone = 1;
		return (OK);
	}
	if (store_col_is_null(st, 0)) {
		store_finalize(st);
		p->gone = 1; /* erased */
		return (OK);
	}
	if (!store_col_is_null(st, 7)) {
		store_finalize(st);
		p->deleted = 1; /* deleted, not erased (yet) */
		return (OK);
	}
	json_object_set_new(p->data, "signed_up_at", iso_or_empty(st, 2));
	json_object_set_new(p->data, "last_active_at", iso_or_empty(st, 3));
	json_object_set_new(p->data, "email_reminders_frequency",
	    json_string(
		store_col_text(st, 4) != NULL ? store_col_text(st, 4) : ""));
	json_object_set_new(p->data, "marketing_permission",
	    json_boolean(store_col_int64(st, 5) != 0));
	json_object_set_new(p->data, "service_emails_permission",
	    json_boolean(store_col_int64(st, 6) != 0));
	if ((rc = seal_key_load(tx, p->user_id, key)) == ERR_NOT_FOUND) {
		store_finalize(st);
		p->gone = 1; /* key destroyed */
		return (OK);
	}
	if (rc == OK) {
		b = store_col_blob(st, 0, &n);
		rc = seal_open_field(
		    key, "users", "email", p->user_id, b, n, &p->email);
	}
	if (rc == OK && !store_col_is_null(st, 1)) {
		b = store_col_blob(st, 1, &n);
		if (seal_open_field(key, "users", "first_name", p->user_id, b,
			n, &p->nickname) != OK)
			p->nickname = NULL;
	}
	store_finalize(st);
	if (rc == OK)
		rc = profile_identities(tx, p, key);
	sodium_memzero(key, sizeof(key));
	if (rc != OK)
		return (rc);
	if (p->nickname == NULL || p->nickname[0] == '\0') {
		free(p->nickname);
		at = strchr(p->email, '@');
		p->nickname = strndup(p->email,
		    at != NULL ? (size_t)(at - p->email) : strlen(p->email));
		if (p->nickname == NULL)
			return (ERR_NOMEM);
	}
	return (OK);
}

/* Keyed BLAKE2b-256 of the people id and the profile, hex. */
static void
profile_digest(const struct profile *p, char out[DIGEST_LEN])
{
	unsigned char		 h[32];
	crypto_generichash_state s;
	char			*text;

	text = json_dumps(p->data, JSON_COMPACT | JSON_SORT_KEYS);
	crypto_generichash_init(
	    &s, keyring_key(KEY_INDEX), SEAL_KEY_LEN, sizeof(h));
	crypto_generichash_update(
	    &s, (const unsigned char *)"chat_profile\n", 13);
	crypto_generichash_update(
	    &s, (const unsigned char *)p->email, strlen(p->email) + 1);
	if (text != NULL)
		crypto_generichash_update(
		    &s, (const unsigned char *)text, strlen(text));
	crypto_generichash_final(&s, h, sizeof(h));
	if (text == NULL)
		randombytes_buf(h, sizeof(h)); /* out of memory: never equal */
	hex_encode(h, sizeof(h), out);
	free(text);
}

/* The provider */

static int
chat_push(const struct profile *p, char *err, int *give_up)
{
	json_t *doc;
	char   *data = NULL, *person = NULL;
	int	rc = ERR_NOMEM;

	doc = json_pack("{s:O}", "data", p->data);
	if (doc == NULL ||
	    (data = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto nomem;
	json_decref(doc);
	doc = NULL;
	rc = chat_request(CHAT_SYNC_KIND, "PUT", "people/data/", p->email, data,
	    err, give_up);
	if (rc != ERR_NOT_FOUND)
		goto out;
	/* No such person yet: make the profile, then send the data again. */
	doc = json_pack("{s:s,s:{s:s}}", "email", p->email, "person",
	    "nickname", p->nickname);
	if (doc == NULL ||
	    (person = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto nomem;
	json_decref(doc); /* it holds the email too */
	doc = NULL;
	rc = chat_request(CHAT_SYNC_KIND, "POST", "people/profile", NULL,
	    person, err, give_up);
	if (rc != OK && rc != ERR_CONFLICT) /* 409: made meanwhile */
		goto out;
	if ((rc = chat_request(CHAT_SYNC_KIND, "PUT", "people/data/", p->email,
		 data, err, give_up)) == ERR_NOT_FOUND) {
		*give_up = 1;
		snprintf(err, JOB_ERR_LEN,
		    "%s: the chat provider made the "
		    "profile but still has no such person (HTTP 404)",
		    CHAT_SYNC_KIND);
	}
	goto out;
nomem:
	json_decref(doc);
	rc = ERR_NOMEM;
	snprintf(err, JOB_ERR_LEN, "%s: out of memory", CHAT_SYNC_KIND);
out:
	if (person != NULL) {
		sodium_memzero(person, strlen(person));
		free(person);
	}
	free(data);
	return (rc);
}

/* libcurl write callback: keep at most CHAT_RESPONSE_MAX bytes; a short
 * count ends the transfer. */
static size_t
chat_write(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (buf_append(b, data, size * n) != OK)
		return (0);
	return (size * n);
}

/* Crisp's {"reason": "..."} when it is a plain token, else "". */
static void
chat_reason(const struct buf *b, char *out, size_t n)
{
	json_t	   *doc;
	const char *r, *s;

	out[0] = '\0';
	if (b->len == 0 || (doc = json_loadb(b->data, b->len, 0, NULL)) == NULL)
		return;
	if ((r = json_string_value(json_object_get(doc, "reason"))) != NULL &&
	    strlen(r) > 0 && strlen(r) <= CHAT_REASON_MAX) {
		for (s = r; *s != '\0'; s++)
			if (!islower((unsigned char)*s) &&
			    !isdigit((unsigned char)*s) && *s != '_')
				break;
		if (*s == '\0')
			strlcpy_cb(out, r, n);
	}
	json_decref(doc);
}

/*
 * Delete the profile under people_id at the provider: OK when it went or
 * was not there (404); else as chat_request (a 409 gives up).
 */
static int
chat_forget(const char *kind, const char *people_id, char *err, int *give_up)
{
	int rc;

	rc = chat_request(
	    kind, "DELETE", "people/profile/", people_id, NULL, err, give_up);
	if (rc == ERR_NOT_FOUND)
		return (OK);
	if (rc == ERR_CONFLICT) {
		*give_up = 1;
		snprintf(err, JOB_ERR_LEN,
		    "%s: DELETE people/profile/: the "
		    "chat provider refused it with HTTP 409; not retried",
		    kind);
	}
	return (rc);
}

/*
 * One request to <chat_sync_url>/website/<id>/<path>[<people_id>], with
 * body (NULL: none): OK for a 2xx, ERR_NOT_FOUND for 404 and ERR_CONFLICT
 * for 409 (err untouched); ERR_UNAVAILABLE for what a retry may mend and
 * ERR_FORBIDDEN with *give_up set for the rest (err says which, prefixed
 * with the job kind, without the people id).
 */
static int
chat_request(const char *kind, const char *method, const char *path,
    const char *people_id, const char *body, char *err, int *give_up)
{
	static const char *const headers[] = {
		"Content-Type: application/json",
		"Accept: application/json",
		"X-Crisp-Tier: plugin",
	};
	CURL		  *c = NULL;
	CURLcode	   cc;
	struct curl_slist *hdrs = NULL, *h;
	struct buf	   b;
	const char	  *base = config.chat_sync_url;
	char		  *site = NULL, *pid = NULL, *url = NULL;
	char		   reason[CHAT_REASON_MAX + 1];
	size_t		   blen = strlen(base), ulen, i;
	long		   code = 0;
	int		   rc = ERR_NOMEM;

	buf_init(&b, CHAT_RESPONSE_MAX);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	if ((c = curl_easy_init()) == NULL ||
	    (site = curl_easy_escape(c, config.chat_sync_website_id, 0)) ==
		NULL ||
	    (people_id != NULL &&
		(pid = curl_easy_escape(c, people_id, 0)) == NULL))
		goto nomem;
	ulen = blen + strlen(site) + strlen(path) +
	    (pid != NULL ? strlen(pid) : 0) + 16;
	if ((url = malloc(ulen)) == NULL)
		goto nomem;
	snprintf(url, ulen, "%.*s/website/%s/%s%s", (int)blen, base, site, path,
	    pid != NULL ? pid : "");
	for (i = 0; i < NELEM(headers); i++) {
		if ((h = curl_slist_append(hdrs, headers[i])) == NULL)
			goto nomem;
		hdrs = h;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "carebase");
	if (config.chat_sync_identifier[0] != '\0') {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(
		    c, CURLOPT_USERNAME, config.chat_sync_identifier);
		curl_easy_setopt(c, CURLOPT_PASSWORD, config.chat_sync_key);
	}
	curl_easy_setopt(
	    c, CURLOPT_CONNECTTIMEOUT, (long)config.chat_sync_timeout_s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)config.chat_sync_timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, chat_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	chat_reason(&b, reason, sizeof(reason));
	rc = ERR_UNAVAILABLE;
	if (cc == CURLE_WRITE_ERROR)
		snprintf(err, JOB_ERR_LEN,
		    "%s: %s %s: the chat provider's "
		    "answer is over %d bytes",
		    kind, method, path, CHAT_RESPONSE_MAX);
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		snprintf(err, JOB_ERR_LEN,
		    "%s: %s %s: the chat provider did "
		    "not answer within %llds",
		    kind, method, path, (long long)config.chat_sync_timeout_s);
	else if (cc != CURLE_OK)
		snprintf(err, JOB_ERR_LEN,
		    "%s: %s %s: the chat provider could "
		    "not be reached: %s",
		    kind, method, path, curl_easy_strerror(cc));
	else if (code >= 200 && code <= 299)
		rc = OK;
	else if (code == 404)
		rc = ERR_NOT_FOUND;
	else if (code == 409)
		rc = ERR_CONFLICT;
	else if (code == 408 || code == 429 || code >= 500)
		snprintf(err, JOB_ERR_LEN,
		    "%s: %s %s: the chat provider "
		    "answered HTTP %ld%s%s",
		    kind, method, path, code,
		    reason[0] != '\0' ? ", reason " : "", reason);
	else {
		rc = ERR_FORBIDDEN;
		*give_up = 1;
		snprintf(err, JOB_ERR_LEN,
		    "%s: %s %s: the chat provider "
		    "refused it with HTTP %ld%s%s; not retried%s",
		    kind, method, path, code,
		    reason[0] != '\0' ? ", reason " : "", reason,
		    code == 401 || code == 403 ? " (check chat_sync_identifier "
						 "and chat_sync_key)"
					       : "");
	}
	goto out;
nomem:
	snprintf(err, JOB_ERR_LEN, "%s: out of memory", kind);
out:
	if (url != NULL) {
		sodium_memzero(url, strlen(url)); /* holds the email */
		free(url);
	}
	if (pid != NULL) {
		sodium_memzero(pid, strlen(pid));
		curl_free(pid);
	}
	curl_free(site);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	buf_free(&b);
	return (rc);
}

/* Forgetting a person at the provider */

/*
 * Delete the profile under people_id (user_id's, once), as chat_forget,
 * unless another user who is not erased holds the address now: the
 * profile there is theirs (or will be), so the delete is done without a
 * request (*held set, logged).
 */
static int
chat_forget_unless_held(struct store *db, const char *kind, const char *user_id,
    const char *people_id, char *err, int *give_up, int *held)
{
	struct held h;
	int	    rc;

	*held = 0;
	memset(&h, 0, sizeof(h));
	h.user_id = user_id;
	keyring_email_index(people_id, h.index);
	rc = store_run(db, STORE_TX_READ, chat_address_held_tx, &h);
	sodium_memzero(h.index, sizeof(h.index));
	if (rc != OK) {
		snprintf(err, JOB_ERR_LEN,
		    "%s: the address's holder could "
		    "not be read: %s",
		    kind, err_code(rc));
		return (rc);
	}
	if (h.held) {
		*held = 1;
		log_info("event=chat_forget user=%s status=kept "
			 "reason=address_taken",
		    user_id);
		return (OK);
	}
	return (chat_forget(kind, people_id, err, give_up));
}

/* Erasure clears email_index: a user holding it is not erased. */
static int
chat_address_held_tx(struct tx *tx, void *arg)
{
	struct held *h = arg;
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT 1 FROM users WHERE email_index = ? "
	    "AND id <> ? AND email IS NOT NULL");
	store_bind_text(st, 1, h->index);
	store_bind_text(st, 2, h->user_id);
	rc = store_step(st);
	h->held = rc == STORE_ROW;
	store_finalize(st);
	return (rc == STORE_ROW || rc == STORE_DONE ? OK
		: rc == ERR_BUSY		    ? ERR_BUSY
						    : ERR_DB);
}

/*
 * Queue a chat.profile_delete job for people_id inside tx: the payload is
 * the user id and the address sealed under the system key (base64url).
 */
static int
chat_forget_enqueue(struct tx *tx, const char *user_id, const char *people_id)
{
	json_t	      *doc = NULL;
	unsigned char *sealed = NULL;
	size_t	       n = 0, blen;
	char	       ad[sizeof(CHAT_FORGET_AD) + UUID_STR_LEN];
	char	      *b64 = NULL, *payload = NULL;
	int	       rc = ERR_NOMEM;

	snprintf(ad, sizeof(ad), "%s%s", CHAT_FORGET_AD, user_id);
	if ((rc = keyring_seal_text(KEY_SYSTEM, ad, people_id, &sealed, &n)) !=
	    OK)
		goto out;
	rc = ERR_NOMEM;
	blen = sodium_base64_ENCODED_LEN(
	    n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if ((b64 = malloc(blen)) == NULL)
		goto out;
	sodium_bin2base64(
	    b64, blen, sealed, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if ((doc = json_pack(
		 "{s:s,s:s}", "user_id", user_id, "people_id", b64)) == NULL ||
	    (payload = json_dumps(doc, JSON_COMPACT)) == NULL)
		goto out;
	rc = jobs_enqueue(
	    tx, CHAT_FORGET_KIND, payload, CHAT_SYNC_QUEUE, 0, NULL);
out:
	json_decref(doc);
	free(payload);
	free(b64);
	free(sealed);
	return (rc);
}

/* The chat.profile_delete job: the DELETE, retried like a push. */
static int
chatforget_run(struct store *db, const struct job *job, char *err)
{
	unsigned char sealed[CHAT_PEOPLE_ID_MAX + SEAL_OVERHEAD];
	json_t	     *pl;
	json_error_t  jerr;
	const char   *user_id = NULL, *b64 = NULL;
	char	      ad[sizeof(CHAT_FORGET_AD) + UUID_STR_LEN];
	char	     *people_id = NULL;
	size_t	      n = 0;
	int	      rc, give_up = 0, held = 0;

	rc = ERR_INVALID;
	if ((pl = json_loads(job->payload, 0, &jerr)) != NULL &&
	    json_unpack(
		pl, "{s:s,s:s}", "user_id", &user_id, "people_id", &b64) == 0 &&
	    uuid_valid(user_id) &&
	    sodium_base642bin(sealed, sizeof(sealed), b64, strlen(b64), NULL,
		&n, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0) {
		snprintf(ad, sizeof(ad), "%s%s", CHAT_FORGET_AD, user_id);
		rc = keyring_open_text(KEY_SYSTEM, ad, sealed, n, &people_id);
	}
	if (rc != OK) {
		snprintf(err, JOB_ERR_LEN, "%s: malformed payload",
		    CHAT_FORGET_KIND);
		rc = ERR_INVALID;
		give_up = 1;
		goto out;
	}
	if (!chatsync_enabled()) {
		snprintf(err, JOB_ERR_LEN,
		    "%s: chat_sync_url is empty, so "
		    "the profile could not be deleted; set it and run "
		    "carebase jobs retry",
		    CHAT_FORGET_KIND);
		rc = ERR_UNAVAILABLE;
		give_up = 1;
		goto out;
	}
	if ((rc = chat_forget_unless_held(db, CHAT_FORGET_KIND, user_id,
		 people_id, err, &give_up, &held)) == OK &&
	    !held)
		log_info("event=chat_forget user=%s status=deleted", user_id);
out:
	if (give_up && job->give_up != NULL)
		*job->give_up = 1;
	free_secret(people_id);
	sodium_memzero(sealed, sizeof(sealed));
	json_decref(pl);
	return (rc);
}

/*
 * GDPR: the export says when the profile was last sent and under which
 * addresses the provider may hold it; erasure forgets the row and queues
 * the deletion of those profiles (a job still queued then finds the user
 * erased).
 */

static int
gdpr_export(struct tx *tx, const char *user_id, json_t *rows)
{
	struct stmt  *st;
	unsigned char key[SEAL_KEY_LEN];
	char	      iso[ISO_TIME_LEN], *pushed = NULL, *pending = NULL;
	int	      rc, have_key;

	if ((rc = seal_key_load(tx, user_id, key)) != OK && rc != ERR_NOT_FOUND)
		return (rc);
	have_key = rc == OK;
	st = store_prepare(tx,
	    "SELECT pushed_at, pushed_identity, "
	    "pending_identity FROM chat_profile_sync WHERE user_id = ?");
	store_bind_text(st, 1, user_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		if (have_key &&
		    (identity_open(key, user_id, st, 1, &pushed) != OK ||
			identity_open(key, user_id, st, 2, &pending) != OK))
			rc = ERR_INVALID;
		else
			json_array_append_new(rows,
			    json_pack("{s:s,s:o,s:o,"
				      "s:o}",
				"provider", "chat", "pushed_at",
				store_col_is_null(st, 0)
				    ? json_null()
				    : json_string(time_format_iso(
					  store_col_int64(st, 0), iso)),
				"pushed_as",
				pushed != NULL ? json_string(pushed)
					       : json_null(),
				"pending_as",
				pending != NULL ? json_string(pending)
						: json_null()));
	}
	store_finalize(st);
	sodium_memzero(key, sizeof(key));
	free_secret(pushed);
	free_secret(pending);
	return (rc == STORE_ROW || rc == STORE_DONE ? OK : rc);
}

/*
 * Runs before people destroys the data key: the addresses the provider
 * may hold a profile under are opened and each one's deletion queued
 * (sealed under the system key), whether sync is on or not (with it off,
 * the job waits in failed_jobs to be retried). DELETE ... RETURNING
 * waits for a push recording its address (PostgreSQL) and returns what
 * it recorded. The key is loaded only for a row that has something to
 * open; one that does not open is logged and erasure goes on.
 */
static int
gdpr_erase(struct tx *tx, const char *user_id)
{
	struct stmt   *st;
	unsigned char  key[SEAL_KEY_LEN];
	unsigned char *blob[2] = { NULL, NULL };
	const void    *b;
	char	      *id[2] = { NULL, NULL };
	size_t	       len[2] = { 0, 0 }, n = 0, i;
	int	       rc, have_key = 0, legacy = 0, found = 0;

	st = store_prepare(tx,
	    "DELETE FROM chat_profile_sync WHERE "
	    "user_id = ? RETURNING pushed_identity, pending_identity, "
	    "pushed_at");
	store_bind_text(st, 1, user_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		found = 1;
		for (i = 0; i < NELEM(blob); i++) {
			if (store_col_is_null(st, (int)i))
				continue;
			b = store_col_blob(st, (int)i, &len[i]);
			if ((blob[i] = malloc(len[i] > 0 ? len[i] : 1)) ==
			    NULL) {
				rc = ERR_NOMEM;
				break;
			}
			memcpy(blob[i], b, len[i]);
		}
		legacy = store_col_is_null(st, 0) && !store_col_is_null(st, 2);
		while (rc == STORE_ROW && (rc = store_step(st)) == STORE_ROW)
			;
	}
	store_finalize(st);
	if (rc != STORE_DONE) {
		rc = rc == ERR_BUSY || rc == ERR_NOMEM ? rc : ERR_DB;
		goto out;
	}
	rc = OK;
	if (!found || (blob[0] == NULL && blob[1] == NULL && !legacy))
		goto out;
	if ((rc = seal_key_load(tx, user_id, key)) == ERR_NOT_FOUND ||
	    rc == ERR_INVALID) {
		if (rc == ERR_INVALID)
			log_warn("event=chat_forget user=%s status=unreadable "
				 "detail=\"the data key does not open\"",
			    user_id);
		rc = OK;
		goto out;
	}
	if (rc != OK)
		goto out;
	have_key = 1;
	for (i = 0; i < NELEM(blob); i++)
		if (blob[i] != NULL &&
		    seal_open_field(key, "chat_profile_sync", "identity",
			user_id, blob[i], len[i], &id[i]) != OK) {
			id[i] = NULL;
			log_warn("event=chat_forget user=%s status=unreadable",
			    user_id);
		}
	if (legacy && id[0] == NULL) {
		/* Pushed before migration 0013 and not sealed since: under
		 * the current address. */
		st = store_prepare(tx,
		    "SELECT email FROM users WHERE id = ? "
		    "AND email IS NOT NULL");
		store_bind_text(st, 1, user_id);
		if ((rc = store_step(st)) == STORE_ROW) {
			b = store_col_blob(st, 0, &n);
			if (seal_open_field(key, "users", "email", user_id, b,
				n, &id[0]) != OK)
				id[0] = NULL;
		}
		store_finalize(st);
		if (rc != STORE_ROW && rc != STORE_DONE) {
			rc = rc == ERR_BUSY ? ERR_BUSY : ERR_DB;
			goto out;
		}
		rc = OK;
	}
	for (i = 0; i < NELEM(id) && rc == OK; i++)
		if (id[i] != NULL &&
		    (i == 0 || id[0] == NULL || strcmp(id[i], id[0]) != 0))
			rc = chat_forget_enqueue(tx, user_id, id[i]);
out:
	if (have_key)
		sodium_memzero(key, sizeof(key));
	free(blob[0]);
	free(blob[1]);
	free_secret(id[0]);
	free_secret(id[1]);
	return (rc);
}
