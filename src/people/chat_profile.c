/*
 * What the people module tells other modules of a person
 * (resource/hooks.h), so that none of them reads the users table: the
 * contact (the address, first name and phone, opened with the data key) and
 * whether an address is another live user's, for the chat profile sync;
 * the lock against a person's erasure (people_user_lock, for bookings);
 * and the people module's part of a person's chat profile:
 *
 *	signed_up_at		when the account was made
 *	last_active_at		last sign-in or activity ("" for none)
 *	email_reminders_frequency
 *				as set ("" for none)
 *	marketing_permission	contact_permission
 *	service_emails_permission
 *
 * (times ISO 8601 UTC). A user who is erased (no address) is "not found"
 * throughout; erasure clears the blind index too, so a user holding an
 * address's index is not erased.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/err.h"
#include "core/keyring.h"
#include "core/util.h"
#include "people/people_int.h"
#include "resource/hooks.h"
#include "resource/seal.h"
#include "store/store.h"

static int     contact(struct tx *, const char *, int, struct person_contact *);
static int     address_held(struct tx *, const char *, const char *, int *);
static int     profile_add(struct tx *, const char *, json_t *);
static json_t *iso_or_empty(struct stmt *, int);

static const struct person_hooks person = {
	contact,
	address_held,
	people_user_lock,
};

static const struct profile_part part = {
	"people",
	profile_add,
};

int
people_profile_init(void)
{
	int rc;

	hooks_person_set(&person);
	if ((rc = hooks_profile_register(&part)) != OK && rc != ERR_CONFLICT)
		return (rc);
	return (OK);
}

static int
contact(struct tx *tx, const char *user_id, int deleted_too,
    struct person_contact *out)
{
	struct stmt  *st;
	unsigned char key[SEAL_KEY_LEN];
	const void   *b;
	size_t	      n = 0;
	int	      rc;

	st = store_prepare(tx,
	    "SELECT email, first_name, deleted_at, phone, last_name, "
	    "service_emails_permission, email_verified_at FROM users WHERE id = ?");
	store_bind_text(st, 1, user_id);
	if ((rc = store_step(st)) != STORE_ROW) {
		store_finalize(st);
		return (rc == STORE_DONE ? ERR_NOT_FOUND
			: rc == ERR_BUSY ? ERR_BUSY
					 : ERR_DB);
	}
	if (store_col_is_null(st, 0)) {
		store_finalize(st);
		return (ERR_NOT_FOUND); /* erased */
	}
	out->deleted = !store_col_is_null(st, 2);
	out->no_service_mail = store_col_int64(st, 5) == 0;
	out->unproven = store_col_is_null(st, 6);
	if (out->deleted && !deleted_too) {
		store_finalize(st);
		return (OK);
	}
	if ((rc = seal_key_load(tx, user_id, key)) == OK) {
		b = store_col_blob(st, 0, &n);
		rc = seal_open_field(
		    key, "users", "email", user_id, b, n, &out->email);
		if (rc == OK && !store_col_is_null(st, 1)) {
			b = store_col_blob(st, 1, &n);
			if (seal_open_field(key, "users", "first_name", user_id,
				b, n, &out->first_name) != OK)
				out->first_name = NULL;
		}
		if (rc == OK && !store_col_is_null(st, 3)) {
			b = store_col_blob(st, 3, &n);
			if (seal_open_field(key, "users", "phone", user_id, b,
				n, &out->phone) != OK)
				out->phone = NULL;
		}
		if (rc == OK && !store_col_is_null(st, 4)) {
			b = store_col_blob(st, 4, &n);
			if (seal_open_field(key, "users", "last_name", user_id,
				b, n, &out->last_name) != OK)
				out->last_name = NULL;
		}
		sodium_memzero(key, sizeof(key));
	}
	store_finalize(st);
	if (rc != OK)
		hooks_contact_clear(out);
	return (rc);
}

static int
address_held(struct tx *tx, const char *email, const char *user_id, int *held)
{
	struct stmt *st;
	char	     index[65];
	int	     rc;

	keyring_email_index(email, index);
	st = store_prepare(tx,
	    "SELECT 1 FROM users WHERE email_index = ? "
	    "AND id <> ? AND email IS NOT NULL");
	store_bind_text(st, 1, index);
	store_bind_text(st, 2, user_id);
	rc = store_step(st);
	*held = rc == STORE_ROW;
	store_finalize(st);
	sodium_memzero(index, sizeof(index));
	return (rc == STORE_ROW || rc == STORE_DONE ? OK
		: rc == ERR_BUSY		    ? ERR_BUSY
						    : ERR_DB);
}

static json_t *
iso_or_empty(struct stmt *st, int i)
{
	char iso[ISO_TIME_LEN];

	if (store_col_is_null(st, i))
		return (json_string(""));
	return (json_string(time_format_iso(store_col_int64(st, i), iso)));
}

/* The user's own settings; nothing for a user who is not there. */
static int
profile_add(struct tx *tx, const char *user_id, json_t *profile)
{
	struct stmt *st;
	const char  *freq;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT created_at, last_active_at, "
	    "email_reminders_frequency, contact_permission, "
	    "service_emails_permission FROM users WHERE id = ?");
	store_bind_text(st, 1, user_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		freq = store_col_text(st, 2);
		if (json_object_set_new(
			profile, "signed_up_at", iso_or_empty(st, 0)) != 0 ||
		    json_object_set_new(
			profile, "last_active_at", iso_or_empty(st, 1)) != 0 ||
		    json_object_set_new(profile, "email_reminders_frequency",
			json_string(freq != NULL ? freq : "")) != 0 ||
		    json_object_set_new(profile, "marketing_permission",
			json_boolean(store_col_int64(st, 3) != 0)) != 0 ||
		    json_object_set_new(profile, "service_emails_permission",
			json_boolean(store_col_int64(st, 4) != 0)) != 0)
			rc = ERR_NOMEM;
	}
	store_finalize(st);
	if (rc == ERR_NOMEM)
		return (rc);
	return (rc == STORE_ROW || rc == STORE_DONE ? OK
		: rc == ERR_BUSY		    ? ERR_BUSY
						    : ERR_DB);
}
