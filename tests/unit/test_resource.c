/*
 * The resource layer: validation (every code, several bad fields at
 * once), cursors (round trip, tampering, another sort), the scope SQL of
 * each scope, the OpenAPI document of a sample resource; then end to end
 * on SQLite: a small "notes" resource over a table made here, served on
 * 127.0.0.1 at a free port with a fake auth hook ("Bearer alice", "bob",
 * "carol", "admin"), checked for create/read/update/delete, scope (404,
 * 403, 401), validation, If-Match, paging, filters, sort, soft delete,
 * audit and sealed values absent from the database file.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <dlfcn.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "core/arena.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/log.h"
#include "core/money.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "resource/resource_int.h"
#include "resource/seal.h"
#include "store/migrate.h"
#include "store/store.h"

#define ALICE	 "0190a5c4-0000-7000-8000-0000000000a1"
#define BOB	 "0190a5c4-0000-7000-8000-0000000000b0"
#define CAROL	 "0190a5c4-0000-7000-8000-0000000000c0"
#define ADMIN	 "0190a5c4-0000-7000-8000-0000000000ad"
#define SECRET	 "TopSecretBodyText"
#define RESP_MAX (1024 * 1024)

static const char *const kinds[] = { "plain", "bulk", "urgent", NULL };

static const struct field note_fields[] = {
	{ "owner_id", FIELD_UUID, FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL,
	    NULL, "users", 0, "who the note belongs to" },
	{ "title", FIELD_TEXT, FIELD_REQUIRED | FIELD_FILTER | FIELD_SORT, 1,
	    20, NULL, NULL, NULL, 0, "a title" },
	{ "body", FIELD_TEXT, FIELD_PERSONAL | FIELD_NULLABLE | FIELD_HEALTH, 0,
	    0, NULL, NULL, NULL, 0, "sealed <text> & more" },
	{ "mood", FIELD_INT, FIELD_NULLABLE | FIELD_FILTER | FIELD_SORT, 1, 10,
	    NULL, NULL, NULL, 0, "1 to 10" },
	{ "is_done", FIELD_BOOL, FIELD_FILTER, 0, 0, NULL, "false", NULL, 0,
	    NULL },
	{ "due_at", FIELD_TIME, FIELD_NULLABLE | FIELD_FILTER | FIELD_SORT, 0,
	    0, NULL, NULL, NULL, 0, NULL },
	{ "born_on", FIELD_DATE, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "kind", FIELD_ENUM, FIELD_FILTER, 0, 0, kinds, "\"plain\"", NULL, 0,
	    NULL },
	{ "tags", FIELD_TEXT_LIST, FIELD_NULLABLE, 0, 3, NULL, NULL, NULL, 0,
	    NULL },
	{ "extra", FIELD_JSON, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "contact", FIELD_EMAIL, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "private_note", FIELD_TEXT, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL,
	    SEE_OWN | SEE_ALL, "owner and staff only" },
	{ "pinned", FIELD_BOOL, FIELD_STAFF_WRITE, 0, 0, NULL, "false", NULL, 0,
	    NULL },
	{ "secret", FIELD_TEXT, FIELD_HIDDEN | FIELD_NULLABLE, 0, 0, NULL, NULL,
	    NULL, 0, "never shown" },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
};

static const struct resource notes = {
	.name = "notes",
	.path = "/v1/notes",
	.table = "notes",
	.fields = note_fields,
	.nfields = sizeof(note_fields) / sizeof(note_fields[0]),
	.owner_column = "owner_id",
	.related_kinds = "guardian_of",
	.soft_delete = 1,
	.doc = "Notes <for tests>",
	.where = "deleted_at IS NULL",
};

/* The same table seen through row conditions of its own: "own" is the
 * caller's open notes; "related" by a party kind, the plain ones. */
static const struct resource open_notes = {
	.name = "open_notes",
	.path = "/v1/open-notes",
	.table = "notes",
	.fields = note_fields,
	.nfields = sizeof(note_fields) / sizeof(note_fields[0]),
	.owner_column = "owner_id",
	.scope_where = { [SCOPE_OWN] = "owner_id = ? AND is_done = 0" },
	.where = "deleted_at IS NULL",
};
static const struct resource party_notes = {
	.name = "party_notes",
	.path = "/v1/party-notes",
	.table = "notes",
	.fields = note_fields,
	.nfields = sizeof(note_fields) / sizeof(note_fields[0]),
	.owner_column = "owner_id",
	.related_kinds = "guardian_of",
	.party_kinds = "guardian_of",
	.party_where = "kind = 'plain' AND owner_id <> ?",
	.where = "deleted_at IS NULL",
};
static const struct resource unregistered = {
	.name = "unregistered",
	.path = "/v1/unregistered",
	.table = "notes",
	.fields = note_fields,
	.nfields = sizeof(note_fields) / sizeof(note_fields[0]),
	.owner_column = "owner_id",
};

/* A table without owner or health fields, for resource_rows' cap. */
static const struct field bulk_fields[] = {
	{ "title", FIELD_TEXT, FIELD_REQUIRED | FIELD_FILTER, 1, 20, NULL, NULL,
	    NULL, 0, "a title" },
};
static const struct resource bulk = {
	.name = "bulk",
	.path = "/v1/bulk",
	.table = "bulk",
	.fields = bulk_fields,
	.nfields = sizeof(bulk_fields) / sizeof(bulk_fields[0]),
};

static const char notes_sql[] =
    "CREATE TABLE notes (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL "
    "REFERENCES users (id), title TEXT NOT NULL, body BLOB, mood INTEGER, "
    "is_done INTEGER NOT NULL DEFAULT 0, due_at BIGINT, born_on TEXT, "
    "kind TEXT NOT NULL, tags TEXT, extra TEXT, contact TEXT, "
    "private_note TEXT, pinned INTEGER NOT NULL DEFAULT 0, secret TEXT, "
    "created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, "
    "deleted_at BIGINT, created_by TEXT, updated_by TEXT)";

struct resp {
	int	status;
	char	head[4096];
	char   *body;
	size_t	blen;
	json_t *json;
};

static struct store	  *db;
static struct http_server *srv;
static char		   dir[64] = "/tmp/carebase-resource-XXXXXX";
static int		   fd = -1;

/* Helpers */

static struct request *
fake_request(void)
{
	struct request *r = calloc(1, sizeof(*r));

	r->arena = arena_new(0);
	r->path = "/v1/notes";
	return (r);
}

static void
fake_free(struct request *r)
{
	json_decref(r->json);
	arena_free(r->arena);
	free(r);
}

/* The code of the entry for field in a validation problem, or NULL. */
static const char *
entry_code(json_t *problem, const char *field)
{
	json_t *e;
	size_t	i;

	json_array_foreach(json_object_get(problem, "errors"), i, e)
		if (strcmp(json_string_value(json_object_get(e, "field")),
			field) == 0)
			return (json_string_value(json_object_get(e, "code")));
	return (NULL);
}

static json_t *
validate(const char *body, int creating, enum scope scope, int *rc)
{
	struct request *r = fake_request();
	json_t	       *b = json_loads(body, JSON_DECODE_ANY, NULL), *p = NULL;

	assert_non_null(b);
	*rc = resource_validate(r, &notes, b, creating, scope);
	if (r->responded) {
		assert_int_equal(r->status, 422);
		p = json_loadb(r->resp_body, r->resp_len, 0, NULL);
		assert_non_null(p);
		assert_string_equal(
		    json_string_value(json_object_get(p, "code")),
		    "VALIDATION_FAILED");
	} else
		p = json_incref(b);
	json_decref(b);
	fake_free(r);
	return (p);
}

/* Pure pieces */

static void
validation_codes(void **state)
{
	json_t *p;
	int	rc;

	(void)state;
	p = validate("{\"title\": \"ok\"}", 1, SCOPE_OWN, &rc);
	assert_int_equal(rc, OK);
	/* Defaults filled on create. */
	assert_true(json_is_false(json_object_get(p, "is_done")));
	assert_string_equal(
	    json_string_value(json_object_get(p, "kind")), "plain");
	json_decref(p);

	p = validate(
	    "{\"bogus\": 1, \"id\": \"x\", \"created_at\": \"x\", "
	    "\"title\": \"\", \"mood\": 11, \"kind\": \"nope\", "
	    "\"due_at\": \"tomorrow\", \"born_on\": \"2023-02-29\", "
	    "\"tags\": [\"a\", \"b\", \"c\", \"d\"], \"contact\": \"no-at\", "
	    "\"owner_id\": \"not-a-uuid\", \"pinned\": true, "
	    "\"is_done\": \"yes\", \"extra\": 3}",
	    1, SCOPE_OWN, &rc);
	assert_int_equal(rc, ERR_INVALID);
	assert_string_equal(entry_code(p, "bogus"), "unknown_field");
	assert_string_equal(entry_code(p, "id"), "read_only");
	assert_string_equal(entry_code(p, "created_at"), "read_only");
	assert_string_equal(entry_code(p, "title"), "too_short");
	assert_string_equal(entry_code(p, "mood"), "too_large");
	assert_string_equal(entry_code(p, "kind"), "not_in_choices");
	assert_string_equal(entry_code(p, "due_at"), "invalid_format");
	assert_string_equal(entry_code(p, "born_on"), "invalid_format");
	assert_string_equal(entry_code(p, "tags"), "too_long");
	assert_string_equal(entry_code(p, "contact"), "invalid_format");
	assert_string_equal(entry_code(p, "owner_id"), "invalid_format");
	assert_string_equal(entry_code(p, "pinned"), "not_allowed");
	assert_string_equal(entry_code(p, "is_done"), "type");
	assert_string_equal(entry_code(p, "extra"), "type");
	assert_int_equal(json_array_size(json_object_get(p, "errors")), 14);
	json_decref(p);

	/* Required, too small, too long in code points, null, list items. */
	p = validate(
	    "{\"mood\": 0, \"tags\": [1], \"kind\": null}", 1, SCOPE_ALL, &rc);
	assert_string_equal(entry_code(p, "title"), "required");
	assert_string_equal(entry_code(p, "mood"), "too_small");
	assert_string_equal(entry_code(p, "tags"), "type");
	assert_string_equal(entry_code(p, "kind"), "type");
	json_decref(p);
	/* 20 code points of 2 bytes each fit; 21 do not. */
	p = validate(
	    "{\"title\": \"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}",
	    1, SCOPE_ALL, &rc);
	assert_int_equal(rc, OK);
	json_decref(p);
	p = validate(
	    "{\"title\": \"123456789012345678901\"}", 1, SCOPE_ALL, &rc);
	assert_string_equal(entry_code(p, "title"), "too_long");
	json_decref(p);

	/* Update: only given members; create-only refused; staff may. */
	p = validate("{\"owner_id\": \"" ALICE "\", \"pinned\": true, "
		     "\"body\": null, \"born_on\": \"2024-02-29\", \"due_at\": "
		     "\"2026-01-02T03:04:05Z\"}",
	    0, SCOPE_ALL, &rc);
	assert_int_equal(rc, ERR_INVALID);
	assert_string_equal(entry_code(p, "owner_id"), "read_only");
	assert_null(entry_code(p, "pinned"));
	assert_null(entry_code(p, "title"));
	assert_null(entry_code(p, "body"));
	assert_null(entry_code(p, "born_on"));
	assert_null(entry_code(p, "due_at"));
	json_decref(p);

	/* Not an object. */
	p = validate("[1]", 1, SCOPE_ALL, &rc);
	assert_int_equal(rc, ERR_INVALID);
	assert_string_equal(entry_code(p, ""), "type");
	json_decref(p);
}

/*
 * "canceled" is read as "cancelled" (README, Deprecated) wherever it
 * stands in a value, when that names a choice; the body keeps the
 * choice; anything else is still refused.
 */
static void
deprecated_spellings(void **state)
{
	static const char *const states[] = { "booked", "cancelled",
		"schedule_cancelled", NULL };
	static const char *const american[] = { "canceled", NULL };
	const struct field	 f = { "status", FIELD_ENUM, FIELD_FILTER, 0, 0,
		      states, NULL, NULL, 0, NULL };
	const struct field g = { "status", FIELD_ENUM, 0, 0, 0, american, NULL,
		NULL, 0, NULL };
	json_t		  *errs, *v;

	(void)state;
	assert_string_equal(field_choice(&f, "cancelled"), "cancelled");
	assert_string_equal(field_choice(&f, "canceled"), "cancelled");
	assert_ptr_equal(field_choice(&f, "canceled"), states[1]);
	assert_string_equal(
	    field_choice(&f, "schedule_canceled"), "schedule_cancelled");
	assert_null(field_choice(&f, "CANCELED"));
	assert_null(field_choice(&f, "cancel"));
	assert_null(field_choice(&f, "canceledd"));
	assert_null(field_choice(&f, ""));
	/* A field that holds the American spelling keeps it. */
	assert_string_equal(field_choice(&g, "canceled"), "canceled");
	assert_null(field_choice(&g, "cancelled"));

	errs = json_array();
	v = json_string("canceled");
	field_check(errs, &f, v);
	assert_int_equal(json_array_size(errs), 0);
	assert_string_equal(json_string_value(v), "cancelled");
	json_decref(v);
	v = json_string("cancel");
	field_check(errs, &f, v);
	assert_int_equal(json_array_size(errs), 1);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(errs, 0), "code")),
	    "not_in_choices");
	json_decref(v);
	json_decref(errs);
}

static void
cursor_round_trip(void **state)
{
	json_t *v = json_integer(1234), *out;
	char   *c, id[37], bad[2048];

	(void)state;
	assert_int_equal(
	    resource_cursor_encode("-created_at", v, ALICE, &c), OK);
	assert_null(strpbrk(c, "+/="));
	assert_int_equal(
	    resource_cursor_decode(c, "-created_at", &out, id), OK);
	assert_true(json_equal(out, v));
	assert_string_equal(id, ALICE);
	json_decref(out);
	/* Another sort spec, a changed byte, garbage, too long. */
	assert_int_equal(
	    resource_cursor_decode(c, "created_at", &out, id), ERR_INVALID);
	c[5] = c[5] == 'A' ? 'B' : 'A';
	assert_int_equal(
	    resource_cursor_decode(c, "-created_at", &out, id), ERR_INVALID);
	assert_int_equal(
	    resource_cursor_decode("garbage!", "-created_at", &out, id),
	    ERR_INVALID);
	assert_int_equal(
	    resource_cursor_decode("", "-created_at", &out, id), ERR_INVALID);
	memset(bad, 'A', sizeof(bad) - 1);
	bad[sizeof(bad) - 1] = '\0';
	assert_int_equal(
	    resource_cursor_decode(bad, "-created_at", &out, id), ERR_INVALID);
	free(c);
	json_decref(v);
	/* Strings and null round trip too. */
	v = json_string("T\xc3\xa9st");
	assert_int_equal(resource_cursor_encode("title", v, BOB, &c), OK);
	assert_int_equal(resource_cursor_decode(c, "title", &out, id), OK);
	assert_true(json_equal(out, v));
	json_decref(out);
	json_decref(v);
	free(c);
}

static void
scope_sql(void **state)
{
	struct resource r = notes;
	char	       *s;

	(void)state;
	s = resource_scope_sql(&notes, SCOPE_ALL);
	assert_string_equal(s, "");
	free(s);
	s = resource_scope_sql(&notes, SCOPE_OWN);
	assert_string_equal(s, "owner_id = ?");
	free(s);
	s = resource_scope_sql(&notes, SCOPE_RELATED);
	assert_string_equal(s,
	    "owner_id = ? OR owner_id IN (SELECT "
	    "follower_id FROM relationships WHERE lead_id = ? AND status = "
	    "'active' AND kind IN ('guardian_of'))");
	free(s);
	s = resource_scope_sql(&notes, SCOPE_NONE);
	assert_string_equal(s, "1 = 0");
	free(s);
	r.related_kinds = "guardian_of, practitioner_of";
	s = resource_scope_sql(&r, SCOPE_RELATED);
	assert_non_null(
	    strstr(s, "kind IN ('guardian_of', 'practitioner_of')"));
	free(s);
	r.owner_column = NULL;
	s = resource_scope_sql(&r, SCOPE_OWN);
	assert_string_equal(s, "1 = 0");
	free(s);
}

/* The one walk over a kind list: items trimmed, empty ones kept empty. */
static void
kind_list_walk(void **state)
{
	const char *p = " guardian_of ,, practitioner_of", *k;
	size_t	    n;

	(void)state;
	k = resource_kind_next(&p, &n);
	assert_int_equal(n, strlen("guardian_of"));
	assert_memory_equal(k, "guardian_of", n);
	assert_non_null(resource_kind_next(&p, &n));
	assert_int_equal(n, 0);
	k = resource_kind_next(&p, &n);
	assert_int_equal(n, strlen("practitioner_of"));
	assert_memory_equal(k, "practitioner_of", n);
	assert_null(resource_kind_next(&p, &n));
	p = NULL;
	assert_null(resource_kind_next(&p, &n));
	assert_true(resource_kind_in("a_of, b_of", "b_of", 4));
	assert_false(resource_kind_in("a_of, b_of", "b_o", 3));
}

/*
 * Declarations registration refuses: a computed field (sql) declared
 * personal, erased or blind-indexed (there is no column to seal, clear
 * or index); a scope_where or party_where with a "?" that is not a
 * placeholder (each ? is bound to the caller).
 */
/*
 * A field a later migration adds (.since): registration refuses it where
 * the field cannot be left out; the statements for a pending mask select
 * NULL in its place, every other column where it was.
 */
static struct field    since_fields[2];
static struct resource since_notes;

static void
since_declarations(void **state)
{
	static const struct {
		int	    flags;
		const char *def;
		const char *sql;
		const char *name;
	} bad[] = {
		{ FIELD_NULLABLE | FIELD_REQUIRED, NULL, NULL, "later" },
		{ FIELD_NULLABLE, "\"x\"", NULL, "later" },
		{ 0, NULL, NULL, "later" },
		{ FIELD_NULLABLE | FIELD_READONLY, NULL, "SELECT 'x'",
		    "later" },
		{ FIELD_NULLABLE | FIELD_FILTER, NULL, NULL, "owner_id" },
	};
	const struct rdef *rd;
	struct field	   f[2];
	struct resource	   r;
	char		  *select, *one[SCOPE_ALL + 1];
	size_t		   i;
	int		   s;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(f, 0, sizeof(f));
		f[0] = note_fields[0];
		f[1].name = bad[i].name;
		f[1].type = FIELD_TEXT;
		f[1].flags = bad[i].flags;
		f[1].def = bad[i].def;
		f[1].sql = bad[i].sql;
		f[1].since = 99;
		memset(&r, 0, sizeof(r));
		r.name = "bad_since";
		r.path = "/v1/bad-since";
		r.table = "notes";
		r.fields = f;
		r.nfields = 2;
		r.owner_column = "owner_id";
		assert_int_equal(resource_register(&r), ERR_CONFIG);
	}
	/* Registered: borrowed until exit, so not on the stack. */
	since_fields[0] = note_fields[0];
	since_fields[1] = note_fields[3]; /* mood */
	since_fields[1].since = 99;
	since_notes.name = "since_notes";
	since_notes.path = "/v1/since-notes";
	since_notes.table = "notes";
	since_notes.fields = since_fields;
	since_notes.nfields = 2;
	since_notes.owner_column = "owner_id";
	assert_int_equal(resource_register(&since_notes), OK);
	assert_non_null(rd = rdef_find(&since_notes));
	assert_int_equal(rd->nsince, 1);
	/* Nothing read yet: pending, to be safe. */
	assert_int_equal(rdef_pending_cached(rd), 1);
	assert_non_null(strstr(rd->select, ", mood, "));
	assert_int_equal(rdef_statements(rd, 1, &select, one), OK);
	assert_string_equal(select,
	    "SELECT id, owner_id, NULL AS mood, created_at, updated_at FROM "
	    "notes");
	for (s = SCOPE_NONE; s <= SCOPE_ALL; s++) {
		assert_non_null(strstr(one[s], "NULL AS mood"));
		free(one[s]);
	}
	free(select);
	assert_string_equal(rdef_select(rd, 1),
	    "SELECT id, owner_id, NULL AS mood, created_at, updated_at FROM "
	    "notes");
	assert_ptr_equal(rdef_select(rd, 1), rdef_select(rd, 1)); /* kept */
	assert_ptr_equal(rdef_select(rd, 0), rd->select);
}

static void
bad_declarations(void **state)
{
	static const int	 flags[] = { FIELD_PERSONAL, FIELD_ERASE,
			FIELD_BLIND_INDEX | FIELD_PERSONAL };
	static const char *const wheres[] = { "owner_id = ? AND title <> '?'",
		"owner_id = ? AND title = \"a?\"" };
	struct field		 f[2];
	struct resource		 r;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		memset(f, 0, sizeof(f));
		f[0] = note_fields[0];
		f[1].name = "computed";
		f[1].type = FIELD_TEXT;
		f[1].flags = FIELD_READONLY | FIELD_NULLABLE | flags[i];
		f[1].sql = "SELECT 'x'";
		memset(&r, 0, sizeof(r));
		r.name = "bad_computed";
		r.path = "/v1/bad-computed";
		r.table = "notes";
		r.fields = f;
		r.nfields = 2;
		r.owner_column = "owner_id";
		assert_int_equal(resource_register(&r), ERR_CONFIG);
	}
	for (i = 0; i < sizeof(wheres) / sizeof(wheres[0]); i++) {
		r = notes;
		r.name = "bad_where";
		r.path = "/v1/bad-where";
		memset(r.scope_where, 0, sizeof(r.scope_where));
		r.scope_where[SCOPE_OWN] = wheres[i];
		assert_int_equal(resource_register(&r), ERR_CONFIG);
		r = notes;
		r.name = "bad_party";
		r.path = "/v1/bad-party";
		r.party_kinds = "guardian_of";
		r.party_where = wheres[i];
		assert_int_equal(resource_register(&r), ERR_CONFIG);
	}
}

static void
openapi_shape(void **state)
{
	json_t *doc, *p, *s, *props;

	(void)state;
	doc = resource_openapi();
	assert_non_null(doc);
	assert_string_equal(
	    json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	assert_non_null(json_object_get(json_object_get(doc, "info"), "title"));
	assert_non_null(json_string_value(json_object_get(
	    json_array_get(json_object_get(doc, "servers"), 0), "url")));
	p = json_object_get(doc, "paths");
	assert_non_null(
	    json_object_get(json_object_get(p, "/v1/notes"), "get"));
	assert_non_null(
	    json_object_get(json_object_get(p, "/v1/notes"), "post"));
	assert_non_null(
	    json_object_get(json_object_get(p, "/v1/notes/{id}"), "patch"));
	assert_non_null(
	    json_object_get(json_object_get(p, "/v1/notes/{id}"), "delete"));
	assert_non_null(
	    json_object_get(json_object_get(p, "/v1/openapi.json"), "get"));
	s = json_object_get(
	    json_object_get(json_object_get(doc, "components"), "schemas"),
	    "notes");
	props = json_object_get(s, "properties");
	assert_null(json_object_get(props, "secret"));
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(props, "id"), "format")),
	    "uuid");
	assert_true(json_is_true(
	    json_object_get(json_object_get(props, "created_at"), "readOnly")));
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(props, "due_at"), "format")),
	    "date-time");
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(props, "title"), "maxLength")),
	    20);
	assert_int_equal(json_array_size(json_object_get(
			     json_object_get(props, "kind"), "enum")),
	    3);
	s = json_object_get(
	    json_object_get(json_object_get(doc, "components"), "schemas"),
	    "notes_create");
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(s, "required"), 0)),
	    "title");
	assert_true(json_is_true(json_object_get(
	    json_object_get(json_object_get(s, "properties"), "secret"),
	    "writeOnly")));
	assert_non_null(json_object_get(
	    json_object_get(json_object_get(json_object_get(doc, "components"),
				"securitySchemes"),
		"bearerAuth"),
	    "scheme"));
	assert_non_null(json_object_get(
	    json_object_get(json_object_get(doc, "components"), "schemas"),
	    "Problem"));
	json_decref(doc);
}

/* End to end */

static int
fake_auth(struct request *req, struct principal **out)
{
	static const struct {
		const char *token, *id, *role;
	} users[] = {
		{ "Bearer alice", ALICE, "member" },
		{ "Bearer bob", BOB, "member" },
		{ "Bearer carol", CAROL, "instructor" },
		{ "Bearer admin", ADMIN, "admin" },
	};
	const char	 *h = http_header(req, "Authorization");
	struct principal *p;
	size_t		  i;

	*out = NULL;
	if (h == NULL)
		return (OK);
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		if (strcmp(h, users[i].token) != 0)
			continue;
		p = arena_alloc(req->arena, sizeof(*p));
		snprintf(p->user_id, sizeof(p->user_id), "%s", users[i].id);
		snprintf(p->role, sizeof(p->role), "%s", users[i].role);
		snprintf(p->audit_ref, sizeof(p->audit_ref), "ref-%s",
		    users[i].id + 30);
		p->is_staff = strcmp(users[i].role, "admin") == 0;
		*out = p;
		return (OK);
	}
	return (ERR_UNAUTHORIZED);
}

static int
db_exec(const char *sql)
{
	struct tx *tx;
	int	   rc;

	if ((rc = store_tx_begin(db, STORE_TX_WRITE, &tx)) != OK)
		return (rc);
	if ((rc = store_exec(tx, sql)) != OK) {
		store_tx_rollback(tx);
		return (rc);
	}
	return (store_tx_commit(tx));
}

static int
users_make(struct tx *tx, void *arg)
{
	const char  *ids[] = { ALICE, BOB, CAROL, ADMIN };
	struct stmt *st;
	size_t	     i;
	int	     rc;

	for (i = 0; i < 4; i++) {
		st = store_prepare(tx,
		    "INSERT INTO users (id, role, created_at, "
		    "updated_at) VALUES (?, ?, 0, 0)");
		store_bind_text(st, 1, ids[i]);
		store_bind_text(st, 2,
		    i == 3	 ? "admin"
			: i == 2 ? "instructor"
				 : "member");
		rc = store_step(st);
		store_finalize(st);
		if (rc != STORE_DONE)
			return (rc);
		if ((rc = seal_key_create(tx, ids[i])) != OK)
			return (rc);
	}
	return (OK);
}

static int
count_rows(const char *sql)
{
	struct tx   *tx;
	struct stmt *st;
	int	     n = -1;

	assert_int_equal(store_tx_begin(db, STORE_TX_READ, &tx), OK);
	st = store_prepare(tx, sql);
	if (store_step(st) == STORE_ROW)
		n = (int)store_col_int64(st, 0);
	store_finalize(st);
	store_tx_rollback(tx);
	return (n);
}

static int
e2e_setup(void **state)
{
	struct store_opts	o = { 1, 4, 10000, 1 };
	struct http_server_opts ho;
	const char	       *err;
	char			url[128];
	int			applied;

	(void)state;
	if (mkdtemp(dir) == NULL)
		return (-1);
	snprintf(url, sizeof(url), "sqlite:///%s/t.db", dir);
	if (store_open(url, &o, &db, &err) != OK ||
	    migrate_up(db, &applied) != OK || db_exec(notes_sql) != OK ||
	    store_run(db, STORE_TX_WRITE, users_make, NULL) != OK)
		return (-1);
	if (db_exec(
		"INSERT INTO permissions (name) VALUES "
		"('notes:read:related'), ('notes:create:own'), "
		"('notes:update:own'), ('notes:delete:own'), "
		"('notes:read:all'), "
		"('notes:create:all'), ('notes:update:all'), "
		"('notes:delete:all');"
		"INSERT INTO role_permissions (role, permission) VALUES "
		"('member', 'notes:read:related'), ('member', "
		"'notes:create:own'), "
		"('member', 'notes:update:own'), ('member', "
		"'notes:delete:own'), "
		"('admin', 'notes:read:all'), ('admin', 'notes:create:all'), "
		"('admin', 'notes:update:all'), ('admin', 'notes:delete:all');"
		"INSERT INTO relationships (id, lead_id, follower_id, kind, "
		"status, "
		"created_at, updated_at) VALUES ('0190a5c4-0000-7000-8000-"
		"000000000001', '" ALICE "', '" BOB
		"', 'guardian_of', 'active', "
		"0, 0)") != OK)
		return (-1);
	resource_perms_reset();
	http_set_authenticator(fake_auth);
	memset(&ho, 0, sizeof(ho));
	ho.listen = "127.0.0.1";
	ho.threads = 2;
	ho.body_limit = 65536;
	ho.timeout_s = 5;
	ho.db = db;
	if (http_server_start(&ho, &srv) != OK)
		return (-1);
	return (0);
}

static int
e2e_teardown(void **state)
{
	char cmd[128];

	(void)state;
	if (fd >= 0)
		close(fd);
	http_server_stop(srv, 2);
	store_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return (system(cmd) != 0);
}

static int
conn(void)
{
	struct sockaddr_in sin;
	struct timeval	   tv = { 5, 0 };
	int		   s;

	s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)http_server_port(srv));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return (s);
}

static const char *
hdr(struct resp *r, const char *name, char *out, size_t n)
{
	char	    pat[128];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\r\n%s: ", name);
	if ((p = strcasestr(r->head, pat)) == NULL)
		return (NULL);
	p += strlen(pat);
	e = strstr(p, "\r\n");
	snprintf(out, n, "%.*s", (int)(e - p), p);
	return (out);
}

static void
resp_clear(struct resp *r)
{
	json_decref(r->json);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* One request on the shared connection; the answer parsed into r. */
static void
call(const char *method, const char *target, const char *who, const char *extra,
    const char *body, struct resp *r)
{
	static char buf[RESP_MAX];
	char	    req[16384], auth[64] = "", v[32], *end;
	size_t	    have = 0, hl, clen;
	ssize_t	    n;
	int	    len;

	resp_clear(r);
	if (fd < 0)
		fd = conn();
	if (who != NULL)
		snprintf(
		    auth, sizeof(auth), "Authorization: Bearer %s\r\n", who);
	len = snprintf(req, sizeof(req),
	    "%s %s HTTP/1.1\r\nHost: t\r\n%s%s"
	    "%s%zu\r\n\r\n%s",
	    method, target, auth, extra ? extra : "",
	    body ? "Content-Type: application/json\r\nContent-Length: "
		 : "Content-Length: ",
	    body ? strlen(body) : 0, body ? body : "");
	assert_true(len > 0 && (size_t)len < sizeof(req));
	assert_int_equal(send(fd, req, (size_t)len, MSG_NOSIGNAL), len);
	for (;;) {
		buf[have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		n = recv(fd, buf + have, sizeof(buf) - have - 1, 0);
		assert_true(n > 0);
		have += (size_t)n;
	}
	hl = (size_t)(end - buf) + 2;
	snprintf(r->head, sizeof(r->head), "%.*s", (int)hl, buf);
	r->status = (int)strtol(buf + 9, NULL, 10);
	clen =
	    hdr(r, "Content-Length", v, sizeof(v)) ? strtoul(v, NULL, 10) : 0;
	have -= hl + 2;
	memmove(buf, end + 4, have);
	while (have < clen) {
		n = recv(fd, buf + have, sizeof(buf) - have - 1, 0);
		assert_true(n > 0);
		have += (size_t)n;
	}
	r->body = calloc(1, clen + 1);
	memcpy(r->body, buf, clen);
	r->blen = clen;
	if (clen > 0)
		r->json = json_loadb(r->body, clen, 0, NULL);
}

static const char *
jstr(struct resp *r, const char *key)
{
	return (json_string_value(json_object_get(r->json, key)));
}

static void
expect_problem(struct resp *r, int status, const char *code)
{
	if (r->status != status)
		fprintf(stderr, "got %d: %s\n", r->status, r->body);
	assert_int_equal(r->status, status);
	assert_non_null(r->json);
	assert_string_equal(jstr(r, "code"), code);
}

/* Create a note as who; its id into id (37). */
static void
note_make(const char *who, const char *body, char *id)
{
	struct resp r = { 0 };

	call("POST", "/v1/notes", who, NULL, body, &r);
	if (r.status != 201)
		fprintf(stderr, "create: %d %s\n", r.status, r.body);
	assert_int_equal(r.status, 201);
	snprintf(id, 37, "%s", jstr(&r, "id"));
	resp_clear(&r);
}

static void
crud_and_scope(void **state)
{
	struct resp r = { 0 };
	char	    a1[37], b1[37], path[128], etag[64], etag2[64], v[64];
	char	    extra[128];

	(void)state;
	/* Anonymous 401, no permission 403, bad token 401. */
	call("GET", "/v1/notes", NULL, NULL, NULL, &r);
	expect_problem(&r, 401, "UNAUTHORIZED");
	call("GET", "/v1/notes", "carol", NULL, NULL, &r);
	expect_problem(&r, 403, "FORBIDDEN");
	call("POST", "/v1/notes", "carol", NULL, "{\"title\": \"x\"}", &r);
	expect_problem(&r, 403, "FORBIDDEN");
	call("POST", "/v1/notes", NULL, NULL, "{\"title\": \"x\"}", &r);
	expect_problem(&r, 401, "UNAUTHORIZED");
	call("GET", "/v1/notes", "nobody", NULL, NULL, &r);
	expect_problem(&r, 401, "UNAUTHORIZED");

	/* Create: owner defaults to the caller; server fields set. */
	call("POST", "/v1/notes", "alice", NULL,
	    "{\"title\": \"first\", "
	    "\"body\": \"" SECRET "\", \"mood\": 3, \"tags\": [\"a\"], "
	    "\"extra\": {\"k\": [1, 2]}, \"private_note\": \"mine\", "
	    "\"secret\": \"hidden\", \"due_at\": "
	    "\"2026-05-01T10:00:00+02:00\"}",
	    &r);
	assert_int_equal(r.status, 201);
	snprintf(a1, sizeof(a1), "%s", jstr(&r, "id"));
	assert_true(uuid_valid(a1));
	assert_string_equal(jstr(&r, "owner_id"), ALICE);
	assert_string_equal(jstr(&r, "created_by"), ALICE);
	assert_string_equal(jstr(&r, "body"), SECRET);
	assert_string_equal(jstr(&r, "kind"), "plain");
	assert_string_equal(jstr(&r, "due_at"), "2026-05-01T08:00:00.000Z");
	assert_true(json_is_false(json_object_get(r.json, "is_done")));
	assert_int_equal(
	    json_integer_value(
		json_object_get(json_object_get(r.json, "extra"), "k")
		    ? json_array_get(json_object_get(
					 json_object_get(r.json, "extra"), "k"),
			  1)
		    : NULL),
	    2);
	assert_null(json_object_get(r.json, "secret"));
	assert_non_null(hdr(&r, "ETag", etag, sizeof(etag)));
	assert_non_null(hdr(&r, "Location", v, sizeof(v)));

	/* Own scope: another owner refused; mass assignment refused. */
	call("POST", "/v1/notes", "alice", NULL,
	    "{\"title\": \"x\", "
	    "\"owner_id\": \"" BOB "\"}",
	    &r);
	expect_problem(&r, 403, "FORBIDDEN");
	call("POST", "/v1/notes", "alice", NULL,
	    "{\"title\": \"x\", "
	    "\"pinned\": true, \"bogus\": 1}",
	    &r);
	expect_problem(&r, 422, "VALIDATION_FAILED");
	assert_int_equal(json_array_size(json_object_get(r.json, "errors")), 2);
	call("POST", "/v1/notes", "admin", NULL,
	    "{\"title\": \"x\", "
	    "\"owner_id\": \"0190a5c4-0000-7000-8000-0000000000ff\"}",
	    &r);
	expect_problem(&r, 422, "VALIDATION_FAILED");
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(r.json, "errors"), 0), "code")),
	    "not_found");

	/* Read: ETag, If-None-Match. */
	snprintf(path, sizeof(path), "/v1/notes/%s", a1);
	call("GET", path, "alice", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(&r, "body"), SECRET);
	assert_string_equal(jstr(&r, "private_note"), "mine");
	assert_string_equal(hdr(&r, "ETag", v, sizeof(v)), etag);
	snprintf(extra, sizeof(extra), "If-None-Match: %s\r\n", etag);
	call("GET", path, "alice", extra, NULL, &r);
	assert_int_equal(r.status, 304);

	/* Bob is not related to alice (she leads him): 404, as missing. */
	call("GET", path, "bob", NULL, NULL, &r);
	expect_problem(&r, 404, "NOT_FOUND");
	call("PATCH", path, "bob", NULL, "{\"title\": \"mine now\"}", &r);
	expect_problem(&r, 404, "NOT_FOUND");
	call("DELETE", path, "bob", NULL, NULL, &r);
	expect_problem(&r, 404, "NOT_FOUND");
	call("GET", "/v1/notes/0190a5c4-0000-7000-8000-00000000dead", "alice",
	    NULL, NULL, &r);
	expect_problem(&r, 404, "NOT_FOUND");
	call("GET", "/v1/notes/not-a-uuid", "alice", NULL, NULL, &r);
	expect_problem(&r, 404, "NOT_FOUND");

	/* Alice is bob's guardian: reads his note without his private
	 * field, cannot change it. */
	note_make("bob", "{\"title\": \"bobs\", \"private_note\": \"p\"}", b1);
	snprintf(path, sizeof(path), "/v1/notes/%s", b1);
	call("GET", path, "alice", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(&r, "title"), "bobs");
	assert_null(json_object_get(r.json, "private_note"));
	call("PATCH", path, "alice", NULL, "{\"title\": \"hers\"}", &r);
	expect_problem(&r, 403, "FORBIDDEN");
	/* Admin sees everything. */
	call("GET", path, "admin", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(&r, "private_note"), "p");

	/* Update: If-Match, stale 412, new ETag, create-only refused. */
	snprintf(path, sizeof(path), "/v1/notes/%s", a1);
	call("PATCH", path, "alice", "If-Match: W/\"0000\"\r\n",
	    "{\"title\": \"second\"}", &r);
	expect_problem(&r, 412, "PRECONDITION_FAILED");
	snprintf(extra, sizeof(extra), "If-Match: %s\r\n", etag);
	call("PATCH", path, "alice", extra,
	    "{\"title\": \"second\", "
	    "\"body\": \"" SECRET "2\", \"mood\": null}",
	    &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(&r, "title"), "second");
	assert_string_equal(jstr(&r, "body"), SECRET "2");
	assert_true(json_is_null(json_object_get(r.json, "mood")));
	assert_string_equal(jstr(&r, "updated_by"), ALICE);
	assert_non_null(hdr(&r, "ETag", etag2, sizeof(etag2)));
	assert_string_not_equal(etag, etag2);
	call("PATCH", path, "alice", extra, "{\"title\": \"third\"}", &r);
	expect_problem(&r, 412, "PRECONDITION_FAILED");
	call("PATCH", path, "alice", "If-Match: *\r\n",
	    "{\"owner_id\": \"" BOB "\", \"title\": 7}", &r);
	expect_problem(&r, 422, "VALIDATION_FAILED");
	assert_int_equal(json_array_size(json_object_get(r.json, "errors")), 2);

	/* Audit: writes and health reads recorded, no personal values
	 * (the reads' rows once the audit writer has them: audit_queue.c). */
	assert_int_equal(audit_queue_sync(), OK);
	assert_true(count_rows("SELECT count(*) FROM audit_log WHERE "
			       "action = 'notes.create'") >= 2);
	assert_true(count_rows("SELECT count(*) FROM audit_log WHERE "
			       "action = 'notes.update'") >= 1);
	assert_true(count_rows("SELECT count(*) FROM audit_log WHERE "
			       "action = 'notes.read'") >= 1);
	assert_int_equal(count_rows("SELECT count(*) FROM audit_log WHERE "
				    "changes LIKE '%" SECRET "%'"),
	    0);
	assert_int_equal(
	    count_rows(
		"SELECT count(*) FROM audit_log WHERE "
		"action = 'notes.update' AND changes LIKE '%\"body\"%' AND "
		"changes LIKE '%\"second\"%'"),
	    1);

	/* Soft delete: 204, then gone from reads and lists. */
	call("DELETE", path, "alice", NULL, NULL, &r);
	assert_int_equal(r.status, 204);
	call("GET", path, "alice", NULL, NULL, &r);
	expect_problem(&r, 404, "NOT_FOUND");
	call("GET", "/v1/notes?title=second", "admin", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
	assert_int_equal(count_rows("SELECT count(*) FROM notes WHERE "
				    "deleted_at IS NOT NULL"),
	    1);
	resp_clear(&r);
}

static void
lists_page_filter_sort(void **state)
{
	struct resp r = { 0 };
	char	    body[256], id[37], target[2048], other[2048];
	char	   *seen[200], last[40] = "9";
	const char *cur, *t;
	json_t	   *row;
	size_t	    i, k, n = 0, pages = 0;

	(void)state;
	for (i = 0; i < 120; i++) {
		snprintf(body, sizeof(body),
		    "{\"title\": \"bulk %03zu\", "
		    "\"kind\": \"bulk\", \"mood\": %zu}",
		    i, i % 10 + 1);
		note_make("alice", body, id);
	}
	snprintf(target, sizeof(target), "/v1/notes?kind=bulk&limit=50");
	for (;;) {
		call("GET", target, "alice", NULL, NULL, &r);
		assert_int_equal(r.status, 200);
		pages++;
		json_array_foreach(json_object_get(r.json, "data"), i, row) {
			for (k = 0; k < n; k++)
				assert_string_not_equal(seen[k],
				    json_string_value(
					json_object_get(row, "id")));
			seen[n++] = strdup(
			    json_string_value(json_object_get(row, "id")));
			/* Newest first. */
			t = json_string_value(
			    json_object_get(row, "created_at"));
			assert_true(strcmp(last, t) >= 0);
			snprintf(last, sizeof(last), "%s", t);
		}
		if ((cur = json_string_value(
			 json_object_get(r.json, "next_cursor"))) == NULL)
			break;
		assert_true(pages < 5);
		snprintf(target, sizeof(target),
		    "/v1/notes?kind=bulk&limit=50&cursor=%s", cur);
	}
	assert_int_equal(pages, 3);
	assert_int_equal(n, 120);
	for (k = 0; k < n; k++)
		free(seen[k]);

	/* Filters: exact typed matches. */
	call("GET", "/v1/notes?kind=bulk&mood=3&limit=200", "alice", NULL, NULL,
	    &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "data")), 12);
	call("GET", "/v1/notes?title=bulk%20007", "alice", NULL, NULL, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
	call("GET", "/v1/notes?kind=bulk&is_done=false&limit=1", "alice", NULL,
	    NULL, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
	call("GET",
	    "/v1/notes?kind=bulk&created_at_from=2000-01-01T00:00:00Z"
	    "&created_at_to=2000-01-02T00:00:00Z",
	    "alice", NULL, NULL, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);

	/* Sort ascending by title, paged with a text cursor. */
	call("GET", "/v1/notes?kind=bulk&sort=title&limit=2", "alice", NULL,
	    NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(r.json, "data"), 0), "title")),
	    "bulk 000");
	cur = json_string_value(json_object_get(r.json, "next_cursor"));
	assert_non_null(cur);
	snprintf(target, sizeof(target),
	    "/v1/notes?kind=bulk&sort=title&"
	    "limit=2&cursor=%s",
	    cur);
	snprintf(other, sizeof(other),
	    "/v1/notes?kind=bulk&sort=-title&"
	    "limit=2&cursor=%s",
	    cur);
	call("GET", target, "alice", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(r.json, "data"), 0), "title")),
	    "bulk 002");
	/* The same cursor with another sort: refused. */
	call("GET", other, "alice", NULL, NULL, &r);
	expect_problem(&r, 400, "INVALID_CURSOR");
	/* Sort by a nullable number, descending: nulls last. */
	call("GET", "/v1/notes?sort=-mood&limit=200", "alice", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_array_get(json_object_get(r.json, "data"), 0), "mood")),
	    10);

	/* Bad input. */
	call("GET", "/v1/notes?bogus=1", "alice", NULL, NULL, &r);
	expect_problem(&r, 400, "UNKNOWN_PARAMETER");
	call("GET", "/v1/notes?body=x", "alice", NULL, NULL, &r);
	expect_problem(&r, 400, "UNKNOWN_PARAMETER");
	call("GET", "/v1/notes?limit=0", "alice", NULL, NULL, &r);
	expect_problem(&r, 400, "INVALID_PARAMETER");
	call("GET", "/v1/notes?limit=201", "alice", NULL, NULL, &r);
	expect_problem(&r, 400, "INVALID_PARAMETER");
	call("GET", "/v1/notes?mood=high", "alice", NULL, NULL, &r);
	expect_problem(&r, 400, "INVALID_PARAMETER");
	call("GET", "/v1/notes?kind=nope", "alice", NULL, NULL, &r);
	expect_problem(&r, 400, "INVALID_PARAMETER");
	call("GET", "/v1/notes?sort=body", "alice", NULL, NULL, &r);
	expect_problem(&r, 400, "INVALID_PARAMETER");
	call("GET", "/v1/notes?cursor=garbage", "alice", NULL, NULL, &r);
	expect_problem(&r, 400, "INVALID_CURSOR");

	/* Scope in lists: bob sees only his own. */
	call("GET", "/v1/notes?limit=200", "bob", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	json_array_foreach(json_object_get(r.json, "data"), i, row)
		assert_string_equal(
		    json_string_value(json_object_get(row, "owner_id")), BOB);
	resp_clear(&r);
}

static void
sealed_at_rest(void **state)
{
	char   path[128], *buf;
	FILE  *f;
	size_t n;
	int    i;

	(void)state;
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/t.db%s", dir, i ? "-wal" : "");
		if ((f = fopen(path, "rb")) == NULL)
			continue;
		buf = malloc(64 * 1024 * 1024);
		n = fread(buf, 1, 64 * 1024 * 1024, f);
		fclose(f);
		assert_null(memmem(buf, n, SECRET, strlen(SECRET)));
		free(buf);
	}
}

/*
 * RESOURCE_PUBLIC_READ: refused without rows for everyone or with personal
 * data; otherwise its GET routes are public and its writes are not.
 */
static void
public_read_registration(void **state)
{
	static const struct field open_fields[] = {
		{ "name", FIELD_TEXT, FIELD_REQUIRED, 1, 20, NULL, NULL, NULL,
		    0, NULL },
	};
	static const struct field owned_fields[] = {
		{ "owner_id", FIELD_UUID, FIELD_REQUIRED, 0, 0, NULL, NULL,
		    "users", 0, NULL },
		{ "name", FIELD_TEXT, FIELD_PERSONAL, 1, 20, NULL, NULL, NULL,
		    0, NULL },
	};
	static const struct resource no_rows = { .name = "pub_a",
		.path = "/v1/pub-a",
		.table = "pub_a",
		.fields = open_fields,
		.nfields = 1,
		.flags = RESOURCE_PUBLIC_READ };
	static const struct resource personal = { .name = "pub_b",
		.path = "/v1/pub-b",
		.table = "pub_b",
		.fields = owned_fields,
		.nfields = 2,
		.owner_column = "owner_id",
		.scope_where = { [SCOPE_NONE] = "1 = 1" },
		.flags = RESOURCE_PUBLIC_READ };
	static const struct resource open = { .name = "pub_c",
		.path = "/v1/pub-c",
		.table = "pub_c",
		.fields = open_fields,
		.nfields = 1,
		.scope_where = { [SCOPE_NONE] = "name <> ''" },
		.flags = RESOURCE_PUBLIC_READ };
	const struct rdef	    *rd;
	size_t			     i, pub = 0;

	(void)state;
	assert_int_equal(resource_register(&no_rows), ERR_CONFIG);
	assert_int_equal(resource_register(&personal), ERR_CONFIG);
	assert_int_equal(resource_register(&open), OK);
	assert_non_null(rd = rdef_find(&open));
	for (i = 0; i < rd->table.nroutes; i++) {
		if (rd->routes[i].method == HTTP_GET)
			assert_true(rd->routes[i].flags & ROUTE_PUBLIC);
		else
			assert_false(rd->routes[i].flags & ROUTE_PUBLIC);
		pub += (rd->routes[i].flags & ROUTE_PUBLIC) != 0;
	}
	assert_int_equal(pub, 2);
	assert_false(rdef_find(&notes)->routes[0].flags & ROUTE_PUBLIC);
}

/*
 * A table declared for its data only: no route, nothing in the OpenAPI
 * document, path NULL allowed; the system key only with the rows deleted
 * on erasure; rows by address need one blind index and an owner.
 */
static void
data_only_registration(void **state)
{
	static const struct field mail_fields[] = {
		{ "owner_id", FIELD_UUID, FIELD_NULLABLE | FIELD_HIDDEN, 0, 0,
		    NULL, NULL, "users", 0, NULL },
		{ "contact", FIELD_EMAIL,
		    FIELD_PERSONAL | FIELD_BLIND_INDEX | FIELD_REQUIRED, 0, 0,
		    NULL, NULL, NULL, 0, NULL },
	};
	static const struct resource kept = { .name = "data_a",
		.table = "data_a",
		.fields = mail_fields,
		.nfields = 2,
		.owner_column = "owner_id",
		.flags = RESOURCE_NO_ROUTES | RESOURCE_SYSTEM_KEY };
	static const struct resource no_index = { .name = "data_b",
		.table = "data_b",
		.fields = mail_fields,
		.nfields = 1,
		.owner_column = "owner_id",
		.flags = RESOURCE_NO_ROUTES | RESOURCE_OWNED_BY_ADDRESS };
	static const struct resource routed = { .name = "data_c",
		.table = "data_c",
		.fields = mail_fields,
		.nfields = 2,
		.owner_column = "owner_id" };
	static const struct resource mail = { .name = "data_d",
		.table = "data_d",
		.fields = mail_fields,
		.nfields = 2,
		.owner_column = "owner_id",
		.flags = RESOURCE_NO_ROUTES | RESOURCE_SYSTEM_KEY |
		    RESOURCE_ERASE_ROWS | RESOURCE_OWNED_BY_ADDRESS };
	const struct rdef	    *rd;
	json_t			    *doc;
	size_t			     nt_before, nt_after;

	(void)state;
	assert_int_equal(resource_register(&kept), ERR_CONFIG);
	assert_int_equal(resource_register(&no_index), ERR_CONFIG);
	assert_int_equal(resource_register(&routed), ERR_CONFIG); /* path */
	(void)http_routes(&nt_before);
	assert_int_equal(resource_register(&mail), OK);
	(void)http_routes(&nt_after);
	assert_int_equal(nt_after, nt_before);
	assert_non_null(rd = rdef_find(&mail));
	assert_int_equal(rd->table.nroutes, 0);
	assert_null(rd->item_path);
	assert_int_equal(rd->address, 2); /* id, owner_id, contact */
	/* No path of its own; its row schema is a component, for a module's
	 * route that answers its rows (openapi.c). */
	doc = resource_openapi();
	assert_non_null(json_object_get(
	    json_object_get(json_object_get(doc, "components"), "schemas"),
	    "data_d"));
	assert_null(json_object_get(json_object_get(doc, "paths"), "/data_d"));
	json_decref(doc);
}

/*
 * resource_covers answers from an owner alone: OK or ERR_FORBIDDEN where
 * the owner decides, ERR_INTERNAL where a row condition of the resource
 * does (scope_where, party kinds), which it cannot evaluate.
 */
static void
covers_by_owner_only(void **state)
{
	struct principal alice, bob;
	struct tx	*tx;

	(void)state;
	memset(&alice, 0, sizeof(alice));
	memset(&bob, 0, sizeof(bob));
	snprintf(alice.user_id, sizeof(alice.user_id), "%s", ALICE);
	snprintf(bob.user_id, sizeof(bob.user_id), "%s", BOB);
	assert_int_equal(store_tx_begin(db, STORE_TX_READ, &tx), OK);
	/* Alice is Bob's guardian. */
	assert_int_equal(
	    resource_covers(tx, &notes, &alice, SCOPE_RELATED, BOB), OK);
	assert_int_equal(
	    resource_covers(tx, &notes, &bob, SCOPE_RELATED, ALICE),
	    ERR_FORBIDDEN);
	assert_int_equal(
	    resource_covers(tx, &notes, &alice, SCOPE_OWN, BOB), ERR_FORBIDDEN);
	assert_int_equal(
	    resource_covers(tx, &notes, &alice, SCOPE_OWN, ALICE), OK);
	assert_int_equal(
	    resource_covers(tx, &notes, &bob, SCOPE_ALL, ALICE), OK);
	/* Own scope is a row condition: not told from the owner. */
	assert_int_equal(
	    resource_covers(tx, &open_notes, &alice, SCOPE_OWN, ALICE),
	    ERR_INTERNAL);
	assert_int_equal(
	    resource_covers(tx, &open_notes, &alice, SCOPE_ALL, BOB), OK);
	/* Related through a party kind: which rows is party_where's. */
	assert_int_equal(
	    resource_covers(tx, &party_notes, &alice, SCOPE_RELATED, BOB),
	    ERR_INTERNAL);
	assert_int_equal(
	    resource_covers(tx, &party_notes, &alice, SCOPE_OWN, ALICE), OK);
	assert_int_equal(
	    resource_covers(tx, &unregistered, &alice, SCOPE_ALL, ALICE),
	    ERR_INTERNAL);
	store_tx_rollback(tx);
}

/*
 * resource_sees tells a row the caller sees from one they do not as a
 * read would: the owner column and related kinds, party_where for party
 * kinds, a scope's own condition, the resource's where.
 */
static void
sees_as_a_read_would(void **state)
{
	static const char plain[] = "0190a5c4-0000-7000-8000-00000000e001";
	static const char urgent[] = "0190a5c4-0000-7000-8000-00000000e002";
	static const char gone[] = "0190a5c4-0000-7000-8000-00000000e003";
	struct principal  alice, bob;
	struct tx	 *tx;

	(void)state;
	memset(&alice, 0, sizeof(alice));
	memset(&bob, 0, sizeof(bob));
	snprintf(alice.user_id, sizeof(alice.user_id), "%s", ALICE);
	snprintf(bob.user_id, sizeof(bob.user_id), "%s", BOB);
	assert_int_equal(
	    db_exec("INSERT INTO notes (id, owner_id, title, kind, "
		    "created_at, updated_at, deleted_at) VALUES "
		    "('0190a5c4-0000-7000-8000-00000000e001', '" BOB
		    "', 'p', 'plain', 0, 0, NULL), "
		    "('0190a5c4-0000-7000-8000-00000000e002', '" BOB
		    "', 'u', 'urgent', 0, 0, NULL), "
		    "('0190a5c4-0000-7000-8000-00000000e003', '" BOB
		    "', 'g', 'plain', 0, 0, 1)"),
	    OK);
	assert_int_equal(store_tx_begin(db, STORE_TX_READ, &tx), OK);
	/* Alice is Bob's guardian: related scope sees his notes... */
	assert_int_equal(
	    resource_sees(tx, &notes, &alice, SCOPE_RELATED, urgent), OK);
	assert_int_equal(resource_sees(tx, &notes, &alice, SCOPE_OWN, urgent),
	    ERR_NOT_FOUND);
	assert_int_equal(
	    resource_sees(tx, &notes, &bob, SCOPE_OWN, urgent), OK);
	assert_int_equal(
	    resource_sees(tx, &notes, &bob, SCOPE_NONE, urgent), ERR_NOT_FOUND);
	/* ...but not one the resource's where leaves out. */
	assert_int_equal(
	    resource_sees(tx, &notes, &alice, SCOPE_ALL, gone), ERR_NOT_FOUND);
	/* Through a party kind, only the rows party_where names. */
	assert_int_equal(
	    resource_sees(tx, &party_notes, &alice, SCOPE_RELATED, plain), OK);
	assert_int_equal(
	    resource_sees(tx, &party_notes, &alice, SCOPE_RELATED, urgent),
	    ERR_NOT_FOUND);
	/* A scope's own condition: own is the caller's open notes. */
	assert_int_equal(
	    resource_sees(tx, &open_notes, &bob, SCOPE_OWN, plain), OK);
	assert_int_equal(
	    resource_sees(tx, &open_notes, &alice, SCOPE_OWN, plain),
	    ERR_NOT_FOUND);
	assert_int_equal(
	    resource_sees(tx, &unregistered, &alice, SCOPE_ALL, plain),
	    ERR_INTERNAL);
	store_tx_rollback(tx);
}

/* resource_rows stops at RESOURCE_EXPORT_MAX rows and says so. */
static void
rows_are_capped_and_say_so(void **state)
{
	struct tx *tx;
	json_t	  *out;
	int	   truncated = 0;

	(void)state;
	assert_int_equal(db_exec("CREATE TABLE bulk (id TEXT PRIMARY KEY, "
				 "title TEXT NOT NULL, created_at BIGINT NOT "
				 "NULL, updated_at BIGINT NOT NULL);"
				 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
				 "SELECT i + 1 FROM n WHERE i < 10003) "
				 "INSERT INTO bulk SELECT printf('%036d', i), "
				 "CASE WHEN i <= 10001 THEN 'many' ELSE "
				 "'few' END, 0, 0 FROM n"),
	    OK);
	assert_int_equal(store_tx_begin(db, STORE_TX_READ, &tx), OK);
	out = json_array();
	assert_int_equal(resource_rows(tx, &bulk, NULL, SCOPE_ALL, "title",
			     "many", out, &truncated),
	    OK);
	assert_int_equal(json_array_size(out), RESOURCE_EXPORT_MAX);
	assert_int_equal(truncated, 1);
	json_array_clear(out);
	truncated = 0;
	assert_int_equal(resource_rows(tx, &bulk, NULL, SCOPE_ALL, "title",
			     "few", out, &truncated),
	    OK);
	assert_int_equal(json_array_size(out), 2);
	assert_int_equal(truncated, 0);
	json_array_clear(out);
	/* NULL: the caller takes a cut list. */
	assert_int_equal(
	    resource_rows(tx, &bulk, NULL, SCOPE_ALL, NULL, NULL, out, NULL),
	    OK);
	assert_int_equal(json_array_size(out), RESOURCE_EXPORT_MAX);
	json_decref(out);
	store_tx_rollback(tx);
}

/* The document is served; the page that reads it, /docs, is the web
 * module's (tests/api/test_web_assets.py). */
static void
openapi_served(void **state)
{
	struct resp r = { 0 };

	(void)state;
	call("GET", "/v1/openapi.json", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(&r, "openapi"), "3.1.0");
	resp_clear(&r);
}

/*
 * The C library's regcomp and regexec, counted; regexec answers out of
 * memory while regexec_espace is set. Defined here, they stand for the
 * library's in this program (the real ones are the next definitions).
 */
static int regcomp_calls, regcomp_espace, regexec_calls, regexec_espace;

int
regcomp(regex_t *re, const char *pattern, int flags)
{
	static int (*real)(regex_t *, const char *, int);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "regcomp");
	regcomp_calls++;
	if (regcomp_espace)
		return (REG_ESPACE);
	return (real(re, pattern, flags));
}

/* A pointer, not regex.h's m[n]: n is 0 here, a bound UBSan refuses. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wvla-parameter"
#endif
int
regexec(const regex_t *restrict re, const char *restrict s, size_t n,
    regmatch_t *restrict m, int flags)
{
	static int (*real)(
	    const regex_t *, const char *, size_t, regmatch_t *, int);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "regexec");
	regexec_calls++;
	if (regexec_espace)
		return (REG_ESPACE);
	return (real(re, s, n, m, flags));
}

static struct field    pat_fields[3];
static struct resource pat_notes;

/* The status a body gets from resource_validate of pat_notes, 0 when
 * it passes unanswered. */
static int
pat_validate(const char *body)
{
	struct request *r = fake_request();
	json_t	       *b = json_loads(body, 0, NULL);
	int		rc, status;

	assert_non_null(b);
	rc = resource_validate(r, &pat_notes, b, 0, SCOPE_ALL);
	status = r->responded ? r->status : 0;
	assert_true(rc == OK ? status == 0 : status != 0);
	json_decref(b);
	fake_free(r);
	return (status);
}

/*
 * A field's pattern is compiled once, when its resource is registered:
 * checking texts and list items compiles nothing more. A match that runs
 * out of memory answers 500, not 422 (the text was not judged).
 */
static void
patterns_compiled_once(void **state)
{
	int compiled, i;

	(void)state;
	pat_fields[0] = note_fields[0];
	pat_fields[1].name = "currency";
	pat_fields[1].type = FIELD_TEXT;
	pat_fields[1].flags = FIELD_NULLABLE;
	pat_fields[1].pattern = "^[A-Z]{3}$";
	pat_fields[2].name = "currencies";
	pat_fields[2].type = FIELD_TEXT_LIST;
	pat_fields[2].flags = FIELD_NULLABLE;
	pat_fields[2].pattern = "^[A-Z]{3}$";
	pat_notes.name = "pat_notes";
	pat_notes.path = "/v1/pat-notes";
	pat_notes.table = "notes";
	pat_notes.fields = pat_fields;
	pat_notes.nfields = 3;
	pat_notes.owner_column = "owner_id";
	assert_int_equal(resource_register(&pat_notes), OK);
	compiled = regcomp_calls;
	for (i = 0; i < 10; i++) {
		assert_int_equal(pat_validate("{\"currency\":\"GBP\"}"), 0);
		assert_int_equal(
		    pat_validate("{\"currencies\":[\"GBP\",\"EUR\"]}"), 0);
		assert_int_equal(pat_validate("{\"currency\":\"gbp\"}"), 422);
		assert_int_equal(
		    pat_validate("{\"currencies\":[\"GBP\",\"EURO\"]}"), 422);
	}
	assert_int_equal(regcomp_calls, compiled);
	assert_true(regexec_calls >= 60);
	regexec_espace = 1;
	assert_int_equal(pat_validate("{\"currency\":\"GBP\"}"), 500);
	assert_int_equal(pat_validate("{\"currencies\":[\"GBP\"]}"), 500);
	regexec_espace = 0;
	assert_int_equal(pat_validate("{\"currency\":\"GBP\"}"), 0);
}

/* Register a resource of one field f besides its owner (a copy, kept
 * until exit as registration borrows it): its code. */
static int
register_one(const char *name, const struct field *f)
{
	static struct field    fs[16][2];
	static struct resource rs[16];
	static char	       paths[16][64];
	static int	       n;
	int		       rc;

	assert_true(n < 16);
	fs[n][0] = note_fields[0];
	fs[n][1] = *f;
	snprintf(paths[n], sizeof(paths[n]), "/v1/%s", name);
	rs[n].name = name;
	rs[n].path = paths[n];
	rs[n].table = "notes";
	rs[n].fields = fs[n];
	rs[n].nfields = 2;
	rs[n].owner_column = "owner_id";
	if ((rc = resource_register(&rs[n])) == OK)
		n++;
	return (rc);
}

/*
 * A pattern means the same to the server (POSIX ERE) and the document's
 * readers (ECMA-262), and binds the whole text: "^a|b$" is (^a)|(b$) to
 * both, so it is refused at start with every pattern they would read
 * apart; the fields' patterns of the modules pass.
 */
static void
patterns_refused_at_start(void **state)
{
	/* Each with a word of the reason start logs for it. */
	static const struct {
		const char *pattern, *why;
	} bad[] = {
		{ "^a|b$", "alternation" },	 /* (^a)|(b$): "xb" */
		{ "^(a)|(b)$", "alternation" },	 /* the same, in groups */
		{ "^a$|^b$", "alternation" },	 /* anchored twice */
		{ "^(a|b)c|d$", "alternation" }, /* (^(a|b)c)|(d$) */
		{ "a$", "not anchored" },	 /* not anchored */
		{ "^a", "not anchored" },	 /* not anchored */
		{ "^a\\$", "not anchored" },	 /* its last $ is a literal */
		{ "^$|x$", "alternation" },	 /* alternation */
		{ "^[[:digit:]]$", "POSIX class" }, /* ECMA-262 reads none */
		{ "^[a\\d]$", "backslash in brackets" },
		{ "^[]a]$", "] first" },	    /* a member, or the end */
		{ "^\\d{3}$", "backslash before" }, /* a digit, or a d */
		{ "^(a)\\1$", "backslash before" }, /* a back-reference */
		{ "^*a$", "nothing to repeat" },
		{ "^a**$", "nothing to repeat" }, /* (ECMA-262) */
		{ "^a{$", "no bound" },		  /* a { that is no bound */
		{ "^(a$", "( without" },	  /* unbalanced */
		{ "^a)$", ") without" },	  /* unbalanced */
		{ "^[a$", "unterminated" },	  /* unterminated */
		{ "^a{3,1}$", "does not compile" },
		{ "$", "not anchored" }, /* too short */
		/* glibc reads bytes (no setlocale), ECMA-262 characters:
		 * "\xc3\xa9" (e-acute) is two of [^x] and of . to one, one to
		 * the other; ^\xc3\xa9+$ repeats its last byte to glibc. */
		{ "^[^x]{2}$", "negated bracket" },
		{ "^[^x]$", "negated bracket" },
		{ "^.{2}$", "a . outside brackets" },
		{ "^a.b$", "a . outside brackets" }, /* "a\nb": . and \n */
		{ "^\xc3\xa9+$", "beyond ASCII" },
		{ "^[\xc3\xa9]$", "beyond ASCII" },
		/* Themselves to POSIX, refused by new RegExp(p, "u"). */
		{ "^a]$", "] or }" },
		{ "^a}$", "] or }" },
		{ "^a{2}}$", "] or }" },
	};
	static const char *const good[] = {
		"^[A-Z]{3}$",
		"^(a|b)$",
		"^((a|b)c|d)$",
		"^-?(0|[1-9][0-9]*)([.][0-9]+)?([eE][+-]?[0-9]+)?$",
		"^[a-z]+\\.x$",
		"^a\\]\\}$",
		"^[a$]{1,}$",
		UUID_PATTERN,
		MONEY_CURRENCY_PATTERN,
	};
	struct field f;
	const char  *why;
	size_t	     i;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.name = "code";
	f.type = FIELD_TEXT;
	f.flags = FIELD_NULLABLE;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f.pattern = bad[i].pattern;
		if (register_one("bad_pattern", &f) != ERR_CONFIG)
			fail_msg("pattern %s was taken", bad[i].pattern);
		if ((why = field_pattern_why(bad[i].pattern)) == NULL ||
		    strstr(why, bad[i].why) == NULL)
			fail_msg("pattern %s refused for \"%s\", not \"%s\"",
			    bad[i].pattern, why != NULL ? why : "(nothing)",
			    bad[i].why);
	}
	f.type = FIELD_TEXT_LIST;
	f.pattern = "^a|b$";
	assert_int_equal(register_one("bad_pattern", &f), ERR_CONFIG);
	f.type = FIELD_TEXT;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if ((why = field_pattern_why(good[i])) != NULL)
			fail_msg("pattern %s refused: %s", good[i], why);
	f.pattern = "^(a|b)$";
	assert_int_equal(register_one("good_pattern", &f), OK);
	/* Out of memory compiling a good pattern is no bad pattern: start
	 * fails as out of memory, and the pattern is taken after. */
	f.pattern = "^(c|d)$";
	regcomp_espace = 1;
	assert_int_equal(register_one("nomem_pattern", &f), ERR_NOMEM);
	regcomp_espace = 0;
	assert_int_equal(register_one("nomem_pattern", &f), OK);
}

/*
 * The JSON texts the OpenAPI document embeds are parsed at start: a
 * field's schema, the resource's example, create_example and answered
 * that are not JSON objects fail its registration.
 */
static void
json_texts_parsed_at_start(void **state)
{
	static const char *const bad[] = { "{\"type\":\"object\"",
		"{\"type\":\"object\",}", "[{\"type\":\"object\"}]", "\"x\"",
		"{\"a\":1,\"a\":2}", "" };
	struct field		 f[2];
	struct resource		 r;
	size_t			 i, k;

	(void)state;
	memset(f, 0, sizeof(f));
	f[0] = note_fields[0];
	f[1].name = "extra";
	f[1].type = FIELD_JSON;
	f[1].flags = FIELD_NULLABLE;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f[1].schema = bad[i];
		if (register_one("bad_schema", &f[1]) != ERR_CONFIG)
			fail_msg("schema %s was taken", bad[i]);
	}
	f[1].schema = NULL;
	for (k = 0; k < 3; k++)
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			memset(&r, 0, sizeof(r));
			r.name = "bad_example";
			r.path = "/v1/bad-example";
			r.table = "notes";
			r.fields = f;
			r.nfields = 2;
			r.owner_column = "owner_id";
			if (k == 0)
				r.example = bad[i];
			else if (k == 1)
				r.create_example = bad[i];
			else
				r.answered = bad[i];
			if (resource_register(&r) != ERR_CONFIG)
				fail_msg(
				    "member %zu as %s was taken", k, bad[i]);
		}
	f[1].schema = "{\"type\":\"object\"}";
	assert_int_equal(register_one("good_schema", &f[1]), OK);
	/* The same members, objects, are taken: each alone, then all. */
	f[1].schema = NULL;
	for (k = 0; k < 4; k++) {
		static const char *const names[] = { "good_example",
			"good_create_example", "good_answered", "good_all" };
		static const char *const paths[] = { "/v1/good-example",
			"/v1/good-create-example", "/v1/good-answered",
			"/v1/good-all" };
		static struct resource	 good[4];

		good[k].name = names[k];
		good[k].path = paths[k];
		good[k].table = "notes";
		good[k].fields = note_fields;
		good[k].nfields = 1;
		good[k].owner_column = "owner_id";
		if (k == 0 || k == 3)
			good[k].example =
			    "{\"owner_id\":"
			    "\"0190f8a0-0000-7000-8000-000000000001\"}";
		if (k == 1 || k == 3)
			good[k].create_example = "{}";
		if (k == 2 || k == 3)
			good[k].answered = "{\"note\":\"kept\"}";
		if (resource_register(&good[k]) != OK)
			fail_msg("resource %s was refused", names[k]);
	}
}

/*
 * A field's default is JSON text too, stored by a create without the
 * field and stated by the document: parsed at start, and checked against
 * the field's own rules (type, bounds, pattern, choices) as a body's
 * member would be. A bad one fails its resource's registration.
 */
static void
defaults_checked_at_start(void **state)
{
	static const char *const levels[] = { "low", "high", NULL };
	static const struct {
		enum field_type type;
		int64_t		min, max;
		const char     *pattern, *def;
		int		rc;
	} cases[] = {
		{ FIELD_TEXT, 3, 3, "^[A-Z]{3}$", "\"GBP\"", OK },
		{ FIELD_TEXT, 3, 3, "^[A-Z]{3}$", "\"gbp\"", ERR_CONFIG },
		{ FIELD_TEXT, 3, 3, NULL, "\"GBPX\"", ERR_CONFIG },
		{ FIELD_TEXT, 0, 0, NULL, "\"GBP", ERR_CONFIG },
		{ FIELD_TEXT, 0, 0, NULL, "GBP", ERR_CONFIG },
		{ FIELD_TEXT, 0, 0, NULL, "", ERR_CONFIG },
		{ FIELD_TEXT, 0, 0, NULL, "7", ERR_CONFIG },
		{ FIELD_INT, 1, 10, NULL, "5", OK },
		{ FIELD_INT, 1, 10, NULL, "11", ERR_CONFIG },
		{ FIELD_INT, 1, 10, NULL, "\"5\"", ERR_CONFIG },
		{ FIELD_BOOL, 0, 0, NULL, "false", OK },
		{ FIELD_BOOL, 0, 0, NULL, "0", ERR_CONFIG },
		{ FIELD_ENUM, 0, 0, NULL, "\"high\"", OK },
		{ FIELD_ENUM, 0, 0, NULL, "\"medium\"", ERR_CONFIG },
		{ FIELD_TEXT_LIST, 0, 0, "^[A-Z]{3}$", "[\"GBP\"]", OK },
		{ FIELD_TEXT_LIST, 0, 0, "^[A-Z]{3}$", "[\"GBP\",\"eur\"]",
		    ERR_CONFIG },
	};
	static char  names[sizeof(cases) / sizeof(cases[0])][32];
	struct field f;
	size_t	     i;
	int	     rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&f, 0, sizeof(f));
		f.name = "level";
		f.type = cases[i].type;
		f.min = cases[i].min;
		f.max = cases[i].max;
		f.pattern = cases[i].pattern;
		f.def = cases[i].def;
		if (f.type == FIELD_ENUM)
			f.choices = levels;
		/* Kept: registration borrows the name. */
		snprintf(names[i], sizeof(names[i]), "default_%zu", i);
		if ((rc = register_one(names[i], &f)) != cases[i].rc)
			fail_msg("default %s of type %d: %d, not %d",
			    cases[i].def, (int)cases[i].type, rc, cases[i].rc);
	}
}

int
main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(validation_codes),
		cmocka_unit_test(deprecated_spellings),
		cmocka_unit_test(cursor_round_trip),
		cmocka_unit_test(scope_sql),
		cmocka_unit_test(kind_list_walk),
		cmocka_unit_test(bad_declarations),
		cmocka_unit_test(since_declarations),
		cmocka_unit_test(openapi_shape),
		cmocka_unit_test(public_read_registration),
		cmocka_unit_test(data_only_registration),
		cmocka_unit_test(patterns_compiled_once),
		cmocka_unit_test(patterns_refused_at_start),
		cmocka_unit_test(json_texts_parsed_at_start),
		cmocka_unit_test(defaults_checked_at_start),
	};
	const struct CMUnitTest e2e[] = {
		cmocka_unit_test(crud_and_scope),
		cmocka_unit_test(lists_page_filter_sort),
		cmocka_unit_test(sealed_at_rest),
		cmocka_unit_test(covers_by_owner_only),
		cmocka_unit_test(sees_as_a_read_would),
		cmocka_unit_test(rows_are_capped_and_say_so),
		cmocka_unit_test(openapi_served),
	};
	unsigned char master[MASTER_KEY_LEN];
	int	      rc;

	if (crypto_init() != OK)
		return (1);
	log_set_level(LOG_WARN);
	randombytes_buf(master, sizeof(master));
	keyring_init(master);
	sodium_memzero(master, sizeof(master));
	if (resource_register(&notes) != OK ||
	    resource_register(&open_notes) != OK ||
	    resource_register(&party_notes) != OK ||
	    resource_register(&bulk) != OK || resource_routes_add() != OK)
		return (1);
	rc = cmocka_run_group_tests_name("resource", pure, NULL, NULL);
	rc += cmocka_run_group_tests_name(
	    "resource_sqlite", e2e, e2e_setup, e2e_teardown);
	keyring_wipe();
	return (rc != 0);
}
