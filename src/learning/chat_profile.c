/*
 * The learning module's part of a person's chat profile
 * (resource/hooks.h, read by the chat profile sync):
 *
 *	course_<slug>	"Started" or "Completed", one per enrolment in a
 *			course that is not deleted; <slug> is the last part
 *			of the course's slug in [a-z0-9_] (the first of two
 *			alike wins; the course id's hex digits when nothing
 *			is left)
 *
 * and chat access for a public user (seed 002: "for public users, this
 * 1-1 chat feature is available on live courses only"; who is a public
 * user is PARTNERS_PUBLIC_USER's one rule, partners/partners.h: no active
 * access of an active partner, no active partner admin) who is enrolled
 * in a course that is published, live and included for them as courses
 * are for anyone (LEARNING_PARTNERS_OK, learning_int.h: it lists no
 * partner, or "Public"). A course included for some partners only gives
 * no public user chat, even one enrolled when it was public or when they
 * held an access. A partner user's chat is their accesses'
 * (partners/chat_profile.c), live course or not.
 */
#include <ctype.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "learning/learning_int.h"
#include "resource/hooks.h"
#include "store/store.h"

#define COURSE_PREFIX	"course_"
#define COURSE_SLUG_MAX 57 /* COURSE_PREFIX + 57 = 64 */
#define COURSE_KEY_LEN	(sizeof(COURSE_PREFIX) + COURSE_SLUG_MAX)

/* A live, published course included for a public user (four ?: them). */
/* clang-format off */
#define GRANTS								\
	"SELECT 1 FROM course_enrolments e JOIN courses c ON c.id = "	\
	"e.course_id WHERE e.user_id = ? AND c.live = 1 AND c.status = "	\
	"'published' AND " LEARNING_PARTNERS_OK("course_partners",		\
	"course_id", "c.id", "?") " AND " PARTNERS_PUBLIC_USER("?")		\
	" LIMIT 1"
/* clang-format on */

static int  profile_add(struct tx *, const char *, json_t *);
static int  grants(struct tx *, const char *, int *);
static void course_key(const char *slug, const char *id, char *out, size_t n);

static const struct profile_part part = {
	"courses",
	profile_add,
	grants,
};

int
learning_profile_init(void)
{
	int rc;

	if ((rc = hooks_profile_register(&part)) != OK && rc != ERR_CONFLICT)
		return (rc);
	return (OK);
}

/*
 * "course_" and the last part of the slug in lower-case letters, digits
 * and single underscores (COURSE_SLUG_MAX at most); the id's hex digits
 * when nothing is left.
 */
static void
course_key(const char *slug, const char *id, char *out, size_t n)
{
	const size_t prefix = sizeof(COURSE_PREFIX) - 1;
	const char  *s, *end;
	size_t	     len, max;
	int	     under = 0;

	/* n is at least COURSE_KEY_LEN: room for the prefix and a slug. */
	max =
	    n - 1 < prefix + COURSE_SLUG_MAX ? n - 1 : prefix + COURSE_SLUG_MAX;
	memcpy(out, COURSE_PREFIX, prefix);
	len = prefix;
	end = slug + strlen(slug);
	while (end > slug && end[-1] == '/')
		end--;
	for (s = end; s > slug && s[-1] != '/'; s--)
		;
	for (; s < end && len < max; s++) {
		if (isalnum((unsigned char)*s)) {
			if (under && len > prefix && len + 1 < max)
				out[len++] = '_';
			under = 0;
			out[len++] = (char)tolower((unsigned char)*s);
		} else
			under = 1;
	}
	if (len == prefix)
		for (s = id; *s != '\0' && len < max; s++)
			if (isxdigit((unsigned char)*s))
				out[len++] = (char)tolower((unsigned char)*s);
	out[len] = '\0';
}

static int
profile_add(struct tx *tx, const char *user_id, json_t *profile)
{
	struct stmt *st;
	char	     key[COURSE_KEY_LEN];
	int	     rc;

	st = store_prepare(tx,
	    "SELECT c.slug, c.id, e.completed FROM "
	    "course_enrolments e JOIN courses c ON c.id = e.course_id WHERE "
	    "e.user_id = ? AND c.status <> 'deleted' ORDER BY c.slug, c.id");
	store_bind_text(st, 1, user_id);
	while ((rc = store_step(st)) == STORE_ROW) {
		course_key(
		    store_col_text(st, 0) != NULL ? store_col_text(st, 0) : "",
		    store_col_text(st, 1), key, sizeof(key));
		if (json_object_get(profile, key) == NULL)
			json_object_set_new(profile, key,
			    json_string(store_col_int64(st, 2) != 0
				    ? "Completed"
				    : "Started"));
	}
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

static int
grants(struct tx *tx, const char *user_id, int *granted)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx, GRANTS);
	store_bind_text(st, 1, user_id);
	store_bind_text(st, 2, user_id); /* LEARNING_PARTNERS_OK */
	store_bind_text(st, 3, user_id); /* PARTNERS_PUBLIC_USER: twice */
	store_bind_text(st, 4, user_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		*granted = 1;
	if (rc == STORE_ROW || rc == STORE_DONE)
		return (OK);
	return (rc == ERR_BUSY ? ERR_BUSY : ERR_DB);
}
