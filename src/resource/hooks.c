/*
 * The hooks of resource/hooks.h: small tables and one function pointer,
 * filled at start-up.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/err.h"
#include "core/log.h"
#include "resource/hooks.h"
#include "resource/resource.h"

struct listener {
	change_fn	  fn;
	enum change_stage stage;
};

static const struct gdpr_hook	      *gdpr_hooks[HOOKS_GDPR_MAX];
static size_t			       ngdpr_hooks;
static struct listener		       listeners[HOOKS_CHANGE_MAX];
static size_t			       nlisteners;
static const struct fields_watch      *watches[HOOKS_WATCH_MAX];
static size_t			       nwatches;
static mail_queue_fn		       mail_queue;
static mail_brand_fn		       mail_brand;
static mail_gate_fn		       mail_gate;
static mail_outcome_fn		       outcomes[HOOKS_MAIL_OUTCOME_MAX];
static size_t			       noutcomes;
static const struct profile_part      *parts[HOOKS_PROFILE_MAX];
static size_t			       nparts;
static members_fn		       partner_members; /* CHANGE_PARTNER */
static const struct registration_hook *registration;
static const struct person_hooks      *person;

static int  field_differs(const char *, json_t *, json_t *);
static void secret_free(char *);

int
hooks_gdpr_register(const struct gdpr_hook *h)
{
	const struct resource *const *all;
	size_t			      i, n;

	/* A resource's rows are exported from its declaration: a hook
	 * of its name would stand in for them. */
	all = resource_all(&n);
	for (i = 0; (h->export != NULL || h->export_links != NULL) && i < n;
	     i++)
		if (strcmp(all[i]->name, h->name) == 0) {
			log_error(
			    "event=gdpr_hook_invalid name=%s "
			    "detail=\"a resource of that name is exported "
			    "from its declaration\"",
			    h->name);
			return (ERR_CONFIG);
		}
	/* What its export writes is declared (the document's answer of
	 * the export is closed: tests/api/openapi_contract.py). */
	if (h->export != NULL || h->export_links != NULL) {
		json_t *s =
		    h->schema != NULL ? json_loads(h->schema, 0, NULL) : NULL;
		int ok = json_is_object(s);

		json_decref(s);
		if (!ok) {
			log_error("event=gdpr_hook_invalid name=%s "
				  "detail=\"its export's schema is not a JSON "
				  "object\"",
			    h->name);
			return (ERR_CONFIG);
		}
	}
	for (i = 0; i < ngdpr_hooks; i++)
		if (strcmp(gdpr_hooks[i]->name, h->name) == 0)
			return (ERR_CONFLICT);
	if (ngdpr_hooks == HOOKS_GDPR_MAX)
		return (ERR_TOO_LARGE);
	gdpr_hooks[ngdpr_hooks++] = h;
	return (OK);
}

const struct gdpr_hook *const *
hooks_gdpr_all(size_t *n)
{
	*n = ngdpr_hooks;
	return (gdpr_hooks);
}

int
hooks_gdpr_export(struct tx *tx, const char *user_id, const char *export_id,
    json_t *into, int *truncated)
{
	const struct gdpr_hook *h;
	json_t		       *rows;
	size_t			i;
	int			rc;

	for (i = 0; i < ngdpr_hooks; i++) {
		h = gdpr_hooks[i];
		if (h->export == NULL && h->export_links == NULL)
			continue;
		/* Never in place of what is there (a resource registered
		 * after the hook, exported from its declaration). */
		if (json_object_get(into, h->name) != NULL) {
			log_error("event=gdpr_hook_overwrite name=%s", h->name);
			return (ERR_INTERNAL);
		}
		if ((rows = json_array()) == NULL)
			return (ERR_NOMEM);
		json_object_set_new(into, h->name, rows);
		rc = h->export != NULL
		    ? h->export(tx, user_id, rows)
		    : h->export_links(tx, user_id, export_id, rows);
		if (rc != OK)
			return (rc);
		/* The export's bound, as a resource's section has it. */
		if (json_array_size(rows) > RESOURCE_EXPORT_MAX) {
			while (json_array_size(rows) > RESOURCE_EXPORT_MAX)
				json_array_remove(
				    rows, json_array_size(rows) - 1);
			*truncated = 1;
		}
	}
	return (OK);
}

int
hooks_gdpr_erase(struct tx *tx, const char *user_id)
{
	size_t i;
	int    rc;

	for (i = 0; i < ngdpr_hooks; i++)
		if (gdpr_hooks[i]->erase != NULL &&
		    (rc = gdpr_hooks[i]->erase(tx, user_id)) != OK)
			return (rc);
	return (OK);
}

int
hooks_change_listen(change_fn fn, enum change_stage stage)
{
	size_t i;

	if (stage != CHANGE_DERIVE && stage != CHANGE_NOTIFY)
		return (ERR_INVALID);
	for (i = 0; i < nlisteners; i++)
		if (listeners[i].fn == fn)
			return (ERR_CONFLICT);
	if (nlisteners == HOOKS_CHANGE_MAX)
		return (ERR_TOO_LARGE);
	listeners[nlisteners].fn = fn;
	listeners[nlisteners].stage = stage;
	nlisteners++;
	return (OK);
}

int
hooks_changed(struct tx *tx, enum change kind, const char *id)
{
	static const enum change_stage stages[] = { CHANGE_DERIVE,
		CHANGE_NOTIFY };
	size_t			       i, s;
	int			       rc;

	if (id == NULL)
		return (OK);
	for (s = 0; s < sizeof(stages) / sizeof(stages[0]); s++)
		for (i = 0; i < nlisteners; i++)
			if (listeners[i].stage == stages[s] &&
			    (rc = listeners[i].fn(tx, kind, id)) != OK)
				return (rc);
	return (OK);
}

int
hooks_fields_watch(const struct fields_watch *w)
{
	size_t i;

	for (i = 0; i < nwatches; i++)
		if (strcmp(watches[i]->name, w->name) == 0)
			return (ERR_CONFLICT);
	if (nwatches == HOOKS_WATCH_MAX)
		return (ERR_TOO_LARGE);
	watches[nwatches++] = w;
	return (OK);
}

/* Does field f differ between old and row (NULL both: last activity)? */
static int
field_differs(const char *f, json_t *old, json_t *row)
{
	json_t *a, *b;

	if (old == NULL && row == NULL)
		return (strcmp(f, "last_active_at") == 0);
	a = json_object_get(old, f);
	b = json_object_get(row, f);
	if (a == NULL || b == NULL)
		return (a != b);
	return (!json_equal(a, b));
}

int
hooks_fields_changed(
    struct tx *tx, const char *user_id, json_t *old, json_t *row)
{
	const struct fields_watch *w;
	size_t			   i, j;
	int			   rc;

	for (i = 0; i < nwatches; i++) {
		w = watches[i];
		for (j = 0; w->fields[j] != NULL; j++)
			if (field_differs(w->fields[j], old, row))
				break;
		if (w->fields[j] != NULL &&
		    (rc = w->changed(tx, user_id)) != OK)
			return (rc);
	}
	return (OK);
}

void
hooks_mail_set(mail_queue_fn fn)
{
	mail_queue = fn;
}

int
hooks_mail(struct tx *tx, const char *to, const char *user_id,
    const char *template, json_t *vars, char *log_id_out)
{
	if (mail_queue == NULL)
		return (ERR_UNAVAILABLE);
	return (mail_queue(tx, to, user_id, template, vars, log_id_out));
}

void
hooks_mail_brand_set(mail_brand_fn fn)
{
	mail_brand = fn;
}

int
hooks_mail_brand(struct tx *tx, json_t *vars)
{
	if (mail_brand != NULL)
		return (mail_brand(tx, vars));
	if (json_object_set_new(vars, "brand_name", json_string("carebase")) !=
		0 ||
	    json_object_set_new(vars, "brand_logo_url", json_string("")) != 0 ||
	    json_object_set_new(vars, "brand_colour", json_string("#2b6cb0")) !=
		0)
		return (ERR_NOMEM);
	return (OK);
}

void
hooks_mail_gate_set(mail_gate_fn fn)
{
	mail_gate = fn;
}

int
hooks_mail_gate(struct tx *tx, const char *to, const char *user_id,
    const char *template, int *allowed)
{
	*allowed = 1;
	return (mail_gate != NULL
		? mail_gate(tx, to, user_id, template, allowed)
		: OK);
}

int
hooks_mail_outcome_listen(mail_outcome_fn fn)
{
	size_t i;

	for (i = 0; i < noutcomes; i++)
		if (outcomes[i] == fn)
			return (ERR_CONFLICT);
	if (noutcomes == HOOKS_MAIL_OUTCOME_MAX)
		return (ERR_TOO_LARGE);
	outcomes[noutcomes++] = fn;
	return (OK);
}

int
hooks_mail_outcome(struct tx *tx, const char *log_id, const char *status)
{
	size_t i;
	int    rc;

	for (i = 0; i < noutcomes; i++)
		if ((rc = outcomes[i](tx, log_id, status)) != OK)
			return (rc);
	return (OK);
}

int
hooks_profile_register(const struct profile_part *p)
{
	size_t i;

	for (i = 0; i < nparts; i++)
		if (strcmp(parts[i]->name, p->name) == 0)
			return (ERR_CONFLICT);
	if (nparts == HOOKS_PROFILE_MAX)
		return (ERR_TOO_LARGE);
	parts[nparts++] = p;
	return (OK);
}

int
hooks_profile_build(struct tx *tx, const char *user_id, json_t *profile)
{
	size_t i;
	int    rc;

	for (i = 0; i < nparts; i++)
		if ((rc = parts[i]->add(tx, user_id, profile)) != OK)
			return (rc);
	return (OK);
}

int
hooks_profile_granted(struct tx *tx, const char *user_id, int *granted)
{
	size_t i;
	int    rc;

	*granted = 0;
	for (i = 0; i < nparts && !*granted; i++)
		if (parts[i]->grants != NULL &&
		    (rc = parts[i]->grants(tx, user_id, granted)) != OK)
			return (rc);
	return (OK);
}

int
hooks_members_register(enum change kind, members_fn fn)
{
	if (kind != CHANGE_PARTNER)
		return (ERR_INVALID);
	if (partner_members != NULL)
		return (partner_members == fn ? OK : ERR_CONFLICT);
	partner_members = fn;
	return (OK);
}

int
hooks_members(struct tx *tx, enum change kind, const char *id, json_t *user_ids)
{
	if (id == NULL)
		return (OK);
	if (kind == CHANGE_PERSON || kind == CHANGE_ACCESS)
		return (json_array_append_new(user_ids, json_string(id)) == 0
			? OK
			: ERR_NOMEM);
	if ((kind == CHANGE_PARTNER || kind == CHANGE_PARTNER_GRANTS) &&
	    partner_members != NULL)
		return (partner_members(tx, id, user_ids));
	return (OK);
}

void
hooks_registration_set(const struct registration_hook *h)
{
	registration = h;
}

const struct registration_hook *
hooks_registration(void)
{
	return (registration);
}

void
hooks_person_set(const struct person_hooks *h)
{
	person = h;
}

int
hooks_contact(struct tx *tx, const char *user_id, int deleted_too,
    struct person_contact *out)
{
	memset(out, 0, sizeof(*out));
	if (person == NULL || person->contact == NULL)
		return (ERR_UNAVAILABLE);
	return (person->contact(tx, user_id, deleted_too, out));
}

int
hooks_address_held(
    struct tx *tx, const char *email, const char *user_id, int *held)
{
	*held = 0;
	if (person == NULL || person->address_held == NULL)
		return (ERR_UNAVAILABLE);
	return (person->address_held(tx, email, user_id, held));
}

int
hooks_person_lock(struct tx *tx, const char *user_id)
{
	if (person == NULL || person->lock == NULL)
		return (ERR_UNAVAILABLE);
	return (person->lock(tx, user_id));
}

static void
secret_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

void
hooks_contact_clear(struct person_contact *c)
{
	secret_free(c->email);
	secret_free(c->first_name);
	secret_free(c->phone);
	secret_free(c->last_name);
	memset(c, 0, sizeof(*c));
}
