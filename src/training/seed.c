/*
 * The training business's seed data for `carebase seed` (seed 004, "Seed
 * Data"; issue 17 item 9), each part made once, so a second seed changes
 * nothing:
 *
 *   - the business's admin, lex@reactfasttraining.co.uk, with a password
 *     generated here and printed this once (the document's own password
 *     is never used: it is published); an account with the address
 *     already is left as it is, and no password is printed;
 *   - the three courses at the document's prices, with the lengths UK
 *     practice sets (courses.c): Emergency First Aid at Work (EFAW) £75,
 *     6 hours in one day; First Aid at Work (FAW) £95, 18 hours over three
 *     days; Paediatric First Aid £85, 12 hours over two days; each made
 *     unless a course of its name is there;
 *   - the five venues, each made unless a venue of its name is there. The
 *     document names them only: the addresses are the town and its
 *     postcode district (Leeds's as the demo had it), for staff to
 *     complete;
 *   - the settings (business, booking rules, email, payment,
 *     certificates) are migration 0031's, with the document's business
 *     values as their defaults: the seed says how many each category has;
 *   - demo data: the demo instructor's trainer profile, a public course
 *     material of the EFAW course and a schedule of it at the Leeds venue
 *     by them four weeks ahead, open for booking (GET
 *     /v1/course-schedules without a token), made once: a demo instructor
 *     who has a trainer profile has them.
 *
 * Rows are made through the resource layer as the API makes them
 * (resource_create), so the catalogue's rules hold (course lengths,
 * capacities, the trainer's qualification, no overlap); the admin through
 * the people module, as `carebase user add` makes one.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/err.h"
#include "core/util.h"
#include "module.h"
#include "people/people.h"
#include "resource/resource.h"
#include "store/store.h"
#include "training/training_int.h"

#define SEED_DAY_MS	 (24LL * 3600 * 1000)
#define SEED_ADMIN_EMAIL "lex@reactfasttraining.co.uk"
/* A generated password: groups of SEED_PW_GROUP characters of an
 * alphabet without look-alikes (31 symbols), ~99 bits in all. */
#define SEED_PW_ALPHABET "23456789abcdefghjkmnpqrstuvwxyz"
#define SEED_PW_GROUPS	 4
#define SEED_PW_GROUP	 5
#define SEED_PW_LEN	 (SEED_PW_GROUPS * (SEED_PW_GROUP + 1))

struct seed_course {
	const char *name;
	const char *type;
	int	    hours, days;
	int	    price_minor;
	const char *description;
};

struct seed_venue {
	const char *name;
	const char *address_line1;
	const char *city;
	const char *postcode;
	const char *parking_info;
};

static const struct seed_course courses[] = {
	{ "Emergency First Aid at Work", "EFAW", 6, 1, 7500,
	    "One day, HSE-compliant: CPR and AED, choking, bleeding, shock and "
	    "the casualty who is unresponsive." },
	{ "First Aid at Work", "FAW", 18, 3, 9500,
	    "Three days, HSE-compliant: everything of EFAW, then injuries, "
	    "burns, fractures, poisoning and the illnesses met at work." },
	{ "Paediatric First Aid", "Paediatric", 12, 2, 8500,
	    "Two days, for those who look after babies and children (EYFS): "
	    "CPR of infants and children, choking, allergies, seizures." },
};

static const struct seed_venue venues[] = {
	{ "Leeds City Centre Training Venue", "1 Park Row", "Leeds", "LS1 5AB",
	    "Pay-and-display on Park Square." },
	{ "Sheffield Business Park", "Sheffield Business Park", "Sheffield",
	    "S9", NULL },
	{ "Bradford Community Centre", "Bradford Community Centre", "Bradford",
	    "BD1", NULL },
	{ "York Conference Centre", "York Conference Centre", "York", "YO1",
	    NULL },
	{ "Client On-Site Training", "At the client's workplace", "On site",
	    "On site", "Arranged with the client." },
};

/* What one seed made, for what it prints. */
struct seed {
	const struct seed_accounts *who;
	int			    courses, venues, demo;
	char			    efaw[UUID_STR_LEN], leeds[UUID_STR_LEN];
	int64_t			    settings[6]; /* by category, below */
};

static const char *const categories[] = { "business", "booking", "email",
	"payment", "certificates", "system" };

static int seed_admin(struct store *);
static int seed_tx(struct tx *, void *);
static int seed_find(
    struct tx *, const char *sql, const char *name, char *id_out);
static int seed_row(
    struct tx *, const struct resource *, json_t *body, char *id_out);
static int seed_demo(struct tx *, struct seed *);
static int seed_settings(struct tx *, struct seed *);

/*
 * The business's admin with a password nobody else knows, printed once:
 * on a later seed the account is there and nothing is printed but that.
 */
static int
seed_admin(struct store *db)
{
	char	    pw[SEED_PW_LEN], id[UUID_STR_LEN];
	const char *why = NULL;
	size_t	    i, k = 0;
	int	    rc;

	for (i = 0; i < SEED_PW_GROUPS * SEED_PW_GROUP; i++) {
		if (i > 0 && i % SEED_PW_GROUP == 0)
			pw[k++] = '-';
		pw[k++] = SEED_PW_ALPHABET[random_uniform(
		    (uint32_t)(sizeof(SEED_PW_ALPHABET) - 1))];
	}
	pw[k] = '\0';
	rc = people_user_add(
	    db, SEED_ADMIN_EMAIL, pw, "admin", "Lex", NULL, id, &why);
	if (rc == OK)
		printf("training: the business's admin %s made; its password, "
		       "shown this once (sign in and change it): %s\n",
		    SEED_ADMIN_EMAIL, pw);
	else if (rc == ERR_CONFLICT) {
		printf("training: the business's admin %s existed; its "
		       "password is as it was\n",
		    SEED_ADMIN_EMAIL);
		rc = OK;
	} else
		fprintf(stderr, "carebase: the business's admin %s: %s\n",
		    SEED_ADMIN_EMAIL, why != NULL ? why : err_code(rc));
	sodium_memzero(pw, sizeof(pw));
	return (rc);
}

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

/* The id of the row sql finds by name into id_out; ERR_NOT_FOUND. */
static int
seed_find(struct tx *tx, const char *sql, const char *name, char *id_out)
{
	struct stmt *st;
	int	     rc;

	st = store_prepare(tx, sql);
	store_bind_text(st, 1, name);
	if ((rc = store_step(st)) == STORE_ROW) {
		strlcpy_cb(id_out, store_col_text(st, 0), UUID_STR_LEN);
		rc = OK;
	} else if (rc == STORE_DONE)
		rc = ERR_NOT_FOUND;
	store_finalize(st);
	return (rc);
}

static int
seed_tx(struct tx *tx, void *arg)
{
	struct seed		 *sd = arg;
	const struct seed_course *c;
	const struct seed_venue	 *v;
	char			  id[UUID_STR_LEN];
	size_t			  i;
	int			  rc;

	sd->courses = sd->venues = sd->demo = 0;
	for (i = 0; i < NELEM(courses); i++) {
		c = &courses[i];
		rc = seed_find(tx,
		    "SELECT id FROM training_courses WHERE name = ? ORDER BY "
		    "id LIMIT 1",
		    c->name, id);
		if (rc == ERR_NOT_FOUND) {
			rc = seed_row(tx, &training_courses_resource,
			    json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:s,s:i,s:i}",
				"name", c->name, "description", c->description,
				"course_type", c->type, "duration_hours",
				c->hours, "duration_days", c->days,
				"price_minor", c->price_minor, "currency",
				"GBP", "max_capacity", 12,
				"certification_validity_years", 3),
			    id);
			sd->courses += rc == OK;
		}
		if (rc != OK)
			return (rc);
		if (i == 0)
			strlcpy_cb(sd->efaw, id, sizeof(sd->efaw));
	}
	for (i = 0; i < NELEM(venues); i++) {
		v = &venues[i];
		rc = seed_find(tx,
		    "SELECT id FROM venues WHERE name = ? ORDER BY id LIMIT 1",
		    v->name, id);
		if (rc == ERR_NOT_FOUND) {
			rc = seed_row(tx, &venues_resource,
			    json_pack("{s:s,s:s,s:s,s:s,s:i,s:[s,s],s:s?}",
				"name", v->name, "address_line1",
				v->address_line1, "city", v->city, "postcode",
				v->postcode, "capacity", 12, "facilities",
				"first-aid manikins", "AED trainer",
				"parking_info", v->parking_info),
			    id);
			sd->venues += rc == OK;
		}
		if (rc != OK)
			return (rc);
		if (i == 0)
			strlcpy_cb(sd->leeds, id, sizeof(sd->leeds));
	}
	if ((rc = seed_demo(tx, sd)) != OK)
		return (rc);
	return (seed_settings(tx, sd));
}

/* The demo instructor's profile, the material and the schedule, once. */
static int
seed_demo(struct tx *tx, struct seed *sd)
{
	struct stmt *st;
	char	     trainer[UUID_STR_LEN], iso[2][ISO_TIME_LEN];
	/* 09:00 UTC, four weeks from today. */
	int64_t start = time_now_ms() / SEED_DAY_MS * SEED_DAY_MS +
	    28 * SEED_DAY_MS + 9 * 3600 * 1000;
	int rc;

	if (sd->who->instructor[0] == '\0')
		return (OK);
	st = store_prepare(tx, "SELECT 1 FROM trainers WHERE user_id = ?");
	store_bind_text(st, 1, sd->who->instructor);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == STORE_ROW ? OK : rc);
	if ((rc = seed_row(tx, &course_materials_resource,
		 json_pack("{s:s,s:s,s:s,s:s,s:b}", "course_id", sd->efaw,
		     "title", "First aid at work: your questions answered",
		     "material_type", "link", "file_url",
		     "https://www.hse.gov.uk/firstaid/", "is_public", 1),
		 NULL)) != OK ||
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
		 json_pack("{s:s,s:s,s:s,s:s,s:s}", "course_id", sd->efaw,
		     "venue_id", sd->leeds, "trainer_id", trainer, "start_time",
		     time_format_iso(start, iso[0]), "end_time",
		     time_format_iso(start + 6 * 3600 * 1000, iso[1])),
		 NULL)) != OK)
		return (rc);
	sd->demo = 1;
	return (OK);
}

/* Migration 0031's settings, counted by category. */
static int
seed_settings(struct tx *tx, struct seed *sd)
{
	struct stmt *st;
	const char  *c;
	size_t	     i;
	int	     rc;

	memset(sd->settings, 0, sizeof(sd->settings));
	st = store_prepare(
	    tx, "SELECT category, COUNT(*) FROM settings GROUP BY category");
	while ((rc = store_step(st)) == STORE_ROW) {
		c = store_col_text(st, 0);
		for (i = 0; i < NELEM(categories); i++)
			if (c != NULL && strcmp(c, categories[i]) == 0)
				sd->settings[i] = store_col_int64(st, 1);
	}
	store_finalize(st);
	return (rc == STORE_DONE ? OK : rc);
}

int
training_seed(struct store *db, struct seed_accounts *accounts)
{
	struct seed sd;
	size_t	    i;
	int	    rc;

	memset(&sd, 0, sizeof(sd));
	sd.who = accounts;
	if ((rc = seed_admin(db)) != OK ||
	    (rc = store_run(db, STORE_TX_WRITE, seed_tx, &sd)) != OK)
		return (rc);
	if (sd.courses == 0 && sd.venues == 0 && !sd.demo)
		printf("training: the courses, venues and demo schedule were "
		       "there already; nothing added\n");
	else
		printf("training: %d of the courses made (EFAW 75.00 GBP, 6 "
		       "hours in a day; FAW 95.00 GBP, 18 over three; "
		       "Paediatric 85.00 GBP, 12 over two), %d of the five "
		       "venues%s\n",
		    sd.courses, sd.venues,
		    sd.demo ? "; the instructor's trainer profile (DEMO-T1), a "
			      "material, and the EFAW course scheduled in "
			      "Leeds in four weeks, open for booking"
			    : "");
	printf("training: settings by category:");
	for (i = 0; i < NELEM(categories); i++)
		printf(" %s %lld", categories[i], (long long)sd.settings[i]);
	printf("\n");
	return (OK);
}
