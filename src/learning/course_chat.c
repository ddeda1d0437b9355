/*
 * The chat access of a course's learners, after the CMS webhook (issue
 * 15): a course that becomes live or stops being live, a live course
 * published again, unpublished or deleted, or whose partners change, may
 * give or take the chat access of its public learners
 * (learning/chat_profile.c). The webhook does not touch them in its own
 * transaction (a course may have many learners, and the webhook is to
 * answer quickly): it queues the job learning.course_chat
 * ({"course_id", "after": ""}) in its transaction, and the job tells the
 * change listeners of the course's enrolled users (CHANGE_PERSON: the
 * chat sync looks at their profiles), course_chat_page of them per run
 * (config, 200 by default), in user id order; a full page queues the
 * next run with "after" its last user id (a course whose learners fill
 * the last page exactly ends with a run that finds none). The job reads
 * what the course is when it runs, so a later flip is never undone by an
 * earlier job; each flip queues its own, and a user told twice is looked
 * at twice, harmlessly.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "learning/learning_int.h"
#include "store/jobs.h"
#include "store/store.h"

/* One page of a course's learners (run by store_run). */
struct course_page {
	const char *course_id;
	const char *after; /* user ids after it */
	int64_t	    page;  /* users a run looks at, at most */
	int64_t	    seen;  /* users told */
};

static int course_page_tx(struct tx *, void *);
static int course_chat_enqueue(
    struct tx *, const char *course_id, const char *after);

int
learning_touch_course(struct tx *tx, const char *course_id)
{
	return (course_chat_enqueue(tx, course_id, ""));
}

static int
course_chat_enqueue(struct tx *tx, const char *course_id, const char *after)
{
	char payload[128];

	if (!uuid_valid(course_id) || (after[0] != '\0' && !uuid_valid(after)))
		return (ERR_INVALID);
	snprintf(payload, sizeof(payload),
	    "{\"course_id\":\"%s\",\"after\":\"%s\"}", course_id, after);
	return (jobs_enqueue(tx, LEARNING_CHAT_KIND, payload, NULL, 0, NULL));
}

int
learning_course_chat_run(struct store *db, const struct job *job, char *err)
{
	struct course_page cp;
	json_t		  *pl;
	const char	  *course_id = NULL, *after = NULL;
	int		   rc;

	if ((pl = json_loads(job->payload, 0, NULL)) == NULL ||
	    json_unpack(pl, "{s:s,s:s}", "course_id", &course_id, "after",
		&after) != 0 ||
	    !uuid_valid(course_id) ||
	    (after[0] != '\0' && !uuid_valid(after))) {
		snprintf(err, JOB_ERR_LEN, "%s: malformed payload",
		    LEARNING_CHAT_KIND);
		if (job->give_up != NULL)
			*job->give_up = 1;
		json_decref(pl);
		return (ERR_INVALID);
	}
	memset(&cp, 0, sizeof(cp));
	cp.course_id = course_id;
	cp.after = after;
	cp.page = config.course_chat_page;
	if ((rc = store_run(db, STORE_TX_WRITE, course_page_tx, &cp)) != OK)
		snprintf(err, JOB_ERR_LEN, "%s: %s", LEARNING_CHAT_KIND,
		    err_code(rc));
	else
		log_info("event=course_chat course=%s users=%lld more=%d",
		    course_id, (long long)cp.seen, cp.seen == cp.page);
	json_decref(pl);
	return (rc);
}

/* The next cp->page learners after cp->after told; a full page queues
 * the next. */
static int
course_page_tx(struct tx *tx, void *arg)
{
	struct course_page *cp = arg;
	struct stmt	   *st;
	json_t		   *users;
	const char	   *last;
	int		    rc;

	cp->seen = 0;
	if ((users = json_array()) == NULL)
		return (ERR_NOMEM);
	st = store_prepare(tx,
	    "SELECT user_id FROM course_enrolments WHERE "
	    "course_id = ? AND user_id > ? ORDER BY user_id LIMIT ?");
	store_bind_text(st, 1, cp->course_id);
	store_bind_text(st, 2, cp->after);
	store_bind_int64(st, 3, cp->page);
	while ((rc = store_step(st)) == STORE_ROW)
		if (json_array_append_new(
			users, json_string(store_col_text(st, 0))) != 0) {
			rc = ERR_NOMEM;
			break;
		}
	store_finalize(st);
	if (rc != STORE_DONE) {
		json_decref(users);
		return (rc == ERR_NOMEM	 ? ERR_NOMEM
			: rc == ERR_BUSY ? ERR_BUSY
					 : ERR_DB);
	}
	cp->seen = (int64_t)json_array_size(users);
	rc = learning_touch_users(tx, users);
	if (rc == OK && cp->seen == cp->page) {
		last = json_string_value(json_array_get(users, cp->seen - 1));
		rc = course_chat_enqueue(tx, cp->course_id, last);
	}
	json_decref(users);
	return (rc);
}
