/*
 * GDPR from the declarations: every resource the modules declare is
 * walked (resource_all), a person gets a row of each resource whose rows
 * they own and that has a personal field, every field filled from its
 * declaration; then
 *
 *   - the person's export (people_export) holds every personal field of
 *     each of those rows, as set (staff-only ones too: it is their data),
 *     and every FIELD_ERASE field of their users row; each row of every
 *     resource they own is exported with exactly its declared fields but
 *     the FIELD_HIDDEN ones (no module's hook stands in for it);
 *   - after their erasure (people_erase) their users row holds none of
 *     its personal or FIELD_ERASE fields nor its blind index, the rows
 *     they own elsewhere hold none of their nullable personal fields,
 *     open none of the others (the data key is gone) and hold no blind
 *     index nor FIELD_ERASE field.
 *
 * Rows of a resource whose rows are also the person's by their address
 * (RESOURCE_OWNED_BY_ADDRESS: the mail log) are made a second time with
 * no owner and the person's address: exported with theirs, and gone
 * after erasure as every row of a RESOURCE_ERASE_ROWS resource. Resources
 * exported beside "user" (RESOURCE_EXPORT_TOP: auth sessions, mail) are
 * looked for there.
 *
 * The modules are the program's own (modules_all), registered and
 * started (their init, which registers the GDPR hooks) as the program
 * does. Nothing here names a field: a personal field added to a
 * declaration is covered as it is. A resource declared only here (probe, on a table the
 * test makes) shows it for a module the people module knows nothing of.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/log.h"
#include "core/util.h"
#include "module.h"
#include "modules.h"
#include "people/gdpr.h"
#include "people/people.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "resource/resource_int.h"
#include "store/migrate.h"
#include "store/store.h"

#include "testdb.h"

#define ROWS_MAX 32 /* rows the test makes */

/* A resource of the test's own, on a table it makes. */
static const struct field probe_fields[] = {
	{ "user_id", FIELD_UUID, FIELD_REQUIRED, 0, 0, NULL, NULL, "users", 0,
	    "owner" },
	{ "secret", FIELD_TEXT, FIELD_PERSONAL | FIELD_NULLABLE, 0, 100, NULL,
	    NULL, NULL, 0, "sealed" },
	{ "contact", FIELD_EMAIL,
	    FIELD_PERSONAL | FIELD_NULLABLE | FIELD_BLIND_INDEX, 3, 200, NULL,
	    NULL, NULL, 0, "sealed, found by its blind index" },
	{ "region", FIELD_TEXT, FIELD_NULLABLE | FIELD_ERASE, 0, 50, NULL, NULL,
	    NULL, 0, "cleared on erasure" },
	{ "remark", FIELD_TEXT, FIELD_PERSONAL | FIELD_NULLABLE, 0, 50, NULL,
	    NULL, NULL, SEE_ALL,
	    "staff only, yet exported: the person's data" },
};

static const struct resource probe = {
	.name = "gdpr_probe",
	.path = "/v1/gdpr-probe",
	.table = "gdpr_probe",
	.fields = probe_fields,
	.nfields = sizeof(probe_fields) / sizeof(probe_fields[0]),
	.owner_column = "user_id",
};

static const char probe_sql[] =
    "CREATE TABLE gdpr_probe (id TEXT PRIMARY KEY, user_id TEXT NOT NULL "
    "REFERENCES users (id), secret BLOB, contact BLOB, contact_index TEXT, "
    "region TEXT, remark BLOB, created_at BIGINT NOT NULL, updated_at "
    "BIGINT NOT NULL)";

/* A row the test made: its resource, id and body. */
struct made {
	const struct resource *res;
	char		       id[UUID_STR_LEN];
	json_t		      *body;
	int		       by_address; /* no owner: the person's address */
};

static struct store *db;
static char	     dir[] = "/tmp/carebase-gdpr-XXXXXX";
static struct made   made[ROWS_MAX];
static size_t	     nmade;
static char	     person[UUID_STR_LEN];
static int	     serial;
/* Which choice of each enum rows are made with (see setup). */
static size_t enum_pick;
#define ENUM_PICKS 6

static int		      has_personal(const struct resource *);
static const char	     *made_id(const char *table);
static const struct resource *resource_of(const char *table);
static int make_row(struct tx *, const struct resource *, json_t *, char *id);
static json_t *export_rows(json_t *doc, const struct resource *);
static json_t *field_value(struct tx *, const struct field *, int64_t);

static int
has_personal(const struct resource *res)
{
	size_t i;

	for (i = 0; i < res->nfields; i++)
		if (res->fields[i].flags & (FIELD_PERSONAL | FIELD_ERASE))
			return (1);
	return (0);
}

static const char *
made_id(const char *table)
{
	size_t i;

	for (i = 0; i < nmade; i++)
		if (strcmp(made[i].res->table, table) == 0)
			return (made[i].id);
	return (NULL);
}

/* The declared resource on table, or NULL. */
static const struct resource *
resource_of(const char *table)
{
	const struct resource *const *all;
	size_t			      i, n;

	all = resource_all(&n);
	for (i = 0; i < n; i++)
		if (strcmp(all[i]->table, table) == 0)
			return (all[i]);
	return (NULL);
}

/*
 * A value for f that its declaration accepts, unique where it can be:
 * references name the person or a row made for them (made first).
 */
static json_t *
field_value(struct tx *tx, const struct field *f, int64_t at)
{
	const struct resource *ref;
	char		       s[128], iso[ISO_TIME_LEN], id[UUID_STR_LEN];
	size_t		       len;

	serial++;
	if (f->def != NULL && !(f->flags & (FIELD_PERSONAL | FIELD_ERASE)))
		return (json_loads(f->def, JSON_DECODE_ANY, NULL));
	switch (f->type) {
	case FIELD_UUID:
		if (f->ref == NULL)
			return (json_string(uuid_v7(id)));
		if (strcmp(f->ref, "users") == 0)
			return (json_string(person));
		if (made_id(f->ref) == NULL) {
			if ((ref = resource_of(f->ref)) == NULL ||
			    make_row(tx, ref, NULL, NULL) != OK)
				return (NULL);
		}
		return (json_string(made_id(f->ref)));
	case FIELD_TEXT:
		snprintf(s, sizeof(s), "v%d-%s", serial, f->name);
		if (f->max > 0 && strlen(s) > (size_t)f->max)
			s[f->max] = '\0';
		for (len = strlen(s);
		     len < (size_t)f->min && len + 1 < sizeof(s); len++)
			s[len] = 'x';
		s[len] = '\0';
		return (json_string(s));
	case FIELD_EMAIL:
		snprintf(
		    s, sizeof(s), "gdpr%d.%s@example.org", serial, f->name);
		return (json_string(s));
	case FIELD_INT:
		return (json_integer(f->min > 0 ? f->min : 1));
	case FIELD_BOOL:
		return (json_false());
	case FIELD_TIME:
		return (json_string(time_format_iso(at, iso)));
	case FIELD_DATE:
		return (json_string("1980-05-06"));
	case FIELD_ENUM:
		for (len = 0; f->choices[len + 1] != NULL && len < enum_pick;
		     len++)
			;
		return (json_string(f->choices[len]));
	case FIELD_JSON:
		snprintf(s, sizeof(s), "v%d-%s", serial, f->name);
		return (json_pack("{s:s}", "marker", s));
	case FIELD_TEXT_LIST:
		snprintf(s, sizeof(s), "v%d-%s", serial, f->name);
		return (json_pack("[s]", s));
	case FIELD_URL:
		snprintf(s, sizeof(s), "https://example.org/v%d-%s", serial,
		    f->name);
		return (json_string(s));
	case FIELD_URL_MAP:
		snprintf(s, sizeof(s), "https://example.org/v%d-%s", serial,
		    f->name);
		return (json_pack("{s:s}", "link", s));
	case FIELD_COLOUR:
		snprintf(s, sizeof(s), "#%06x", (unsigned)serial & 0xffffffu);
		return (json_string(s));
	case FIELD_TIME_ZONE:
		return (json_string("Europe/Berlin"));
	}
	return (NULL);
}

/*
 * A row of res owned by the person, every field filled but the optional
 * ones that are neither personal nor FIELD_ERASE nor the owner column
 * (and the stamps the writer sets), through the resource layer's own
 * writer; the members of given (may be NULL) instead of what would be
 * made for them.
 */
static int
make_row(struct tx *tx, const struct resource *res, json_t *given, char *id_out)
{
	struct resource_ctx ctx;
	struct principal    who;
	struct made	   *m;
	const struct field *f;
	json_t		   *body, *v;
	int64_t		    at = time_now_ms();
	size_t		    i;
	int		    rc;

	if (nmade == ROWS_MAX || (body = json_object()) == NULL)
		return (ERR_TOO_LARGE);
	for (i = 0; i < res->nfields; i++) {
		f = &res->fields[i];
		const int owner = res->owner_column != NULL &&
		    strcmp(f->name, res->owner_column) == 0;

		if (strcmp(f->name, "created_at") == 0 ||
		    strcmp(f->name, "updated_at") == 0 || f->sql != NULL ||
		    ((f->flags & FIELD_NULLABLE) && !owner &&
			!(f->flags & (FIELD_PERSONAL | FIELD_ERASE))))
			continue;
		/* Times in declaration order: a start before its end. */
		at += 3600000;
		if (given != NULL && json_object_get(given, f->name) != NULL)
			v = json_deep_copy(json_object_get(given, f->name));
		else if (owner && person[0] != '\0')
			v = json_string(person); /* owned by the person */
		else
			v = field_value(tx, f, at);
		if (v == NULL) {
			json_decref(body);
			return (ERR_INTERNAL);
		}
		json_object_set_new(body, f->name, v);
	}
	memset(&ctx, 0, sizeof(ctx));
	memset(&who, 0, sizeof(who));
	strlcpy_cb(
	    who.user_id, person[0] != '\0' ? person : "-", sizeof(who.user_id));
	strlcpy_cb(who.role, "admin", sizeof(who.role));
	ctx.tx = tx;
	ctx.res = res;
	ctx.who = &who;
	ctx.scope = SCOPE_ALL;
	m = &made[nmade];
	if ((rc = resource_insert(&ctx, body, m->id)) != OK) {
		print_error("%s: the row could not be made: %s\n", res->name,
		    err_code(rc));
		json_decref(body);
		return (rc);
	}
	m->res = res;
	m->body = body;
	m->by_address = given != NULL;
	nmade++;
	if (id_out != NULL)
		memcpy(id_out, m->id, UUID_STR_LEN);
	return (OK);
}

/*
 * The person's address: the blind-indexed field of their users row, as
 * made. Borrowed from its body.
 */
static json_t *
person_address(void)
{
	const struct resource *users = made[0].res;
	size_t		       i;

	for (i = 0; i < users->nfields; i++)
		if (users->fields[i].flags & FIELD_BLIND_INDEX)
			return (json_object_get(
			    made[0].body, users->fields[i].name));
	return (NULL);
}

/* The person, then a row of every other resource they own with a
 * personal field; and one by their address alone where rows are theirs
 * by it too. */
static int
people_make(struct tx *tx, void *arg)
{
	const struct resource *const *all;
	const struct field	     *f;
	json_t			     *given;
	size_t			      i, k, n;
	int			      rc;

	(void)arg;
	if ((rc = make_row(tx, resource_of("users"), NULL, person)) != OK)
		return (rc);
	all = resource_all(&n);
	for (i = 0; i < n; i++) {
		if (all[i]->owner_column == NULL ||
		    strcmp(all[i]->owner_column, "id") == 0 ||
		    !has_personal(all[i]) || made_id(all[i]->table) != NULL)
			continue;
		if ((rc = make_row(tx, all[i], NULL, NULL)) != OK)
			return (rc);
		if (!(all[i]->flags & RESOURCE_OWNED_BY_ADDRESS))
			continue;
		given = json_pack("{s:n}", all[i]->owner_column);
		for (k = 0; k < all[i]->nfields; k++) {
			f = &all[i]->fields[k];
			if (f->flags & FIELD_BLIND_INDEX)
				json_object_set(
				    given, f->name, person_address());
		}
		rc = make_row(tx, all[i], given, NULL);
		json_decref(given);
		if (rc != OK)
			return (rc);
	}
	return (OK);
}

static int
setup(void **state)
{
	const struct module *const *modules;
	struct store_opts	    o = { 1, 2, 10000, 1 };
	const char		   *err;
	char			    url[128], errbuf[256];
	static char		    journal[128];
	size_t			    i, j, n;
	int			    applied, rc;

	(void)state;
	if (mkdtemp(dir) == NULL)
		return (-1);
	/* The defaults: the modules' init reads the configuration. */
	if (config_load(0, NULL, errbuf, sizeof(errbuf)) != OK) {
		fprintf(stderr, "%s\n", errbuf);
		return (-1);
	}
	log_set_level(LOG_WARN);
	/* Erasures are journalled (people/erasures.c). */
	snprintf(journal, sizeof(journal), "%s/erasure.journal", dir);
	free(config.erasure_journal_file);
	config.erasure_journal_file = journal;
	if (people_erasures_open(errbuf, sizeof(errbuf)) != OK) {
		fprintf(stderr, "%s\n", errbuf);
		return (-1);
	}
	snprintf(url, sizeof(url), "sqlite:///%s/t.db", dir);
	if (store_open(url, &o, &db, &err) != OK ||
	    migrate_up(db, &applied) != OK || db_exec(db, probe_sql) != OK)
		return (-1);
	/* Every module the program has (modules.c), registered and started
	 * as the program does: resources first, then each init, which
	 * registers the GDPR hooks. */
	modules = modules_all(&n);
	for (i = 0; i < n; i++)
		for (j = 0; j < modules[i]->nresources; j++)
			if (resource_register(modules[i]->resources[j]) != OK)
				return (-1);
	if (resource_register(&probe) != OK)
		return (-1);
	for (i = 0; i < n; i++)
		if (modules[i]->init != NULL &&
		    (rc = modules[i]->init(db)) != OK) {
			fprintf(stderr, "module %s failed to start: %s\n",
			    modules[i]->name, err_code(rc));
			return (-1);
		}
	/*
	 * The database may tie fields together where a declaration cannot
	 * say so (a CHECK: a course's type sets its length): when it refuses
	 * a row, every row is made again with the next choice of each enum.
	 */
	for (enum_pick = 0; enum_pick < ENUM_PICKS; enum_pick++) {
		if (store_run(db, STORE_TX_WRITE, people_make, NULL) == OK)
			return (0);
		for (i = 0; i < nmade; i++)
			json_decref(made[i].body);
		nmade = 0;
		person[0] = '\0';
	}
	return (-1);
}

static int
teardown(void **state)
{
	char   cmd[128];
	size_t i;

	(void)state;
	for (i = 0; i < nmade; i++)
		json_decref(made[i].body);
	store_close(db);
	people_erasures_close();
	config.erasure_journal_file = NULL; /* setup's, not the heap's */
	config_free();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return (system(cmd) != 0);
}

static const struct principal *
self(void)
{
	static struct principal who;

	memset(&who, 0, sizeof(who));
	strlcpy_cb(who.user_id, person, sizeof(who.user_id));
	strlcpy_cb(who.role, "member", sizeof(who.role));
	return (&who);
}

static int
export_tx(struct tx *tx, void *arg)
{
	return (people_export(tx, self(), NULL, person, 0, arg));
}

static int
erase_tx(struct tx *tx, void *arg)
{
	(void)arg;
	return (people_erase(tx, self(), NULL, person));
}

/* The export's rows of res: among its records, or beside "user". */
static json_t *
export_rows(json_t *doc, const struct resource *res)
{
	if (res->flags & RESOURCE_EXPORT_TOP)
		return (json_object_get(doc, res->name));
	return (json_object_get(json_object_get(doc, "records"), res->name));
}

/* The exported row of m: the users row, or its id in its records. */
static json_t *
exported(json_t *doc, const struct made *m)
{
	json_t *rows, *row;
	size_t	i;

	if (strcmp(m->res->table, "users") == 0)
		return (json_object_get(doc, "user"));
	rows = export_rows(doc, m->res);
	json_array_foreach(rows, i, row)
		if (strcmp(json_string_value(json_object_get(row, "id")),
			m->id) == 0)
			return (row);
	return (NULL);
}

static void
every_personal_field_is_exported(void **state)
{
	const struct resource *const *all;
	const struct field	     *f;
	json_t			     *doc = NULL, *row, *want, *got;
	size_t			      i, k, n, checked = 0, staff_only = 0;
	size_t			      by_address = 0;

	(void)state;
	/* A row of every resource whose rows a person owns with a personal
	 * or FIELD_ERASE field was made (the tables written by their
	 * module's own code, auth sessions and mail, too). */
	all = resource_all(&n);
	for (i = 0; i < n; i++)
		if (all[i]->owner_column != NULL && has_personal(all[i]) &&
		    made_id(all[i]->table) == NULL)
			fail_msg("%s: no row made", all[i]->name);
	assert_int_equal(store_run(db, STORE_TX_WRITE, export_tx, &doc), OK);
	for (i = 0; i < nmade; i++) {
		if (!has_personal(made[i].res) &&
		    strcmp(made[i].res->table, "users") != 0)
			continue;
		if ((row = exported(doc, &made[i])) == NULL)
			fail_msg("%s %s: not in the export", made[i].res->name,
			    made[i].id);
		for (k = 0; k < made[i].res->nfields; k++) {
			f = &made[i].res->fields[k];
			/* Hidden ones are never exported (the mail's
			 * variables). */
			if (!(f->flags & (FIELD_PERSONAL | FIELD_ERASE)) ||
			    (f->flags & FIELD_HIDDEN))
				continue;
			want = json_object_get(made[i].body, f->name);
			got = json_object_get(row, f->name);
			/* Every field, those only staff see included. */
			if (f->see != 0 && !(f->see & SEE_OWN))
				staff_only++;
			if (got == NULL || !json_equal(want, got))
				fail_msg("%s.%s: %s exported as %s",
				    made[i].res->name, f->name,
				    json_dumps(want, JSON_ENCODE_ANY),
				    got != NULL
					? json_dumps(got, JSON_ENCODE_ANY)
					: "nothing");
			checked++;
		}
		by_address += made[i].by_address;
	}
	/* users: 8 personal, 3 FIELD_ERASE; the probe: 4 and 1; auth
	 * sessions: 3 FIELD_ERASE; mail: 2 personal, twice. */
	assert_true(checked >= 23);
	assert_true(by_address >= 1); /* mail to the address, no owner */
	assert_true(staff_only >= 1);
	json_decref(doc);
}

/*
 * The export's records: an array for every resource with an owner column
 * (but users, the export's "user"), each row holding exactly the declared
 * columns but the FIELD_HIDDEN ones, as the declaration gives them.
 */
static void
exported_rows_are_the_declared_ones(void **state)
{
	const struct rdef *const *all;
	const struct rdef	 *rd;
	json_t			 *doc = NULL, *rows, *row;
	const char		 *key;
	json_t			 *v;
	size_t			  i, j, k, n, shown, rows_seen = 0;

	(void)state;
	assert_int_equal(store_run(db, STORE_TX_WRITE, export_tx, &doc), OK);
	all = rdef_all(&n);
	for (i = 0; i < n; i++) {
		rd = all[i];
		if (rd->res->owner_column == NULL || rd->owner_is_id)
			continue;
		rows = export_rows(doc, rd->res);
		if (!json_is_array(rows))
			fail_msg("%s: no array in the export", rd->res->name);
		for (shown = 0, k = 0; k < rd->ncols; k++)
			shown += !(rd->cols[k].flags & FIELD_HIDDEN);
		json_array_foreach(rows, j, row) {
			for (k = 0; k < rd->ncols; k++)
				if (!(rd->cols[k].flags & FIELD_HIDDEN) &&
				    json_object_get(row, rd->cols[k].name) ==
					NULL)
					fail_msg(
					    "%s.%s: declared, not exported",
					    rd->res->name, rd->cols[k].name);
			if (json_object_size(row) != shown) {
				json_object_foreach(row, key, v) {
					(void)v;
					for (k = 0; k < rd->ncols; k++)
						if (strcmp(rd->cols[k].name,
							key) == 0 &&
						    !(rd->cols[k].flags &
							FIELD_HIDDEN))
							break;
					if (k == rd->ncols)
						fail_msg("%s.%s: exported, not "
							 "a declared field",
						    rd->res->name, key);
				}
			}
			rows_seen++;
		}
	}
	assert_true(rows_seen >= 2); /* the probe's at least, and others */
	json_decref(doc);
}

/* Column col of table's row id is NULL (or the row is gone). */
static void
assert_null_column(const char *table, const char *col, const char *id)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
	    "SELECT count(*) FROM %s WHERE id = '%s' AND %s IS NOT NULL", table,
	    id, col);
	if (db_count(db, sql) != 0)
		fail_msg(
		    "%s.%s of %s: still there after erasure", table, col, id);
}

static void
nothing_personal_opens_after_erasure(void **state)
{
	const struct field *f;
	const struct rdef  *rd;
	struct tx	   *tx;
	json_t		   *row;
	char		    col[96], sql[160];
	size_t		    i, k, owned = 0, cleared = 0, deleted = 0;
	int		    rc;

	(void)state;
	assert_int_equal(store_run(db, STORE_TX_WRITE, erase_tx, NULL), OK);
	snprintf(sql, sizeof(sql),
	    "SELECT count(*) FROM user_keys WHERE user_id = '%s'", person);
	assert_int_equal(db_count(db, sql), 0);
	assert_int_equal(store_tx_begin(db, STORE_TX_READ, &tx), OK);
	for (i = 0; i < nmade; i++) {
		const int self_row = strcmp(made[i].res->table, "users") == 0;

		for (k = 0; k < made[i].res->nfields; k++) {
			f = &made[i].res->fields[k];
			/* Personal fields are cleared where the column takes
			 * NULL (declared nullable; in the users row, all). */
			if ((f->flags & FIELD_ERASE) ||
			    ((self_row || (f->flags & FIELD_NULLABLE)) &&
				(f->flags & FIELD_PERSONAL))) {
				assert_null_column(
				    made[i].res->table, f->name, made[i].id);
				cleared += !self_row;
			}
			if (f->flags & FIELD_BLIND_INDEX) {
				snprintf(col, sizeof(col), "%s_index", f->name);
				assert_null_column(
				    made[i].res->table, col, made[i].id);
			}
		}
		/* Rows erasure deletes are gone, those that were the
		 * person's by their address alone too. */
		if (made[i].res->flags & RESOURCE_ERASE_ROWS) {
			snprintf(sql, sizeof(sql),
			    "SELECT count(*) FROM %s WHERE id = '%s'",
			    made[i].res->table, made[i].id);
			if (db_count(db, sql) != 0)
				fail_msg("%s %s: still there after erasure",
				    made[i].res->name, made[i].id);
			deleted++;
			continue;
		}
		if (self_row || !has_personal(made[i].res))
			continue;
		/* Elsewhere: the sealed fields no longer open. */
		rd = rdef_find(made[i].res);
		rc = rows_select(tx, rd, made[i].id, NULL, SCOPE_ALL, SCOPE_ALL,
		    1, &row, NULL);
		if (rc == ERR_NOT_FOUND)
			continue; /* removed with the person (recordings) */
		assert_int_equal(rc, OK);
		for (k = 0; k < made[i].res->nfields; k++) {
			f = &made[i].res->fields[k];
			if ((f->flags & FIELD_PERSONAL) &&
			    !json_is_null(json_object_get(row, f->name)))
				fail_msg("%s.%s: opens after erasure",
				    made[i].res->name, f->name);
		}
		json_decref(row);
		owned++;
	}
	store_tx_rollback(tx);
	assert_true(owned >= 1); /* the probe at least */
	/* Outside the users row: the probe's secret, contact and remark,
	 * shared notes, bookings' addresses, ... */
	assert_true(cleared >= 4);
	/* The mail for the person and the mail to their address. */
	assert_true(deleted >= 2);
}

static int
hook_rows(struct tx *tx, const char *user_id, json_t *rows)
{
	(void)tx;
	(void)user_id;
	return (json_array_append_new(rows, json_string("hook")) == 0
		? OK
		: ERR_NOMEM);
}

static int
hook_erase(struct tx *tx, const char *user_id)
{
	(void)tx;
	(void)user_id;
	return (OK);
}

static int
hook_export_tx(struct tx *tx, void *arg)
{
	int truncated = 0;

	return (hooks_gdpr_export(tx, person, "", arg, &truncated));
}

/*
 * A hook never stands in for a resource's export: one named as a
 * registered resource is refused, and an export never overwrites what
 * the declarations put there.
 */
static void
no_hook_replaces_a_declared_export(void **state)
{
	/* Declared as any export would be, so that only its name refuses
	 * it (not the schema check). */
	static const struct gdpr_hook named = { "gdpr_probe", hook_rows, NULL,
		NULL, "{\"type\":\"object\",\"additionalProperties\":false}" };
	static const struct gdpr_hook erase_only = { "gdpr_probe", NULL,
		hook_erase };
	static const struct gdpr_hook other = { "gdpr_probe_hook", hook_rows,
		NULL, NULL, "{\"type\":\"string\"}" };
	/* An export the document cannot declare: no schema, or one that is
	 * not a JSON object. */
	static const struct gdpr_hook undeclared = { "gdpr_probe_hook",
		hook_rows, NULL };
	static const struct gdpr_hook bad_schema = { "gdpr_probe_hook",
		hook_rows, NULL, NULL, "[\"string\"]" };
	json_t			     *into;

	(void)state;
	assert_int_equal(hooks_gdpr_register(&named), ERR_CONFIG);
	assert_int_equal(hooks_gdpr_register(&erase_only), OK);
	assert_int_equal(hooks_gdpr_register(&undeclared), ERR_CONFIG);
	assert_int_equal(hooks_gdpr_register(&bad_schema), ERR_CONFIG);
	assert_int_equal(hooks_gdpr_register(&other), OK);
	into = json_pack("{s:[s]}", "gdpr_probe_hook", "declared");
	assert_int_equal(
	    store_run(db, STORE_TX_READ, hook_export_tx, into), ERR_INTERNAL);
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(into, "gdpr_probe_hook"), 0)),
	    "declared");
	json_object_clear(into);
	assert_int_equal(
	    store_run(db, STORE_TX_READ, hook_export_tx, into), OK);
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(into, "gdpr_probe_hook"), 0)),
	    "hook");
	json_decref(into);
}

static int
hook_links(
    struct tx *tx, const char *user_id, const char *export_id, json_t *rows)
{
	(void)tx;
	(void)user_id;
	return (json_array_append_new(rows, json_string(export_id)) == 0
		? OK
		: ERR_NOMEM);
}

/*
 * A hook's links carry the export's id, which names one export of one
 * person through one session: another session, another person, no
 * session or an id changed by a character own nothing. A links hook
 * named as a resource is refused as any export.
 */
static void
export_ids_bind_a_session_and_a_person(void **state)
{
	static const struct gdpr_hook named = { "gdpr_probe", NULL, NULL,
		hook_links,
		"{\"type\":\"object\",\"additionalProperties\":false}" };
	static const struct gdpr_hook links = { "gdpr_probe_links", NULL, NULL,
		hook_links, "{\"type\":\"string\"}" };
	struct principal	      who, other;
	char			      id[RESOURCE_EXPORT_ID_LEN + 1];
	char			      again[RESOURCE_EXPORT_ID_LEN + 1];
	json_t			     *into;

	(void)state;
	memset(&who, 0, sizeof(who));
	snprintf(who.session_id, sizeof(who.session_id), "%s",
	    "0190a1b2-0000-7000-8000-000000000001");
	other = who;
	other.session_id[35] = '2';
	resource_export_id(&who, person, id);
	assert_int_equal(strlen(id), RESOURCE_EXPORT_ID_LEN);
	assert_int_equal(
	    strspn(id, "0123456789abcdef"), RESOURCE_EXPORT_ID_LEN);
	resource_export_id(&who, person, again);
	assert_string_equal(id, again);
	assert_true(resource_export_owns(&who, person, id));
	assert_false(resource_export_owns(&other, person, id));
	assert_false(resource_export_owns(
	    &who, "0190a1b2-0000-7000-8000-00000000ffff", id));
	assert_false(resource_export_owns(&who, person, "nonsense"));
	assert_false(resource_export_owns(NULL, person, id));
	again[0] = again[0] == '0' ? '1' : '0';
	assert_false(resource_export_owns(&who, person, again));
	memset(other.session_id, 0, sizeof(other.session_id));
	resource_export_id(&other, person, again);
	assert_false(resource_export_owns(&other, person, again));

	assert_int_equal(hooks_gdpr_register(&named), ERR_CONFIG);
	assert_int_equal(hooks_gdpr_register(&links), OK);
	into = json_object();
	assert_int_equal(
	    store_run(db, STORE_TX_READ, hook_export_tx, into), OK);
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(into, "gdpr_probe_links"), 0)),
	    "");
	json_decref(into);
}

static int
hook_many(struct tx *tx, const char *user_id, json_t *rows)
{
	int i;

	(void)tx;
	(void)user_id;
	for (i = 0; i < RESOURCE_EXPORT_MAX + 1; i++)
		if (json_array_append_new(rows, json_integer(i)) != 0)
			return (ERR_NOMEM);
	return (OK);
}

struct bounded {
	json_t *into;
	int	truncated;
};

static int
bounded_tx(struct tx *tx, void *arg)
{
	struct bounded *b = arg;

	return (hooks_gdpr_export(tx, person, "", b->into, &b->truncated));
}

/*
 * A hook's rows are cut at the export's bound, and the export says it
 * was cut (its truncated): a hook reads one past the bound so it shows.
 */
static void
a_hooks_export_is_cut_at_the_bound(void **state)
{
	static const struct gdpr_hook many = { "gdpr_probe_many", hook_many,
		NULL, NULL, "{\"type\":\"integer\"}" };
	struct bounded		      b = { NULL, 0 };

	(void)state;
	assert_int_equal(hooks_gdpr_register(&many), OK);
	b.into = json_object();
	assert_int_equal(store_run(db, STORE_TX_READ, bounded_tx, &b), OK);
	assert_int_equal(b.truncated, 1);
	assert_int_equal(
	    json_array_size(json_object_get(b.into, "gdpr_probe_many")),
	    RESOURCE_EXPORT_MAX);
	assert_int_equal(json_integer_value(json_array_get(
			     json_object_get(b.into, "gdpr_probe_many"),
			     RESOURCE_EXPORT_MAX - 1)),
	    RESOURCE_EXPORT_MAX - 1);
	json_decref(b.into);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_personal_field_is_exported),
		cmocka_unit_test(exported_rows_are_the_declared_ones),
		cmocka_unit_test(nothing_personal_opens_after_erasure),
		cmocka_unit_test(no_hook_replaces_a_declared_export),
		cmocka_unit_test(export_ids_bind_a_session_and_a_person),
		/* Last: its hook would be in the others' exports. */
		cmocka_unit_test(a_hooks_export_is_cut_at_the_bound),
	};
	unsigned char master[MASTER_KEY_LEN];
	int	      rc;

	if (crypto_init() != OK)
		return (1);
	log_set_level(LOG_WARN);
	randombytes_buf(master, sizeof(master));
	keyring_init(master);
	sodium_memzero(master, sizeof(master));
	rc = cmocka_run_group_tests_name("gdpr", tests, setup, teardown);
	keyring_wipe();
	return (rc != 0);
}
