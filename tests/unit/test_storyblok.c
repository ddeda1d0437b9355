/*
 * The CMS webhook's checks (src/learning/storyblok_check.c) at their
 * edges: the payload's action, ids and bounds, and the fetched story's
 * kind, uuid, lists and the fields each kind needs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/err.h"
#include "learning/learning_int.h"
#include "ops/inbox.h"

static void
test_payload(void **state)
{
	static const struct {
		const char *body;
		int	    rc;
		const char *status; /* when OK */
		size_t	    nerrs;
	} cases[] = {
		{ "{\"action\":\"published\",\"story_id\":1}", OK, "published",
		    0 },
		{ "{\"action\":\"moved\",\"story_id\":9007199254740991,"
		  "\"space_id\":null,\"text\":\"\",\"unknown\":{}}",
		    OK, "published", 0 },
		{ "{\"action\":\"deleted\",\"story_id\":5,\"full_slug\":"
		  "\"a/b-c_d\"}",
		    OK, "deleted", 0 },
		{ "{\"action\":\"unpublished\",\"story_id\":5}", OK,
		    "unpublished", 0 },
		{ "[]", ERR_MALFORMED, NULL, 0 },
		{ "{\"action\":\"published\",\"story_id\":1", ERR_MALFORMED,
		    NULL, 0 },
		{ "{\"action\":\"published\",\"story_id\":9007199254740992}",
		    ERR_INVALID, NULL, 1 },
		{ "{\"action\":\"published\",\"story_id\":0}", ERR_INVALID,
		    NULL, 1 },
		{ "{\"action\":\"Published\",\"story_id\":\"1\"}", ERR_INVALID,
		    NULL, 2 },
		{ "{\"story_id\":1,\"space_id\":-1,\"full_slug\":\"a b\"}",
		    ERR_INVALID, NULL, 3 },
	};
	struct inbox_result r;
	json_t		   *w;
	size_t		    i;
	int		    rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&r, 0, sizeof(r));
		rc = learning_storyblok_payload(
		    cases[i].body, strlen(cases[i].body), &w, &r);
		if (rc != cases[i].rc ||
		    json_array_size(r.errors) != cases[i].nerrs)
			fail_msg("case %zu gave %d (%s)", i, rc, r.error);
		if (rc == OK)
			assert_string_equal(
			    json_string_value(json_object_get(w, "status")),
			    cases[i].status);
		else
			assert_null(w);
		json_decref(r.errors);
		json_decref(w);
	}
}

static void
test_story(void **state)
{
	static const struct {
		const char *story;
		int	    rc;
		const char *kind; /* when OK */
	} cases[] = {
		{ "{\"id\":7,\"uuid\":\"0190F2A4-1111-7000-8000-00000000000A\","
		  "\"name\":\"C\",\"full_slug\":\"c\",\"tag_list\":[\"a\","
		  "\"A\"],\"content\":{\"component\":\"Course\","
		  "\"included_for_partners\":[\"Bloom\",\"bloom\"]}}",
		    OK, "course" },
		{ "{\"id\":7,\"uuid\":\"0190f2a4-1111-7000-8000-00000000000b\","
		  "\"name\":\"S\",\"full_slug\":\"c/s\",\"content\":"
		  "{\"component\":\"session\",\"course\":"
		  "\"0190f2a4-1111-7000-8000-00000000000a\"}}",
		    OK, "session" },
		{ "{\"id\":7,\"uuid\":\"0190f2a4-1111-7000-8000-00000000000b\","
		  "\"content\":{\"component\":\"page\"}}",
		    OK, "other" },
		{ "{\"id\":8,\"uuid\":\"0190f2a4-1111-7000-8000-00000000000b\","
		  "\"content\":{\"component\":\"page\"}}",
		    ERR_INVALID, NULL },
		{ "{\"id\":7,\"uuid\":\"nope\",\"content\":{\"component\":"
		  "\"page\"}}",
		    ERR_INVALID, NULL },
		{ "{\"id\":7,\"uuid\":\"0190f2a4-1111-7000-8000-00000000000b\","
		  "\"name\":\"S\",\"full_slug\":\"c/s\",\"content\":"
		  "{\"component\":\"session\"}}",
		    ERR_INVALID, NULL },
		{ "{\"id\":7,\"uuid\":\"0190f2a4-1111-7000-8000-00000000000b\","
		  "\"full_slug\":\"c\",\"content\":{\"component\":\"course\"}}",
		    ERR_INVALID, NULL },
		{ "{\"id\":7,\"uuid\":\"0190f2a4-1111-7000-8000-00000000000b\","
		  "\"name\":\"C\",\"full_slug\":\"c\",\"content\":{"
		  "\"component\":"
		  "\"course\",\"themes\":[\"\"]}}",
		    ERR_INVALID, NULL },
		/* content.live: a boolean, or null or left out (not live) */
		{ "{\"id\":7,\"uuid\":\"0190f2a4-1111-7000-8000-00000000000c\","
		  "\"name\":\"L\",\"full_slug\":\"l\",\"content\":{"
		  "\"component\":\"Course\",\"live\":true}}",
		    OK, "course" },
		{ "{\"id\":7,\"uuid\":\"0190f2a4-1111-7000-8000-00000000000c\","
		  "\"name\":\"L\",\"full_slug\":\"l\",\"content\":{"
		  "\"component\":\"Course\",\"live\":null}}",
		    OK, "course" },
		{ "{\"id\":7,\"uuid\":\"0190f2a4-1111-7000-8000-00000000000c\","
		  "\"name\":\"L\",\"full_slug\":\"l\",\"content\":{"
		  "\"component\":\"Course\",\"live\":\"yes\"}}",
		    ERR_INVALID, NULL },
	};
	struct inbox_result r;
	json_t		   *s, *w;
	size_t		    i;
	int		    rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = json_loads(cases[i].story, 0, NULL);
		assert_non_null(s);
		w = json_pack("{s:i}", "story_id", 7);
		memset(&r, 0, sizeof(r));
		rc = learning_storyblok_story(s, w, &r);
		if (rc != cases[i].rc)
			fail_msg("case %zu gave %d (%s)", i, rc, r.error);
		if (rc == OK)
			assert_string_equal(
			    json_string_value(json_object_get(w, "kind")),
			    cases[i].kind);
		else {
			assert_string_equal(r.code, "STORY_INVALID");
			assert_true(json_array_size(r.errors) > 0);
		}
		if (i == 0) {
			/* lower-cased uuid; lists without case duplicates */
			assert_string_equal(
			    json_string_value(json_object_get(w, "uuid")),
			    "0190f2a4-1111-7000-8000-00000000000a");
			assert_int_equal(
			    json_array_size(json_object_get(w, "partners")), 1);
			assert_int_equal(
			    json_array_size(json_object_get(w, "themes")), 1);
		}
		if (i == 0 || i == 9)
			assert_true(json_is_false(json_object_get(w, "live")));
		if (i == 8)
			assert_true(json_is_true(json_object_get(w, "live")));
		json_decref(r.errors);
		json_decref(w);
		json_decref(s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_payload),
		cmocka_unit_test(test_story),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
