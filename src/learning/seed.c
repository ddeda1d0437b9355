/*
 * The demo course for `carebase seed`: "Understanding stress", published
 * for everyone (no partner listed), with three sessions, stored as the
 * CMS webhook stores a published story (learning_story_apply; audited
 * with source "seed"), and the demo member's progress in it, made as the
 * progress actions make it: the first session completed, the second
 * started. Made once: the course's story uuid names it.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "module.h"
#include "learning/learning_int.h"
#include "store/store.h"

#define SEED_COURSE_UUID "0190f2a4-5eed-7000-8000-00000000c000"
#define SEED_STORY_ID	 9000000

static const struct {
	const char *uuid, *name, *slug;
} seed_sessions[] = {
	{ "0190f2a4-5eed-7000-8000-00000000c001", "What stress does",
	    "what-stress-does" },
	{ "0190f2a4-5eed-7000-8000-00000000c002", "Breathing to calm down",
	    "breathing-to-calm-down" },
	{ "0190f2a4-5eed-7000-8000-00000000c003", "Sleep and stress",
	    "sleep-and-stress" },
};

struct seed {
	const struct seed_accounts *who;
	int			    made;
};

static int seed_tx(struct tx *, void *);
static int seed_story(struct tx *, json_t *work);

/* One story, as the webhook applies it (work taken). */
static int
seed_story(struct tx *tx, json_t *work)
{
	json_t *out = NULL;
	int	rc;

	if (work == NULL)
		return (ERR_NOMEM);
	rc = learning_story_apply(tx, work, &out);
	json_decref(out);
	json_decref(work);
	return (rc);
}

static int
seed_tx(struct tx *tx, void *arg)
{
	struct seed *sd = arg;
	struct stmt *st;
	size_t	     i;
	int	     rc;

	sd->made = 0;
	st =
	    store_prepare(tx, "SELECT 1 FROM courses WHERE storyblok_uuid = ?");
	store_bind_text(st, 1, SEED_COURSE_UUID);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == STORE_ROW ? OK : rc);
	if ((rc = seed_story(tx,
		 json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:[s,s],s:[],s:I,s:s,"
			   "s:s,s:s}",
		     "kind", "course", "component", "Course", "uuid",
		     SEED_COURSE_UUID, "name", "Understanding stress", "slug",
		     "understanding-stress", "description",
		     "Three short sessions on what stress does to body and "
		     "mind, and what helps.",
		     "themes", "stress", "sleep", "partners", "story_id",
		     (json_int_t)SEED_STORY_ID, "status", "published", "action",
		     "published", "source", "seed"))) != OK)
		return (rc);
	for (i = 0; i < NELEM(seed_sessions); i++)
		if ((rc = seed_story(tx,
			 json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:[],s:I,s:s,"
				   "s:s,s:s}",
			     "kind", "session", "component", "session", "uuid",
			     seed_sessions[i].uuid, "course_uuid",
			     SEED_COURSE_UUID, "name", seed_sessions[i].name,
			     "slug", seed_sessions[i].slug, "partners",
			     "story_id", (json_int_t)(SEED_STORY_ID + 1 + i),
			     "status", "published", "action", "published",
			     "source", "seed"))) != OK)
			return (rc);
	if (sd->who->member[0] != '\0' &&
	    ((rc = learning_progress_apply(
		  tx, sd->who->member, seed_sessions[0].uuid, 1)) != OK ||
		(rc = learning_progress_apply(
		     tx, sd->who->member, seed_sessions[1].uuid, 0)) != OK))
		return (rc);
	sd->made = 1;
	return (OK);
}

int
learning_seed(struct store *db, struct seed_accounts *accounts)
{
	struct seed sd;
	int	    rc;

	memset(&sd, 0, sizeof(sd));
	sd.who = accounts;
	if ((rc = store_run(db, STORE_TX_WRITE, seed_tx, &sd)) != OK)
		return (rc);
	if (!sd.made)
		printf("learning: the demo course is there already; nothing "
		       "added\n");
	else
		printf("learning: the course \"Understanding stress\" (3 "
		       "sessions, for everyone)%s\n",
		    accounts->member[0] != '\0'
			? "; the member completed the first session and "
			  "started the second"
			: "");
	return (OK);
}
