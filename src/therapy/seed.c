/*
 * The therapy practice's demo data for `carebase seed`: the demo
 * therapist's profile and, with the demo member (their client, born
 * 1991): two sessions in the past, completed, with shared and private
 * notes; one next week; a PHQ-9 the member filled at the last session; and
 * a resource of the therapist's assigned to the member. Every row is made
 * through the resource layer as the API makes it (resource_create), so it
 * obeys the practice's rules; the completions are the complete action's
 * update, audited without an actor ("made by the seed, not by a person").
 * Made once: a demo therapist who has a profile has their demo data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "module.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/store.h"
#include "therapy/therapy_int.h"

#define SEED_PHQ9   "00000000-0000-7000-8000-000000000009"
#define SEED_DAY_MS (24LL * 3600 * 1000)

struct seed {
	const struct seed_accounts *who;
	int			    made; /* 0: had a profile already */
	char			    therapist[UUID_STR_LEN]; /* profile */
	char			    last[UUID_STR_LEN];	     /* last session */
};

static int seed_tx(struct tx *, void *);
static int seed_session(struct tx *, struct seed *, int64_t start,
    const char *shared, const char *private_notes);
static int seed_completed(struct tx *, const char *id);

/* A session of the therapist with the member at start; with private
 * notes, one that took place: they are written and it is completed. */
static int
seed_session(struct tx *tx, struct seed *sd, int64_t start, const char *shared,
    const char *private_notes)
{
	struct tsession s;
	json_t	       *body;
	char		iso[2][ISO_TIME_LEN];
	int		rc;

	body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s?}", "therapist_id",
	    sd->therapist, "client_id", sd->who->member, "start_time",
	    time_format_iso(start, iso[0]), "end_time",
	    time_format_iso(start + 50 * 60 * 1000, iso[1]), "type",
	    sd->last[0] == '\0' ? "initial" : "regular", "format", "video",
	    "shared_notes", shared);
	if (body == NULL)
		return (ERR_NOMEM);
	rc = resource_create(
	    tx, &therapy_sessions_resource, body, sd->last, NULL);
	json_decref(body);
	if (rc != OK || private_notes == NULL)
		return (rc);
	memset(&s, 0, sizeof(s));
	if ((rc = therapy_session_load(tx, sd->last, &s)) == OK &&
	    (rc = therapy_session_notes_store(
		 tx, NULL, NULL, &s, private_notes)) == OK)
		rc = seed_completed(tx, sd->last);
	free(s.meta);
	return (rc);
}

/* The complete action's change (the session has started). */
static int
seed_completed(struct tx *tx, const char *id)
{
	struct stmt *st;
	json_t	    *changes;
	int	     rc;

	st = store_prepare(tx,
	    "UPDATE therapy_sessions SET status = 'completed', "
	    "updated_at = ? WHERE id = ? AND status = 'scheduled'");
	store_bind_int64(st, 1, time_now_ms());
	store_bind_text(st, 2, id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc);
	changes =
	    json_pack("{s:[s],s:s}", "fields", "status", "status", "completed");
	rc = audit_append(tx, NULL, NULL, "therapy_sessions.completed",
	    "therapy_sessions", id, changes);
	json_decref(changes);
	return (rc);
}

static int
seed_tx(struct tx *tx, void *arg)
{
	struct seed *sd = arg;
	json_t	    *body, *answers;
	char	     id[UUID_STR_LEN], resource[UUID_STR_LEN];
	/* 10:00 UTC today. */
	int64_t today =
	    time_now_ms() / SEED_DAY_MS * SEED_DAY_MS + 10 * 3600 * 1000;
	int rc, i;

	sd->made = 0;
	sd->last[0] = '\0';
	if ((rc = therapy_therapist_of(tx, sd->who->therapist, id)) !=
	    ERR_NOT_FOUND)
		return (rc);
	body = json_pack("{s:s,s:s,s:[s,s],s:[s,s]}", "user_id",
	    sd->who->therapist, "bio",
	    "Cognitive behavioural therapist working with adults on anxiety, "
	    "low mood and stress; sessions by video or in person.",
	    "specialties", "anxiety", "stress", "credentials", "BACP",
	    "PG Dip CBT");
	if (body == NULL)
		return (ERR_NOMEM);
	rc = resource_create(
	    tx, &therapists_resource, body, sd->therapist, NULL);
	json_decref(body);
	if (rc != OK)
		return (rc);
	sd->made = 1;
	if (sd->who->member[0] == '\0')
		return (OK);
	if ((rc = seed_session(tx, sd, today - 14 * SEED_DAY_MS,
		 "We mapped where stress shows up in your week and started "
		 "box breathing: four rounds, twice a day.",
		 "Engaged; sleep is the main complaint. Revisit in two "
		 "weeks.")) != OK ||
	    (rc = seed_session(tx, sd, today - 7 * SEED_DAY_MS,
		 "Breathing practice is helping in the mornings. Next: a "
		 "wind-down routine before bed.",
		 "PHQ-9 at this session: mild. No risk indicated.")) != OK)
		return (rc);
	/* The PHQ-9, filled at the last session: mild. */
	if ((answers = json_object()) == NULL)
		return (ERR_NOMEM);
	for (i = 1; i <= 9; i++) {
		char q[4];

		snprintf(q, sizeof(q), "q%d", i);
		json_object_set_new(answers, q,
		    json_string(i <= 6 ? "Several days" : "Not at all"));
	}
	body =
	    json_pack("{s:s,s:s,s:s,s:o}", "form_id", SEED_PHQ9, "session_id",
		sd->last, "client_id", sd->who->member, "responses", answers);
	if (body == NULL)
		return (ERR_NOMEM);
	rc = resource_create(tx, &form_responses_resource, body, NULL, NULL);
	json_decref(body);
	if (rc != OK)
		return (rc);
	/* And the next one, in a week. */
	if ((rc = seed_session(tx, sd, today + 7 * SEED_DAY_MS, NULL, NULL)) !=
	    OK)
		return (rc);
	body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s,s]}", "therapist_id",
	    sd->therapist, "title", "Box breathing, step by step",
	    "description",
	    "A four-minute guide to the breathing practice from our sessions.",
	    "type", "link", "url",
	    "https://www.nhs.uk/mental-health/self-help/guides-tools-and-"
	    "activities/breathing-exercises-for-stress/",
	    "tags", "breathing", "stress");
	if (body == NULL)
		return (ERR_NOMEM);
	rc = resource_create(tx, &resources_resource, body, resource, NULL);
	json_decref(body);
	if (rc != OK)
		return (rc);
	body = json_pack("{s:s,s:s,s:s}", "resource_id", resource, "client_id",
	    sd->who->member, "notes",
	    "Try it each morning this week and note how you slept.");
	if (body == NULL)
		return (ERR_NOMEM);
	rc = resource_create(
	    tx, &resource_assignments_resource, body, NULL, NULL);
	json_decref(body);
	return (rc);
}

int
therapy_seed(struct store *db, struct seed_accounts *accounts)
{
	struct seed sd;
	int	    rc;

	memset(&sd, 0, sizeof(sd));
	sd.who = accounts;
	if (accounts->therapist[0] == '\0')
		return (OK);
	if ((rc = store_run(db, STORE_TX_WRITE, seed_tx, &sd)) != OK)
		return (rc);
	if (!sd.made)
		printf("therapy: the demo therapist has a profile already; "
		       "nothing added\n");
	else
		printf("therapy: the therapist's profile%s\n",
		    accounts->member[0] == '\0'
			? ""
			: "; with the member: 2 completed sessions with "
			  "shared and private notes, 1 next week, a PHQ-9 "
			  "(mild), a resource assigned");
	return (OK);
}
