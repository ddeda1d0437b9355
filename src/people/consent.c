/*
 * The digital-consent rule: a user under the digital-consent age of their
 * country (config consent_ages, "GB:13,DE:16", else consent_age_default)
 * needs an active guardian_of relationship with consent recorded before
 * health data of theirs is stored. Without a birth date nobody counts as
 * an adult: their health data needs that guardian consent, or the date.
 * The health modules ask people_health_consent_answer() (the resource
 * layer through its consent hook), which refuses with the code that says
 * what is missing: CONSENT_REQUIRED (under the age) or
 * DATE_OF_BIRTH_REQUIRED (age unknown); GET /v1/me/health-consent shows
 * the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "people/gdpr.h"
#include "people/people.h"
#include "resource/resource.h"
#include "resource/seal.h"
#include "store/store.h"

/*
 * ISO 3166-1 alpha-2: every code assigned (Debian's iso-codes 4.15,
 * /usr/share/iso-codes/json/iso_3166-1.json), two letters each, sorted.
 */
static const char countries[] =
    "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQ"
    "BRBSBTBVBWBYBZCACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDM"
    "DODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGNGPGQGRGS"
    "GTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKN"
    "KPKRKWKYKZLALBLCLILKLRLSLTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQ"
    "MRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPM"
    "PNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSV"
    "SXSYSZTCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVI"
    "VNVUWFWSYEYTZAZMZW";

static int consent_age(const char *);
static int age_years(const char *, int *);
static int minor_status(struct tx *, const char *, int *, int *, int *);

/* The digital-consent age for a country (config.consent_ages). */
static int
consent_age(const char *country)
{
	const char *p = config.consent_ages;
	size_t	    n;
	int64_t	    age;
	char	    num[8];

	while (country != NULL && p != NULL && *p != '\0') {
		n = strcspn(p, ":,");
		if (p[n] == ':' && n == strlen(country) &&
		    strncasecmp(p, country, n) == 0) {
			size_t m = strcspn(p + n + 1, ",");

			if (m > 0 && m < sizeof(num)) {
				memcpy(num, p + n + 1, m);
				num[m] = '\0';
				if (parse_int64(num, 0, 99, &age) == 0)
					return ((int)age);
			}
		}
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	return ((int)config.consent_age_default);
}

int
people_country_known(const char *cc)
{
	size_t i;

	if (cc == NULL || strlen(cc) != 2)
		return (0);
	for (i = 0; i + 1 < sizeof(countries) - 1; i += 2)
		if (strncasecmp(countries + i, cc, 2) == 0)
			return (1);
	return (0);
}

/* Whole years from a "YYYY-MM-DD" birth date to today (UTC). */
static int
age_years(const char *dob, int *age)
{
	struct tm tm;
	time_t	  now = time(NULL);
	int	  y, m, d, n = 0;

	if (sscanf(dob, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
	    dob[10] != '\0' || m < 1 || m > 12 || d < 1 || d > 31)
		return (ERR_INVALID);
	gmtime_r(&now, &tm);
	*age = tm.tm_year + 1900 - y;
	if (tm.tm_mon + 1 < m || (tm.tm_mon + 1 == m && tm.tm_mday < d))
		(*age)--;
	return (OK);
}

/*
 * Under the consent age? The birth date is sealed: it is opened with the
 * user's key. A user without a birth date is treated as an adult only
 * when they accepted the terms themselves (they registered, so created_by
 * is empty or their own id, and terms_accepted_at is set): registration
 * asks for the age, so someone who went through it declared themselves.
 * An account made for someone else (by an admin, for a child) with no
 * birth date is treated as under age, so it needs a guardian's consent.
 * This answers who may record consent in the app; for health data an
 * unknown age never counts as adult (people_consent_status).
 */
int
people_is_minor(struct tx *tx, const char *user_id, int *minor)
{
	int known;

	return (minor_status(tx, user_id, minor, &known, NULL));
}

int
people_age_status(
    struct tx *tx, const char *user_id, int *minor, int *known, int *age)
{
	return (minor_status(tx, user_id, minor, known, age));
}

int
people_dob_minor(const char *dob, const char *country, int *minor)
{
	int age;

	if (age_years(dob, &age) != OK || age < 0)
		return (ERR_INVALID);
	*minor = age < consent_age(country);
	return (OK);
}

/* people_is_minor, and *known = 1 when a birth date decided it, *age
 * (may be NULL) the years it gives (-1 when unknown). */
static int
minor_status(
    struct tx *tx, const char *user_id, int *minor, int *known, int *age_out)
{
	struct stmt  *st;
	unsigned char key[SEAL_KEY_LEN];
	char	     *dob = NULL, country[8] = "";
	const char   *by;
	const void   *b = NULL;
	size_t	      n = 0;
	int	      rc, self_accepted = 0, age;

	*minor = 1;
	*known = 0;
	if (age_out != NULL)
		*age_out = -1;
	st = store_prepare(tx,
	    "SELECT country, date_of_birth, "
	    "terms_accepted_at, created_by FROM users WHERE id = ? AND "
	    "deleted_at IS NULL");
	store_bind_text(st, 1, user_id);
	if ((rc = store_step(st)) != STORE_ROW) {
		store_finalize(st);
		return (rc == STORE_DONE ? ERR_NOT_FOUND : rc);
	}
	if (!store_col_is_null(st, 0))
		strlcpy_cb(country, store_col_text(st, 0), sizeof(country));
	if (!store_col_is_null(st, 1))
		b = store_col_blob(st, 1, &n);
	by = store_col_text(st, 3);
	self_accepted = !store_col_is_null(st, 2) &&
	    (by == NULL || strcmp(by, user_id) == 0);
	rc = OK;
	if (b != NULL && n > 0) {
		if ((rc = seal_key_load(tx, user_id, key)) == OK) {
			rc = seal_open_field(
			    key, "users", "date_of_birth", user_id, b, n, &dob);
			sodium_memzero(key, sizeof(key));
		}
	}
	store_finalize(st);
	if (rc != OK)
		return (rc);
	if (dob != NULL) {
		if (age_years(dob, &age) == OK) {
			*minor = age < consent_age(country[0] ? country : NULL);
			*known = 1;
			if (age_out != NULL)
				*age_out = age;
		}
		free(dob);
	} else
		*minor = !self_accepted;
	return (OK);
}

int
people_consent_status(struct tx *tx, const char *user_id, const char **reason)
{
	struct stmt *st;
	int	     rc, minor, known;

	if ((rc = minor_status(tx, user_id, &minor, &known, NULL)) != OK)
		return (rc);
	if (known && !minor) {
		*reason = "adult";
		return (OK);
	}
	st = store_prepare(tx,
	    "SELECT 1 FROM relationships r JOIN users u ON "
	    "u.id = r.lead_id WHERE r.follower_id = ? AND r.kind = "
	    "'guardian_of' AND r.status = 'active' AND r.consent_at IS NOT "
	    "NULL AND u.deleted_at IS NULL");
	store_bind_text(st, 1, user_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW) {
		*reason = "guardian_consent";
		return (OK);
	}
	if (rc != STORE_DONE)
		return (rc);
	*reason = known ? "consent_required" : "date_of_birth_required";
	return (ERR_FORBIDDEN);
}

int
people_health_consent(struct tx *tx, const char *user_id)
{
	const char *reason;

	return (people_consent_status(tx, user_id, &reason));
}

int
people_health_consent_answer(
    struct request *req, struct tx *tx, const char *user_id)
{
	const char *reason = NULL;
	int	    rc;

	if ((rc = people_consent_status(tx, user_id, &reason)) !=
		ERR_FORBIDDEN ||
	    req == NULL)
		return (rc);
	if (reason != NULL && strcmp(reason, "date_of_birth_required") == 0)
		http_problem(req, rc, "DATE_OF_BIRTH_REQUIRED",
		    "The person's date of birth is not on record: health data "
		    "is stored only for a person whose age is known, or with "
		    "a guardian's recorded consent. Set date_of_birth first "
		    "(PATCH /v1/me).");
	else
		http_problem(req, rc, "CONSENT_REQUIRED",
		    "The person is under the digital-consent age and has no "
		    "guardian consent on record: no health data may be stored "
		    "for them.");
	return (rc);
}

void
people_health_consent_get(struct request *req)
{
	struct principal *who;
	struct tx	 *tx = NULL;
	const char	 *reason = NULL;
	int		  rc;

	who = req->caller;
	if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) == OK)
		rc = people_consent_status(tx, who->user_id, &reason);
	store_tx_rollback(tx);
	if (rc == OK || rc == ERR_FORBIDDEN)
		http_json(req, 200,
		    json_pack(
			"{s:b,s:s}", "allowed", rc == OK, "reason", reason));
	else
		http_problem(req, rc, NULL,
		    "The consent rule cannot be "
		    "checked.");
}
