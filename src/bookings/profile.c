/*
 * The therapy bookings' part of a person's chat profile (resource/hooks.h,
 * read by the chat profile sync), from their bookings not cancelled:
 *
 *	therapy_session_first_at	the first start
 *	therapy_session_next_at		the first start of one not completed
 *					(to come or under way)
 *	therapy_session_last_at		the last start of one completed
 *					(completed_at, set by the job
 *					therapy_bookings.complete once its end
 *					has passed, which touches the profile)
 *
 * ISO 8601 UTC, "" when there is none.
 */
#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "bookings/bookings_int.h"
#include "resource/hooks.h"
#include "store/store.h"

static int     profile_add(struct tx *, const char *, json_t *);
static json_t *iso_or_empty(struct stmt *, int);

static const struct profile_part part = {
	"therapy_bookings",
	profile_add,
};

int
bookings_profile_init(void)
{
	int rc;

	if ((rc = hooks_profile_register(&part)) != OK && rc != ERR_CONFLICT)
		return (rc);
	return (OK);
}

static json_t *
iso_or_empty(struct stmt *st, int i)
{
	char iso[ISO_TIME_LEN];

	if (store_col_is_null(st, i))
		return (json_string(""));
	return (json_string(time_format_iso(store_col_int64(st, i), iso)));
}

static int
profile_add(struct tx *tx, const char *user_id, json_t *profile)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT min(start_date_time), "
	    "min(CASE WHEN completed_at IS NULL THEN start_date_time END), "
	    "max(CASE WHEN completed_at IS NOT NULL THEN start_date_time END) "
	    "FROM therapy_bookings WHERE user_id = ? AND cancelled_at IS NULL");
	store_bind_text(st, 1, user_id);
	if ((rc = store_step(st)) == STORE_ROW) {
		json_object_set_new(
		    profile, "therapy_session_first_at", iso_or_empty(st, 0));
		json_object_set_new(
		    profile, "therapy_session_next_at", iso_or_empty(st, 1));
		json_object_set_new(
		    profile, "therapy_session_last_at", iso_or_empty(st, 2));
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_DB;
	store_finalize(st);
	return (rc);
}
