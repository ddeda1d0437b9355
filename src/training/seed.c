/*
 * The training catalogue's demo data for `carebase seed`: an Emergency
 * First Aid at Work course with a public course material, a venue, the
 * demo instructor's trainer profile, and a schedule of the course there
 * by them, four weeks ahead, open for booking (GET /v1/course-schedules
 * without a token). Made through the resource layer as the API makes it
 * (resource_create), so the catalogue's rules hold (course length,
 * capacities, the trainer's qualification, no overlap). Made once: a demo
 * instructor who has a trainer profile has their demo data.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "module.h"
#include "resource/resource.h"
#include "store/store.h"
#include "training/training_int.h"

#define SEED_DAY_MS (24LL * 3600 * 1000)

struct seed {
	const struct seed_accounts *who;
	int			    made;
};

static int seed_tx(struct tx *, void *);
static int seed_row(
    struct tx *, const struct resource *, json_t *body, char *id_out);

/* A row of res made as POST makes it (body taken). */
static int
seed_row(struct tx *tx, const struct resource *res, json_t *body, char *id_out)
{
	int rc;

	if (body == NULL)
		return (ERR_NOMEM);
	rc = resource_create(tx, res, body, id_out, NULL);
	json_decref(body);
	return (rc);
}

static int
seed_tx(struct tx *tx, void *arg)
{
	struct seed *sd = arg;
	struct stmt *st;
	char	     course[UUID_STR_LEN], venue[UUID_STR_LEN];
	char	     trainer[UUID_STR_LEN], iso[2][ISO_TIME_LEN];
	/* 09:00 UTC, four weeks from today. */
	int64_t start = time_now_ms() / SEED_DAY_MS * SEED_DAY_MS +
	    28 * SEED_DAY_MS + 9 * 3600 * 1000;
	int rc;

	sd->made = 0;
	st = store_prepare(tx, "SELECT 1 FROM trainers WHERE user_id = ?");
	store_bind_text(st, 1, sd->who->instructor);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == STORE_ROW ? OK : rc);
	if ((rc = seed_row(tx, &training_courses_resource,
		 json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:i}", "name",
		     "Emergency First Aid at Work", "description",
		     "One day, HSE-compliant: CPR and AED, choking, bleeding, "
		     "shock and the casualty who is unresponsive.",
		     "course_type", "EFAW", "duration_hours", 6,
		     "duration_days", 1, "price_minor", 9500, "max_capacity",
		     12, "certification_validity_years", 3),
		 course)) != OK ||
	    (rc = seed_row(tx, &course_materials_resource,
		 json_pack("{s:s,s:s,s:s,s:s,s:b}", "course_id", course,
		     "title", "First aid at work: your questions answered",
		     "material_type", "link", "file_url",
		     "https://www.hse.gov.uk/firstaid/", "is_public", 1),
		 NULL)) != OK ||
	    (rc = seed_row(tx, &venues_resource,
		 json_pack("{s:s,s:s,s:s,s:s,s:i,s:[s,s],s:s}", "name",
		     "Leeds City Centre Training Venue", "address_line1",
		     "1 Park Row", "city", "Leeds", "postcode", "LS1 5AB",
		     "capacity", 12, "facilities", "projector",
		     "step-free access", "parking_info",
		     "Pay-and-display on Park Square."),
		 venue)) != OK ||
	    (rc = seed_row(tx, &trainers_resource,
		 json_pack("{s:s,s:s,s:s,s:s,s:[s,s],s:s,s:i}", "user_id",
		     sd->who->instructor, "trainer_code", "DEMO-T1",
		     "qualification_number", "FAQ-DEMO-0001",
		     "qualification_expiry", "2035-12-31", "specializations",
		     "EFAW", "FAW", "bio",
		     "Paramedic for twelve years; teaching first aid since "
		     "2019.",
		     "hourly_rate_minor", 3500),
		 trainer)) != OK ||
	    (rc = seed_row(tx, &course_schedules_resource,
		 json_pack("{s:s,s:s,s:s,s:s,s:s}", "course_id", course,
		     "venue_id", venue, "trainer_id", trainer, "start_time",
		     time_format_iso(start, iso[0]), "end_time",
		     time_format_iso(start + 6 * 3600 * 1000, iso[1])),
		 NULL)) != OK)
		return (rc);
	sd->made = 1;
	return (OK);
}

int
training_seed(struct store *db, struct seed_accounts *accounts)
{
	struct seed sd;
	int	    rc;

	memset(&sd, 0, sizeof(sd));
	sd.who = accounts;
	if (accounts->instructor[0] == '\0')
		return (OK);
	if ((rc = store_run(db, STORE_TX_WRITE, seed_tx, &sd)) != OK)
		return (rc);
	if (!sd.made)
		printf("training: the demo instructor has a trainer profile "
		       "already; nothing added\n");
	else
		printf("training: an EFAW course with a material, a venue in "
		       "Leeds, the instructor's trainer profile (DEMO-T1), and "
		       "the course scheduled there in four weeks, open for "
		       "booking\n");
	return (OK);
}
