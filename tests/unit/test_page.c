/*
 * Paging of hand-written lists (resource/resource.h): ?cursor= and
 * ?limit= for each key (id oldest first, id newest first, an integer
 * sequence newest first), an entry per bad one, and next_cursor from the
 * page's last row, a string for a sequence. The request is a transport
 * connection with only its query string (http/http_int.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/arena.h"
#include "core/err.h"
#include "http/http.h"
#include "http/http_int.h"
#include "resource/resource.h"

#define ID1 "0190a5c4-0000-7000-8000-000000000001"
#define ID2 "0190a5c4-0000-7000-8000-000000000002"
#define ID3 "0190a5c4-0000-7000-8000-000000000003"

struct fake {
	struct hreq h;
	json_t	   *errs;
};

/* Parse query as a list keyed by key with limits up to 200. */
static void
parse(struct fake *f, const char *query, enum page_key key,
    struct resource_page *pg)
{
	memset(&f->h, 0, sizeof(f->h));
	f->h.req.arena = arena_new(0);
	f->h.req.conn = &f->h;
	f->h.query = query;
	json_decref(f->errs);
	f->errs = json_array();
	memset(pg, 0xff, sizeof(*pg));
	resource_page_parse(&f->h.req, 200, key, pg, f->errs);
}

static void
done(struct fake *f)
{
	arena_free(f->h.req.arena);
	f->h.req.arena = NULL;
}

static const char *
err_field(struct fake *f, size_t i)
{
	return (json_string_value(
	    json_object_get(json_array_get(f->errs, i), "field")));
}

static void
ids_either_way(void **state)
{
	struct fake	     f = { 0 };
	struct resource_page pg;
	enum page_key	     keys[] = { PAGE_ID, PAGE_ID_DESC };
	size_t		     k;

	(void)state;
	for (k = 0; k < 2; k++) {
		parse(&f, NULL, keys[k], &pg);
		assert_int_equal(json_array_size(f.errs), 0);
		assert_int_equal(pg.key, keys[k]);
		assert_string_equal(pg.after, "");
		assert_int_equal(pg.after_seq, 0);
		assert_int_equal(pg.limit, RESOURCE_PAGE_DEFAULT);
		done(&f);

		parse(&f, "cursor=" ID2 "&limit=200", keys[k], &pg);
		assert_int_equal(json_array_size(f.errs), 0);
		assert_string_equal(pg.after, ID2);
		assert_int_equal(pg.limit, 200);
		done(&f);

		/* A sequence number is no id cursor; 0 and 201 no limit. */
		parse(&f, "cursor=42&limit=201", keys[k], &pg);
		assert_int_equal(json_array_size(f.errs), 2);
		assert_string_equal(err_field(&f, 0), "cursor");
		assert_string_equal(err_field(&f, 1), "limit");
		assert_string_equal(pg.after, "");
		done(&f);
	}
	json_decref(f.errs);
}

static void
sequence_newest_first(void **state)
{
	struct fake	     f = { 0 };
	struct resource_page pg;
	const char	    *bad[] = { "cursor=0", "cursor=-3", "cursor=abc",
			 ("cursor=" ID1), "cursor=12x", "cursor=99999999999999999999" };
	size_t		     i;

	(void)state;
	parse(&f, "limit=7", PAGE_SEQ_DESC, &pg);
	assert_int_equal(json_array_size(f.errs), 0);
	assert_int_equal(pg.after_seq, 0);
	assert_string_equal(pg.after, "");
	assert_int_equal(pg.limit, 7);
	done(&f);

	parse(&f, "cursor=9223372036854775807", PAGE_SEQ_DESC, &pg);
	assert_int_equal(json_array_size(f.errs), 0);
	assert_int_equal(pg.after_seq, INT64_MAX);
	assert_string_equal(pg.after, "");
	done(&f);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse(&f, bad[i], PAGE_SEQ_DESC, &pg);
		assert_int_equal(json_array_size(f.errs), 1);
		assert_string_equal(err_field(&f, 0), "cursor");
		assert_string_equal(json_string_value(json_object_get(
					json_array_get(f.errs, 0), "code")),
		    "invalid_format");
		assert_int_equal(pg.after_seq, 0);
		done(&f);
	}
	json_decref(f.errs);
}

/* Rows {"id", "seq"} from seq down, n of them. */
static json_t *
rows(int64_t seq, int n)
{
	const char *ids[] = { ID3, ID2, ID1 };
	json_t	   *a = json_array();
	int	    i;

	for (i = 0; i < n; i++)
		json_array_append_new(a,
		    json_pack("{s:s,s:I}", "id", ids[i % 3], "seq",
			(json_int_t)(seq - i)));
	return (a);
}

static void
next_cursor_of_each_key(void **state)
{
	struct resource_page pg;
	json_t		    *page;

	(void)state;
	memset(&pg, 0, sizeof(pg));
	pg.limit = 2;

	/* A row more than the limit: dropped, and the last one's key is
	 * the next cursor. */
	pg.key = PAGE_SEQ_DESC;
	page = resource_page_json(&pg, rows(1234567890123, 3));
	assert_int_equal(json_array_size(json_object_get(page, "data")), 2);
	assert_string_equal(
	    json_string_value(json_object_get(page, "next_cursor")),
	    "1234567890122");
	json_decref(page);

	pg.key = PAGE_ID_DESC;
	page = resource_page_json(&pg, rows(9, 3));
	assert_int_equal(json_array_size(json_object_get(page, "data")), 2);
	assert_string_equal(
	    json_string_value(json_object_get(page, "next_cursor")), ID2);
	json_decref(page);

	pg.key = PAGE_ID;
	page = resource_page_json(&pg, rows(9, 3));
	assert_string_equal(
	    json_string_value(json_object_get(page, "next_cursor")), ID2);
	json_decref(page);

	/* No row more: the last page. */
	pg.key = PAGE_SEQ_DESC;
	page = resource_page_json(&pg, rows(5, 2));
	assert_int_equal(json_array_size(json_object_get(page, "data")), 2);
	assert_true(json_is_null(json_object_get(page, "next_cursor")));
	json_decref(page);
	page = resource_page_json(&pg, json_array());
	assert_true(json_is_null(json_object_get(page, "next_cursor")));
	json_decref(page);
	assert_null(resource_page_json(&pg, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ids_either_way),
		cmocka_unit_test(sequence_newest_first),
		cmocka_unit_test(next_cursor_of_each_key),
	};

	return (cmocka_run_group_tests_name("page", tests, NULL, NULL));
}
