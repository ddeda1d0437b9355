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
 * Who has a profile (seed 002: "users who have access to 1-1 chat also
 * have a profile"): a person to whom some module's profile part grants
 * chat access (hooks_profile_granted: a partner access with live chat,
 * partners/chat_profile.c; a public user's live course,
 * learning/chat_profile.c). A touch of someone without chat access who
 * has no sync row does nothing; one who has a row (a profile pushed, or
 * about to be) gets the job, which looks again.
 *
 * The job (payload {"user_id"} only). It asks the people module for the
 * person (hooks_contact: their address and first name; the chat sync
 * reads no users row) and skips one that is erased. A person whose
 * account is deleted (not erased yet: users_after_write tells
 * CHANGE_PERSON) has no chat access, and one without chat access (any
 * more) is not sent: the profiles under the
 * addresses the provider may hold (below) are deleted, as an old
 * address's are, and the row goes (kept, its addresses cleared, when a
 * change came meanwhile: the follow-up looks again). Else it
 * builds the profile below, and when
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
 * address that another user who is not erased holds now (the people
 * module tells, hooks_address_held): the profile under it is theirs, and
 * the delete counts as done.
 * At start-up, rows pushed before migration 0013 get the user's current
 * address sealed into pushed_identity; with sync on, rows marked for a
 * recheck are touched, so their job pushes or erases them: marked by
 * migration 0024 (pushed while anyone touched was pushed, chat access or
 * not), by a touch while the sync was off (chat_recheck_mark: the person
 * may have lost access meanwhile), or by a job that ran while it was off.
 * The job clears the mark once it has looked (read the profile and
 * pushed, found it unchanged, or erased it), never before: a start-up
 * that queued it and a job that did not run leave it for the next. The
 * attempt's writes to the row (pending, pushed) are made only while the
 * row names its job; a chat job makes at most CHAT_SYNC_REQUESTS
 * requests, and config requires that many timeouts to fit in
 * job_timeout_s, so it is not reclaimed while running.
 *
 * Besides the partners module's and learning's touches, people tells of
 * changes to the user's own fields below, and of their email and first
 * name (hooks_fields_watch; last_active_at on sign-in and at most
 * hourly on activity): those push the profile of a user who has one
 * already (a chat_profile_sync row), and make none. A profile pushed
 * under one address is not moved to a changed, unproven one (anyone's
 * address could be typed in): the job holds it ("held") until the new
 * address is proven, whose email_verified_at change queues the move.
 *
 * The files: chatsync.c (this one) holds the module, the touching, the
 * start-up sealing of rows pushed before migration 0013 and the start-up
 * touching of rows marked for a recheck;
 * chatsync_profile.c builds the profile; chatsync_http.c is the exchange
 * with the provider; chatsync_jobs.c the chat.profile_sync job;
 * chatsync_forget.c forgetting a person at the provider (the
 * chat.profile_delete job, and the GDPR hook).
 *
 * The profile: flat keys and values, times ISO 8601 UTC ("" when none),
 * all of it the modules' parts (hooks_profile_register,
 * resource/hooks.h), each documented where it is made: the person's own
 * settings (people/chat_profile.c: signed_up_at, last_active_at,
 * email_reminders_frequency, marketing_permission,
 * service_emails_permission), partners, features and session counts
 * (partners/chat_profile.c), therapy session times (bookings/profile.c),
 * course states (learning/chat_profile.c).
 * A change of a partner touches the profiles of its members
 * (hooks_members).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "module.h"
#include "ops/chatsync.h"
#include "ops/chatsync_int.h"
#include "resource/hooks.h"
#include "resource/seal.h"
#include "store/jobs.h"
#include "store/migrate.h"
#include "store/store.h"

#define CHAT_WEBSITE_ID_MAX 128
#define CHAT_LEGACY_BATCH   100 /* rows sealed or touched per transaction */

/* Start-up: rows pushed before migration 0013, a batch at a time. */
struct legacy_batch {
	char	after[UUID_STR_LEN]; /* the batch starts after it */
	char	last[UUID_STR_LEN];  /* the batch's last user id */
	int64_t seen;		     /* rows of the batch */
	int64_t sealed;		     /* sealed in the batch */
};

static int chatsync_init(struct store *);
static int chatsync_seal_legacy(struct store *);
static int legacy_batch_tx(struct tx *, void *);
static int legacy_row(struct tx *, const char *user_id, int *sealed);
static int chatsync_recheck(struct store *);
static int recheck_batch_tx(struct tx *, void *);
static int chat_changed(struct tx *, enum change, const char *);
static int chat_wanted(struct tx *, const char *user_id, int *wanted);
static int chat_profile_touch(struct tx *, const char *user_id);
static int chat_profile_touch_partner(
    struct tx *, enum change, const char *partner_id);
static int chat_profile_refresh(struct tx *, const char *user_id);

static const struct job_kind chatsync_jobs[] = {
	{ CHAT_SYNC_KIND, chatsync_run, CHAT_SYNC_ATTEMPTS },
	{ CHAT_FORGET_KIND, chatforget_run, CHAT_SYNC_ATTEMPTS },
};

/* The user's own fields in the profile (the people id and nickname
 * too): a change of one pushes it again. */
static const char *const profile_user_fields[] = { "email", "first_name",
	"last_active_at", "email_reminders_frequency", "contact_permission",
	"service_emails_permission", "email_verified_at", NULL };

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

	if ((rc = hooks_gdpr_register(&chat_gdpr_hook)) != OK &&
	    rc != ERR_CONFLICT)
		return (rc);
	if ((rc = hooks_change_listen(chat_changed, CHANGE_NOTIFY)) != OK &&
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
	/* Rows pushed before migration 0013 get their identity now; rows
	 * marked by migration 0024, their job. */
	if ((rc = chatsync_seal_legacy(db)) != OK)
		return (rc);
	return (chatsync_recheck(db));
}

/*
 * A row pushed before migration 0013 has pushed_at but no
 * pushed_identity: the profile is under the address the user had then,
 * which is taken to be the current one (as erasure does; the people
 * module opens it, hooks_contact), sealed into
 * pushed_identity so that the next email change deletes it. Rows of
 * erased users, or whose key does not open, are left as they are.
 */
static int
chatsync_seal_legacy(struct store *db)
{
	struct legacy_batch lb;
	int64_t		    total = 0;
	int		    rc;

	/* pushed_identity comes with migration 0013: none to seal before. */
	if ((rc = migrate_applied(db, "0013_chat_identity")) != OK)
		return (rc == ERR_NOT_FOUND ? OK : rc);
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
	struct stmt	     *st;
	struct person_contact c;
	unsigned char	      key[SEAL_KEY_LEN], *identity = NULL;
	size_t		      n = 0;
	int		      rc, have_key = 0;

	*sealed = 0;
	/* The address of a user deleted and not erased yet too. */
	if ((rc = hooks_contact(tx, user_id, 1, &c)) == OK &&
	    (rc = seal_key_load(tx, user_id, key)) == OK) {
		have_key = 1;
		rc = seal_field(key, "chat_profile_sync", "identity", user_id,
		    c.email, &identity, &n);
	}
	hooks_contact_clear(&c);
	if (rc == ERR_NOT_FOUND || rc == ERR_INVALID) {
		if (rc == ERR_INVALID)
			log_warn("event=chat_identity_seal user=%s "
				 "status=unreadable",
			    user_id);
		rc = OK; /* erased or gone; or unreadable, left as it is */
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
	free(identity);
	return (rc);
}

/*
 * Rows marked for a recheck (recheck = 1: by migration 0024, every
 * profile pushed before only people with chat access had one; by a
 * change made, or a job run, while the sync was off): each is touched,
 * a batch at a time in user id order, so its job pushes the profile of a
 * person with chat access and erases that of a person without. The mark
 * is not cleared here: the job clears it once it has looked
 * (chatsync_jobs.c), so a job that runs while the sync is off, or fails
 * for good, leaves it for the next start-up with chat_sync_url set.
 */
static int
chatsync_recheck(struct store *db)
{
	struct legacy_batch rb;
	int64_t		    total = 0;
	int		    rc;

	if (!chatsync_enabled())
		return (OK);
	/* recheck comes with migration 0024: none to touch before. */
	if ((rc = migrate_applied(db, "0024_chat_access")) != OK)
		return (rc == ERR_NOT_FOUND ? OK : rc);
	memset(&rb, 0, sizeof(rb));
	do {
		if ((rc = store_run(
			 db, STORE_TX_WRITE, recheck_batch_tx, &rb)) != OK) {
			log_error("event=chat_access_recheck_failed status=%s",
			    err_code(rc));
			return (rc);
		}
		total += rb.seen;
		memcpy(rb.after, rb.last, sizeof(rb.after));
	} while (rb.seen == CHAT_LEGACY_BATCH);
	if (total > 0)
		log_info(
		    "event=chat_access_recheck rows=%lld", (long long)total);
	return (OK);
}

/* The next CHAT_LEGACY_BATCH marked rows after rb->after, touched. */
static int
recheck_batch_tx(struct tx *tx, void *arg)
{
	struct legacy_batch *rb = arg;
	struct stmt	    *st;
	char		     ids[CHAT_LEGACY_BATCH][UUID_STR_LEN];
	int64_t		     n = 0, i;
	int		     rc;

	rb->seen = 0;
	st = store_prepare(tx,
	    "SELECT user_id FROM chat_profile_sync WHERE "
	    "recheck = 1 AND user_id > ? ORDER BY user_id LIMIT ?");
	store_bind_text(st, 1, rb->after);
	store_bind_int64(st, 2, CHAT_LEGACY_BATCH);
	while ((rc = store_step(st)) == STORE_ROW && n < CHAT_LEGACY_BATCH)
		strlcpy_cb(ids[n++], store_col_text(st, 0), UUID_STR_LEN);
	store_finalize(st);
	if (rc != STORE_DONE && rc != STORE_ROW)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	for (i = 0; i < n; i++)
		if ((rc = chat_profile_touch(tx, ids[i])) != OK)
			return (rc);
	rb->seen = n;
	if (n > 0)
		strlcpy_cb(rb->last, ids[n - 1], sizeof(rb->last));
	return (OK);
}

int
chatsync_enabled(void)
{
	return (
	    config.chat_sync_url != NULL && config.chat_sync_url[0] != '\0');
}

/* Whether user_id has a sync row: *there 1 or 0; ERR_BUSY or ERR_DB. */
static int
sync_row_exists(struct tx *tx, const char *user_id, int *there)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT 1 FROM chat_profile_sync WHERE "
	    "user_id = ?");
	store_bind_text(st, 1, user_id);
	rc = store_step(st);
	store_finalize(st);
	*there = rc == STORE_ROW;
	if (rc == STORE_ROW || rc == STORE_DONE)
		return (OK);
	return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
}

/*
 * Mark user_id's sync row for a recheck. Nothing to mark without a row;
 * nor without the column (migration 0024 pending, or undone: carebase
 * serves with migrations pending), asked of the catalog so that no
 * statement fails (it would fail the write that touched the person);
 * 0024 marks every row when it comes.
 */
int
chat_recheck_mark(struct tx *tx, const char *user_id)
{
	struct stmt *st;
	int	     rc, there;

	if ((rc = sync_row_exists(tx, user_id, &there)) != OK || !there)
		return (rc);
	if ((rc = store_column_exists(
		 tx, "chat_profile_sync", "recheck", &there)) != OK)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if (!there)
		return (OK);
	st = store_prepare(tx,
	    "UPDATE chat_profile_sync SET recheck = 1 "
	    "WHERE user_id = ? AND recheck = 0");
	store_bind_text(st, 1, user_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
}

/* Touching */

int
chat_enqueue(struct tx *tx, const char *user_id, char *job_id)
{
	char payload[64];

	snprintf(payload, sizeof(payload), "{\"user_id\":\"%s\"}", user_id);
	return (jobs_enqueue(tx, CHAT_SYNC_KIND, payload, CHAT_SYNC_QUEUE,
	    time_now_ms() + config.chat_sync_delay_ms, job_id));
}

/*
 * The change listener (a notifying one: after learning's completions): a
 * person, or every member of a partner (renamed or deactivated; or
 * reactivated, CHANGE_PARTNER_GRANTS: its accesses may grant chat again).
 */
static int
chat_changed(struct tx *tx, enum change kind, const char *id)
{
	switch (kind) {
	case CHANGE_PERSON:
	case CHANGE_ACCESS:
		return (chat_profile_touch(tx, id));
	case CHANGE_PARTNER:
	case CHANGE_PARTNER_GRANTS:
		return (chat_profile_touch_partner(tx, kind, id));
	default:
		return (OK);
	}
}

/*
 * *wanted: the person has a sync row (a profile pushed, or about to be:
 * the job looks at it again) or chat access (the modules' profile parts
 * say, hooks_profile_granted). Nobody else is sent to the provider.
 */
static int
chat_wanted(struct tx *tx, const char *user_id, int *wanted)
{
	struct stmt *st;
	int	     rc;

	*wanted = 0;
	st = store_prepare(tx,
	    "SELECT 1 FROM chat_profile_sync WHERE "
	    "user_id = ?");
	store_bind_text(st, 1, user_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW) {
		*wanted = 1;
		return (OK);
	}
	if (rc != STORE_DONE)
		return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
	return (hooks_profile_granted(tx, user_id, wanted));
}

static int
chat_profile_touch(struct tx *tx, const char *user_id)
{
	struct stmt *st;
	char	     job_id[JOB_ID_LEN];
	int64_t	     now = time_now_ms(), n;
	int	     rc, has_job = 0, wanted;

	if (user_id == NULL)
		return (OK);
	if (!uuid_valid(user_id))
		return (ERR_INVALID);
	/* Sync off: a person with a profile (a sync row) is looked at again
	 * once it is on (chatsync_recheck); nobody else is stored. */
	if (!chatsync_enabled())
		return (chat_recheck_mark(tx, user_id));
	if ((rc = chat_wanted(tx, user_id, &wanted)) != OK || !wanted)
		return (rc);
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
 * signing in or changing settings makes no profile (a profile comes with
 * chat access, when a module tells of a change that gives it).
 */
static int
chat_profile_refresh(struct tx *tx, const char *user_id)
{
	int rc, there;

	if (user_id == NULL)
		return (OK);
	if (!chatsync_enabled())
		return (chat_recheck_mark(tx, user_id));
	if ((rc = sync_row_exists(tx, user_id, &there)) != OK || !there)
		return (rc);
	return (chat_profile_touch(tx, user_id));
}

static int
chat_profile_touch_partner(
    struct tx *tx, enum change kind, const char *partner_id)
{
	json_t *users, *v;
	size_t	i;
	int	rc;

	if (partner_id == NULL)
		return (OK);
	/* Sync off too: its members with a profile are marked. */
	if ((users = json_array()) == NULL)
		return (ERR_NOMEM);
	if ((rc = hooks_members(tx, kind, partner_id, users)) == OK)
		json_array_foreach(users, i, v)
			if ((rc = chat_profile_touch(
				 tx, json_string_value(v))) != OK)
				break;
	json_decref(users);
	return (rc);
}
