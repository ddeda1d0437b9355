/*
 * The demo partner for `carebase seed`: "Demo Partner", with its branding
 * (GET /v1/partners/Demo%20Partner), therapy and live chat switched on,
 * three access codes to register or redeem with (printed: only their
 * hashes are kept), and a fourth access the demo member redeemed, with six
 * therapy sessions. Made through the resource layer as the API makes it
 * (resource_create), audited without an actor. Made once: a partner of
 * that name means the demo partner is there. The demo partner admin
 * (people.c's partner@) administers it: linked when they are not yet, so
 * an older demo gets its partner admin too.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/err.h"
#include "core/util.h"
#include "module.h"
#include "partners/partners_int.h"
#include "resource/resource.h"
#include "store/store.h"

#define SEED_PARTNER "Demo Partner"
#define SEED_CODES   3

struct seed {
	const struct seed_accounts *who;
	int			    made;
	int			    linked; /* the partner admin, now */
	char			    codes[SEED_CODES][PARTNER_CODE_LEN + 1];
};

static int seed_tx(struct tx *, void *);
static int seed_access(
    struct tx *, const char *partner, char *code_out, char *id_out);
static int seed_admin(
    struct tx *, const char *partner, const char *user, int *linked);

/* One access with live chat and six therapy sessions; its code shown
 * once, into code_out. */
static int
seed_access(struct tx *tx, const char *partner, char *code_out, char *id_out)
{
	json_t *body, *row = NULL;
	int	rc;

	body = json_pack("{s:s,s:b,s:b,s:i}", "partner_id", partner,
	    "feature_live_chat", 1, "feature_therapy", 1,
	    "therapy_sessions_remaining", 6);
	if (body == NULL)
		return (ERR_NOMEM);
	rc = resource_create(tx, &partner_access_resource, body, id_out, &row);
	json_decref(body);
	if (rc == OK && code_out != NULL)
		strlcpy_cb(code_out,
		    json_string_value(json_object_get(row, "code")) != NULL
			? json_string_value(json_object_get(row, "code"))
			: "",
		    PARTNER_CODE_LEN + 1);
	json_decref(row);
	return (rc);
}

/* user administers partner, unless they administer one already. */
static int
seed_admin(struct tx *tx, const char *partner, const char *user, int *linked)
{
	struct stmt *st;
	json_t	    *body;
	int	     rc;

	*linked = 0;
	if (user[0] == '\0')
		return (OK);
	st =
	    store_prepare(tx, "SELECT 1 FROM partner_admins WHERE user_id = ?");
	store_bind_text(st, 1, user);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		return (rc == STORE_ROW ? OK : rc);
	/* An admin may have changed the demo account's role since: left as
	 * it is (the other modules are still seeded). */
	st = store_prepare(tx, "SELECT role FROM users WHERE id = ?");
	store_bind_text(st, 1, user);
	rc = store_step(st);
	if (rc == STORE_ROW &&
	    strcmp(store_col_text(st, 0) != NULL ? store_col_text(st, 0) : "",
		"partner_admin") != 0)
		rc = STORE_DONE;
	else if (rc == STORE_ROW)
		rc = OK;
	store_finalize(st);
	if (rc == STORE_DONE)
		return (OK);
	if (rc != OK)
		return (rc);
	if ((body = json_pack(
		 "{s:s,s:s}", "user_id", user, "partner_id", partner)) == NULL)
		return (ERR_NOMEM);
	rc = resource_create(tx, &partner_admins_resource, body, NULL, NULL);
	json_decref(body);
	*linked = rc == OK;
	return (rc);
}

static int
seed_tx(struct tx *tx, void *arg)
{
	struct seed *sd = arg;
	struct stmt *st;
	json_t	    *body, *features;
	char	     key[PARTNER_NAME_KEY_SIZE], partner[UUID_STR_LEN];
	char	     access[UUID_STR_LEN];
	size_t	     i;
	int	     rc;

	sd->made = 0;
	if ((rc = partners_name_key(SEED_PARTNER, key)) != OK)
		return (rc);
	st = store_prepare(tx, "SELECT id FROM partners WHERE name_key = ?");
	store_bind_text(st, 1, key);
	if ((rc = store_step(st)) == STORE_ROW)
		strlcpy_cb(partner, store_col_text(st, 0), sizeof(partner));
	store_finalize(st);
	if (rc == STORE_ROW)
		return (seed_admin(
		    tx, partner, sd->who->partner_admin, &sd->linked));
	if (rc != STORE_DONE)
		return (rc);
	body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s}}", "name",
	    SEED_PARTNER, "logo_url",
	    "https://example.org/demo-partner/logo.svg", "logo_alt",
	    "Demo Partner", "website", "https://example.org/demo-partner",
	    "footer_line1", "Demo Partner supports its members with carebase.",
	    "footer_line2", "Demo data: not a real organisation.",
	    "social_links", "instagram", "https://www.instagram.com/example",
	    "linkedin", "https://www.linkedin.com/company/example");
	if (body == NULL)
		return (ERR_NOMEM);
	rc = resource_create(tx, &partners_resource, body, partner, NULL);
	json_decref(body);
	if (rc != OK)
		return (rc);
	/* Therapy and live chat, switched on. */
	features = json_array();
	st = store_prepare(tx,
	    "SELECT id FROM features WHERE name IN "
	    "('therapy', 'live_chat') ORDER BY name");
	while ((rc = store_step(st)) == STORE_ROW)
		json_array_append_new(
		    features, json_string(store_col_text(st, 0)));
	store_finalize(st);
	for (i = 0; rc == STORE_DONE && i < json_array_size(features); i++) {
		body = json_pack("{s:s,s:O}", "partner_id", partner,
		    "feature_id", json_array_get(features, i));
		rc = body != NULL
		    ? resource_create(
			  tx, &partner_features_resource, body, NULL, NULL)
		    : ERR_NOMEM;
		json_decref(body);
		rc = rc == OK ? STORE_DONE : rc;
	}
	json_decref(features);
	if (rc != STORE_DONE)
		return (rc);
	for (i = 0; i < SEED_CODES; i++)
		if ((rc = seed_access(tx, partner, sd->codes[i], NULL)) != OK)
			return (rc);
	if (sd->who->member[0] != '\0' &&
	    ((rc = seed_access(tx, partner, NULL, access)) != OK ||
		(rc = partner_access_redeem(tx, access, sd->who->member)) !=
		    OK))
		return (rc);
	if ((rc = seed_admin(
		 tx, partner, sd->who->partner_admin, &sd->linked)) != OK)
		return (rc);
	sd->made = 1;
	return (OK);
}

int
partners_seed(struct store *db, struct seed_accounts *accounts)
{
	struct seed sd;
	int	    rc, i;

	memset(&sd, 0, sizeof(sd));
	sd.who = accounts;
	rc = store_run(db, STORE_TX_WRITE, seed_tx, &sd);
	if (rc == OK && !sd.made)
		printf("partners: %s is there already; nothing added\n",
		    SEED_PARTNER);
	else if (rc == OK) {
		printf("partners: %s with therapy and live chat; access codes "
		       "(shown once; each gives live chat and 6 therapy "
		       "sessions):",
		    SEED_PARTNER);
		for (i = 0; i < SEED_CODES; i++)
			printf(" %s", sd.codes[i]);
		printf("%s\n",
		    accounts->member[0] != '\0'
			? "; the member redeemed a fourth"
			: "");
	}
	if (rc == OK && sd.linked)
		printf("partners: the partner admin administers %s\n",
		    SEED_PARTNER);
	sodium_memzero(sd.codes, sizeof(sd.codes));
	return (rc);
}
