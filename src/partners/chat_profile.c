/*
 * The partners module's part of a person's chat profile (resource/hooks.h,
 * read by the chat profile sync), from the person's active accesses of
 * active partners (neither deleted):
 *
 *	partners		the partners' names, ", "-separated, sorted
 *				without regard to case, each once
 *	feature_live_chat	any of them grants live chat
 *	feature_therapy		any of them grants therapy
 *	therapy_sessions_remaining, therapy_sessions_redeemed
 *				sums over them
 *
 * Chat access (seed 002: "for partner users, this 1-1 chat feature is
 * available to users with a PartnerAccess that has 1-1 chat enabled"):
 * one of those accesses grants live chat. Taking it away (the access
 * deactivated, deleted or its live chat turned off, the partner
 * deactivated) tells CHANGE_ACCESS or CHANGE_PARTNER, as any change does.
 * "Active accesses of active partners" is PARTNERS_ACTIVE_ACCESS
 * (partners/partners.h), the one rule that learning's inclusion and the
 * public user (PARTNERS_PUBLIC_USER) go by too.
 *
 * and the members of a partner, for a change of it (renamed, deactivated:
 * CHANGE_PARTNER): the users who hold an access of it that is not
 * deleted.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "partners/partners.h"
#include "partners/partners_int.h"
#include "resource/hooks.h"
#include "store/store.h"

#define PROFILE_PARTNERS_MAX (16 * 1024) /* bytes of "partners" */

static int profile_add(struct tx *, const char *, json_t *);
static int grants(struct tx *, const char *, int *);
static int members(struct tx *, const char *, json_t *);

static const struct profile_part part = {
	"partners",
	profile_add,
	grants,
};

int
partners_profile_init(void)
{
	int rc;

	if ((rc = hooks_profile_register(&part)) != OK && rc != ERR_CONFLICT)
		return (rc);
	return (hooks_members_register(CHANGE_PARTNER, members));
}

static int
profile_add(struct tx *tx, const char *user_id, json_t *profile)
{
	struct stmt *st;
	struct buf   names;
	const char  *name, *last = NULL;
	char	    *lastcopy = NULL;
	int64_t	     remaining = 0, redeemed = 0;
	size_t	     before;
	int	     rc, chat = 0, therapy = 0;

	buf_init(&names, PROFILE_PARTNERS_MAX);
	st = store_prepare(tx,
	    "SELECT pt.name, pa.feature_live_chat, pa.feature_therapy, "
	    "pa.therapy_sessions_remaining, pa.therapy_sessions_redeemed "
	    "FROM " PARTNERS_ACTIVE_ACCESS(
		"?") " ORDER BY lower(pt.name), pt.name, pa.id");
	store_bind_text(st, 1, user_id);
	while ((rc = store_step(st)) == STORE_ROW) {
		name = store_col_text(st, 0);
		if (name != NULL && (last == NULL || strcmp(last, name) != 0)) {
			/* Names past PROFILE_PARTNERS_MAX are left out. */
			before = names.len;
			if ((before > 0 && buf_puts(&names, ", ") != OK) ||
			    buf_puts(&names, name) != OK)
				buf_truncate(&names, before);
			free(lastcopy);
			if ((last = lastcopy = strdup(name)) == NULL) {
				rc = ERR_NOMEM;
				break;
			}
		}
		chat |= store_col_int64(st, 1) != 0;
		therapy |= store_col_int64(st, 2) != 0;
		remaining += store_col_int64(st, 3);
		redeemed += store_col_int64(st, 4);
	}
	store_finalize(st);
	free(lastcopy);
	if (rc == STORE_DONE) {
		json_object_set_new(profile, "partners",
		    json_string(names.data != NULL ? names.data : ""));
		json_object_set_new(
		    profile, "feature_live_chat", json_boolean(chat));
		json_object_set_new(
		    profile, "feature_therapy", json_boolean(therapy));
		json_object_set_new(profile, "therapy_sessions_remaining",
		    json_integer(remaining));
		json_object_set_new(profile, "therapy_sessions_redeemed",
		    json_integer(redeemed));
		rc = OK;
	}
	buf_free(&names);
	return (rc);
}

static int
grants(struct tx *tx, const char *user_id, int *granted)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT 1 FROM " PARTNERS_ACTIVE_ACCESS(
		"?") " AND pa.feature_live_chat = 1 LIMIT 1");
	store_bind_text(st, 1, user_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		*granted = 1;
	if (rc == STORE_ROW || rc == STORE_DONE)
		return (OK);
	return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
}

static int
members(struct tx *tx, const char *partner_id, json_t *user_ids)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT DISTINCT user_id FROM partner_access "
	    "WHERE partner_id = ? AND user_id IS NOT NULL AND deleted_at IS "
	    "NULL ORDER BY user_id");
	store_bind_text(st, 1, partner_id);
	while ((rc = store_step(st)) == STORE_ROW)
		if (json_array_append_new(
			user_ids, json_string(store_col_text(st, 0))) != 0) {
			rc = ERR_NOMEM;
			break;
		}
	store_finalize(st);
	if (rc == STORE_DONE)
		return (OK);
	return (rc == ERR_NOMEM || rc == ERR_BUSY ? rc : ERR_DB);
}
