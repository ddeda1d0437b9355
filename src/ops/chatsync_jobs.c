/*
 * The chat.profile_sync job (payload {"user_id"}; see chatsync.c): name
 * the attempt on the sync row, read the profile, and unless the user is
 * erased or deleted or the profile is unchanged, delete the profiles
 * under the person's old addresses, mark the current one pending, push,
 * and record what was pushed; then queue a follow-up for a change made
 * meanwhile, or let go of the row. A person without chat access is not
 * pushed: the profiles under every address the provider may hold are
 * deleted and the row goes (or, after a change made meanwhile, is
 * cleared for the follow-up).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "module.h"
#include "ops/chatsync_int.h"
#include "store/jobs.h"
#include "store/store.h"

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
	int		     revoked; /* no chat access, nothing left at the
					 provider: forget the row */
	int		     found;   /* claim_tx: the row is there */
	int		     superseded; /* claim_tx: it names another job */
	int		     orphan;	 /* orphan_tx: delete queued */
	int		     checked;	 /* looked at: a recheck mark is done */
};

static int profile_send(struct store *, struct profile *, struct sync_end *,
    const char *digest, char *err, int *give_up, const char **outcome);
static int profile_revoke(struct store *, struct profile *, struct sync_end *,
    char *err, int *give_up, const char **outcome);
static int sync_begin_tx(struct tx *, void *);
static int claim_tx(struct tx *, void *);
static int orphan_tx(struct tx *, void *);
static int sync_end_tx(struct tx *, void *);
static int sync_off_tx(struct tx *, void *);

int
chatsync_run(struct store *db, const struct job *job, char *err)
{
	struct profile	p;
	struct sync_end e;
	json_t	       *pl;
	json_error_t	jerr;
	const char     *user_id = NULL, *outcome = "pushed";
	char		digest[CHAT_DIGEST_LEN];
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
	memset(&e, 0, sizeof(e));
	e.user_id = user_id;
	e.job_id = job->id;
	if (!chatsync_enabled()) {
		/* Turned off since it was queued: what it was to do waits,
		 * marked, for a start-up with the sync on (chatsync.c). */
		if ((rc = store_run(db, STORE_TX_WRITE, sync_off_tx, &e)) !=
		    OK) {
			snprintf(err, JOB_ERR_LEN,
			    "%s: the sync row could not be marked: %s",
			    CHAT_SYNC_KIND, err_code(rc));
			json_decref(pl);
			return (rc);
		}
		log_info("event=chat_sync user=%s status=off", user_id);
		json_decref(pl);
		return (OK);
	}
	if ((rc = store_run(db, STORE_TX_WRITE, sync_begin_tx, &e)) != OK) {
		snprintf(err, JOB_ERR_LEN,
		    "%s: the sync row could not be "
		    "claimed: %s",
		    CHAT_SYNC_KIND, err_code(rc));
		goto out;
	}
	p.user_id = user_id;
	if ((rc = store_run(db, STORE_TX_READ, chat_profile_load_tx, &p)) !=
	    OK) {
		snprintf(err, JOB_ERR_LEN,
		    "%s: the profile could not be "
		    "read: %s",
		    CHAT_SYNC_KIND, err_code(rc));
		goto out;
	}
	if (p.gone) {
		outcome = "skipped";
		e.gone = 1;
	} else if (p.deleted || !p.granted)
		/* A deleted account (not erased yet) has no chat either. */
		rc = profile_revoke(db, &p, &e, err, &give_up, &outcome);
	else if (p.unproven && p.pushed != NULL &&
	    strcmp(p.pushed, p.email) != 0)
		/* A changed address not yet proven (it may be anyone's) is
		 * not given to the provider: the profile stays under the
		 * one pushed until the new one's link is followed, whose
		 * change (email_verified_at) queues the push. */
		outcome = "held";
	else {
		chat_profile_digest(&p, digest);
		if (strcmp(digest, p.last_digest) == 0 && p.pending == NULL &&
		    p.pushed != NULL && strcmp(p.pushed, p.email) == 0)
			outcome = "unchanged";
		else
			rc = profile_send(
			    db, &p, &e, digest, err, &give_up, &outcome);
	}
	/* Done, or finally failed: let go of the row (or follow up). Only a
	 * look that was done clears a recheck mark. */
	e.release = rc == OK || give_up || job->attempt >= job->max_attempts;
	e.checked = rc == OK && strcmp(outcome, "superseded") != 0;
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
	chat_profile_clear(&p);
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
	if ((rc = store_run(db, STORE_TX_WRITE, claim_tx, e)) != OK) {
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
 * The person has no chat access (any more): delete the profiles under
 * every address the provider may hold (unless another user holds it
 * now), while the row names this job; OK with e->revoked set when none is
 * left there, so the row goes. *outcome "no_access" when there was none
 * to delete, "forgotten" when there was; "superseded" or "skipped" as
 * for a push.
 */
static int
profile_revoke(struct store *db, struct profile *p, struct sync_end *e,
    char *err, int *give_up, const char **outcome)
{
	const char *old[2];
	size_t	    i;
	int	    rc, held;

	old[0] = p->pushed;
	old[1] = p->pending != NULL &&
		(p->pushed == NULL || strcmp(p->pending, p->pushed) != 0)
	    ? p->pending
	    : NULL;
	if (old[0] == NULL && old[1] == NULL) {
		*outcome = "no_access";
		e->revoked = 1;
		return (OK);
	}
	e->identity = NULL; /* claims the row, marks nothing */
	if ((rc = store_run(db, STORE_TX_WRITE, claim_tx, e)) != OK) {
		snprintf(err, JOB_ERR_LEN,
		    "%s: the sync row could not be "
		    "claimed: %s",
		    CHAT_SYNC_KIND, err_code(rc));
		return (rc);
	}
	if (e->superseded) {
		*outcome = "superseded";
		return (OK);
	}
	if (!e->found) {
		*outcome = "skipped"; /* erased: its deletes are queued */
		e->gone = 1;
		return (OK);
	}
	for (i = 0; i < NELEM(old); i++)
		if (old[i] != NULL &&
		    (rc = chat_forget_unless_held(db, CHAT_SYNC_KIND,
			 p->user_id, old[i], err, give_up, &held)) != OK)
			return (rc);
	*outcome = "forgotten";
	e->revoked = 1;
	return (OK);
}

/*
 * Only while the row names this job (e->superseded when it names
 * another; e->found 0 when it is gone): with e->identity, the current
 * address is about to be pushed, so the provider may hold it (pending);
 * without, the row is only claimed (a revoke's deletes).
 */
static int
claim_tx(struct tx *tx, void *arg)
{
	struct sync_end *e = arg;
	struct stmt	*st;
	int		 rc, i = 1;

	e->found = e->superseded = 0;
	st = store_prepare(tx,
	    e->identity != NULL
		? "UPDATE chat_profile_sync SET "
		  "pending_identity = ?, updated_at = ? WHERE user_id = ? AND "
		  "job_id = ?"
		: "UPDATE chat_profile_sync SET updated_at = ? WHERE "
		  "user_id = ? AND job_id = ?");
	if (e->identity != NULL)
		store_bind_blob(st, i++, e->identity, e->identity_len);
	store_bind_int64(st, i++, time_now_ms());
	store_bind_text(st, i++, e->user_id);
	store_bind_text(st, i, e->job_id);
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
 * A push failed after claim_tx: if the row went meanwhile (erased),
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
 * an erased user goes; so does that of a person without chat access
 * (revoked), unless a change came meanwhile: then its addresses and
 * digest are cleared (nothing is at the provider) and the follow-up
 * looks again.
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
	if (e->revoked && !dirty) {
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
	if (dirty && (rc = chat_enqueue(tx, e->user_id, job_id)) != OK)
		return (rc);
	st = store_prepare(tx,
	    e->revoked
		? "UPDATE chat_profile_sync SET job_id = ?, dirty = 0, "
		  "pushed_identity = NULL, pending_identity = NULL, "
		  "digest = NULL, pushed_at = NULL, recheck = recheck * ? "
		  "WHERE user_id = ?"
		: "UPDATE chat_profile_sync SET job_id = ?, dirty = 0, "
		  "recheck = recheck * ? WHERE user_id = ?");
	store_bind_text(st, 1, dirty ? job_id : NULL);
	store_bind_int64(st, 2, e->checked ? 0 : 1);
	store_bind_text(st, 3, e->user_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
}

/* The job ran with the sync off: its person's row is marked for a
 * recheck (chat_recheck_mark), so it is looked at once the sync is on. */
static int
sync_off_tx(struct tx *tx, void *arg)
{
	const struct sync_end *e = arg;

	return (chat_recheck_mark(tx, e->user_id));
}
