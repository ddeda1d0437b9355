/*
 * Forgetting a person at the chat provider (see chatsync.c): the
 * chat.profile_delete job, whose payload holds the address sealed under
 * the system key; the check that no other live user holds an address
 * before its profile is deleted; and the GDPR hook: the export says when
 * the profile was last sent and under which addresses the provider may
 * hold it, erasure forgets the sync row and queues the deletes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/err.h"
#include "core/keyring.h"
#include "core/log.h"
#include "core/util.h"
#include "module.h"
#include "ops/chatsync_int.h"
#include "resource/hooks.h"
#include "resource/seal.h"
#include "store/jobs.h"
#include "store/store.h"

/* Is an address another live user's? (chat_address_held_tx) */
struct held {
	const char *user_id;
	const char *people_id;
	int	    held;
};

static int chat_address_held_tx(struct tx *, void *);
static int gdpr_export(struct tx *, const char *user_id, json_t *rows);
static int gdpr_erase(struct tx *, const char *user_id);

/* What gdpr_export writes (the export's records.chat_profile_sync). */
const struct gdpr_hook chat_gdpr_hook = {
	.name = "chat_profile_sync",
	.export = gdpr_export,
	.erase = gdpr_erase,
	.schema = "{\"type\":\"object\",\"required\":[\"provider\","
		  "\"pushed_at\",\"pushed_as\",\"pending_as\"],"
		  "\"properties\":{\"provider\":{\"const\":\"chat\"},"
		  "\"pushed_at\":{\"type\":[\"string\",\"null\"],"
		  "\"format\":\"date-time\"},\"pushed_as\":{\"type\":["
		  "\"string\",\"null\"],\"description\":\"the identity the "
		  "chat provider was last sent\"},\"pending_as\":{\"type\":["
		  "\"string\",\"null\"],\"description\":\"one waiting to "
		  "be sent\"}},\"additionalProperties\":false}",
};

/*
 * Delete the profile under people_id (user_id's, once), as chat_forget,
 * unless another user who is not erased holds the address now: the
 * profile there is theirs (or will be), so the delete is done without a
 * request (*held set, logged).
 */
int
chat_forget_unless_held(struct store *db, const char *kind, const char *user_id,
    const char *people_id, char *err, int *give_up, int *held)
{
	struct held h;
	int	    rc;

	*held = 0;
	memset(&h, 0, sizeof(h));
	h.user_id = user_id;
	h.people_id = people_id;
	rc = store_run(db, STORE_TX_READ, chat_address_held_tx, &h);
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

/* The people module knows (hooks_address_held). */
static int
chat_address_held_tx(struct tx *tx, void *arg)
{
	struct held *h = arg;

	return (hooks_address_held(tx, h->people_id, h->user_id, &h->held));
}

/*
 * Queue a chat.profile_delete job for people_id inside tx: the payload is
 * the user id and the address sealed under the system key (base64url).
 */
int
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
int
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
	chat_secret_free(people_id);
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
		    (chat_identity_open(key, user_id, st, 1, &pushed) != OK ||
			chat_identity_open(key, user_id, st, 2, &pending) !=
			    OK))
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
	chat_secret_free(pushed);
	chat_secret_free(pending);
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
	struct stmt	     *st;
	struct person_contact c;
	unsigned char	      key[SEAL_KEY_LEN];
	unsigned char	     *blob[2] = { NULL, NULL };
	const void	     *b;
	char		     *id[2] = { NULL, NULL };
	size_t		      len[2] = { 0, 0 }, i;
	int		      rc, have_key = 0, legacy = 0, found = 0;

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
		 * the current address, which the people module opens while
		 * the key is still there (its erasure runs this first). */
		if ((rc = hooks_contact(tx, user_id, 1, &c)) == OK) {
			id[0] = c.email;
			c.email = NULL;
		}
		hooks_contact_clear(&c);
		if (rc != OK && rc != ERR_NOT_FOUND && rc != ERR_INVALID)
			goto out;
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
	chat_secret_free(id[0]);
	chat_secret_free(id[1]);
	return (rc);
}
