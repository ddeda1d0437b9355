/*
 * The GDPR and change hooks of resource/hooks.h: two small tables,
 * filled at start-up.
 */
#include <stddef.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "resource/hooks.h"

static const struct gdpr_hook *gdpr_hooks[HOOKS_GDPR_MAX];
static size_t		       ngdpr_hooks;
static change_fn	       listeners[HOOKS_CHANGE_MAX];
static size_t		       nlisteners;

int
hooks_gdpr_register(const struct gdpr_hook *h)
{
	size_t i;

	for (i = 0; i < ngdpr_hooks; i++)
		if (strcmp(gdpr_hooks[i]->name, h->name) == 0)
			return (ERR_CONFLICT);
	if (ngdpr_hooks == HOOKS_GDPR_MAX)
		return (ERR_TOO_LARGE);
	gdpr_hooks[ngdpr_hooks++] = h;
	return (OK);
}

int
hooks_gdpr_export(struct tx *tx, const char *user_id, json_t *into)
{
	json_t *rows;
	size_t	i;
	int	rc;

	for (i = 0; i < ngdpr_hooks; i++) {
		if (gdpr_hooks[i]->export == NULL)
			continue;
		if ((rows = json_array()) == NULL)
			return (ERR_NOMEM);
		json_object_set_new(into, gdpr_hooks[i]->name, rows);
		if ((rc = gdpr_hooks[i]->export(tx, user_id, rows)) != OK)
			return (rc);
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
hooks_change_listen(change_fn fn)
{
	size_t i;

	for (i = 0; i < nlisteners; i++)
		if (listeners[i] == fn)
			return (ERR_CONFLICT);
	if (nlisteners == HOOKS_CHANGE_MAX)
		return (ERR_TOO_LARGE);
	listeners[nlisteners++] = fn;
	return (OK);
}

int
hooks_changed(struct tx *tx, enum change kind, const char *id)
{
	size_t i;
	int    rc;

	if (id == NULL)
		return (OK);
	for (i = 0; i < nlisteners; i++)
		if ((rc = listeners[i](tx, kind, id)) != OK)
			return (rc);
	return (OK);
}
