/*
 * Links (resource.h, src/resource/url.c): every declared field that holds
 * a link is a FIELD_URL or FIELD_URL_MAP, and each refuses what a browser
 * would run or send elsewhere.
 *
 * The walk registers every resource of every module (modules_all) and,
 * for each URL field it finds, sends the field's check (the one a create
 * or a PATCH runs) the values a stored javascript: link would come as:
 * other schemes, the scheme in mixed case, behind blanks and control
 * characters; each must be refused with "invalid_url", and an https URL
 * must pass. A field whose name says it is a link but is declared as
 * plain text fails the walk, so a new one cannot slip past the rule.
 * Nothing here names a resource: a URL field added to a declaration is
 * covered as it is.
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
#include "core/log.h"
#include "module.h"
#include "modules.h"
#include "resource/resource.h"
#include "resource/resource_int.h"

/* What must never be stored as a link. */
static const char *const unsafe[] = {
	"javascript:alert(document.cookie)", "JaVaScRiPt:alert(1)",
	" javascript:alert(1)", "\tjavascript:alert(1)",
	"\x01javascript:alert(1)", "java\nscript:alert(1)",
	"javascript\x00:alert(1)", /* cut at the NUL: "javascript" */
	"data:text/html,<script>alert(1)</script>",
	"DATA:text/html;base64,PHNjcmlwdD4=", "vbscript:msgbox(1)",
	"VBScript:msgbox(1)", "file:///etc/passwd", "ftp://example.org/a",
	"//evil.example/x", "/\\evil.example", "https://", "https:///path",
	"https://@example.org/", "https://:80/", "https://a b.org/",
	"https://example.org/\x01", " https://example.org/",
	"https://example.org/\"onmouseover=\"alert(1)", "http:\\\\example.org",
	"example.org", "",
	"https://trusted.example@evil.example/",    /* userinfo */
	"https://trusted.example:x@evil.example/a", /* userinfo */
	"https://exa\xc2\xa0mple.org/",		    /* U+00A0 */
	"https://example.org/\xe2\x80\xa8x",	    /* U+2028 */
	"https://example.org/\xe2\x80\xaegpj.exe",  /* U+202E */
	"https://exa\xe2\x80\x8bmple.org/",	    /* U+200B */
	"https://example.org/\xef\xbb\xbf",	    /* U+FEFF */
	"https://example.org/\xc2\x85",		    /* U+0085, C1 */
	"https://example.org/\xe2\x81\xa6x",	    /* U+2066 */
};

static const char *const safe[] = {
	"https://example.org/a.pdf", "http://example.org",
	"HTTPS://Example.org/x?y=1#z", "https://cdn.example.org:8443/v/1",
	"https://example.org/caf%C3%A9",
	"https://example.org/caf\xc3\xa9",	/* an IRI's UTF-8 */
	"https://example.org/a?who=x@y.org",	/* "@" past the host */
	"https://example.org/\xf0\x9f\x98\x80", /* U+1F600 */
};

/* A name that says the field holds a link (ARCHITECTURE.md, "Links"). */
static int
link_name(const char *name)
{
	static const char *const whole[] = { "url", "uri", "website", "href",
		"src", "link", "links", "logo", "image", "avatar", "icon",
		"thumbnail", "photo", "picture" };
	static const char *const ends[] = { "_url", "_uri", "_link", "_links",
		"_href", "_src", "_logo", "_image", "_avatar", "_icon",
		"_thumbnail", "_photo", "_picture", "_website" };
	size_t			 i, n = strlen(name), m;

	for (i = 0; i < sizeof(whole) / sizeof(whole[0]); i++)
		if (strcmp(name, whole[i]) == 0)
			return (1);
	for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		if (n > (m = strlen(ends[i])) &&
		    strcmp(name + n - m, ends[i]) == 0)
			return (1);
	return (0);
}

static int
setup(void **state)
{
	const struct module *const *modules;
	size_t			    i, j, n;

	(void)state;
	log_set_level(LOG_ERROR);
	modules = modules_all(&n);
	for (i = 0; i < n; i++)
		for (j = 0; j < modules[i]->nresources; j++)
			if (resource_register(modules[i]->resources[j]) != OK)
				return (-1);
	return (0);
}

/* The value f would be sent as: the link itself, or a map holding it. */
static json_t *
as_sent(const struct field *f, const char *link)
{
	if (f->type == FIELD_URL_MAP)
		return (json_pack("{s:s}", "site", link));
	return (json_string(link));
}

/* The entry code f's check gives v ("" when it passes). */
static const char *
check(const struct field *f, json_t *v, char code[32])
{
	json_t *errs = json_array();

	field_check(errs, f, v);
	if (json_array_size(errs) == 0)
		code[0] = '\0';
	else
		snprintf(code, 32, "%s",
		    json_string_value(
			json_object_get(json_array_get(errs, 0), "code")));
	json_decref(errs);
	json_decref(v);
	return (code);
}

static void
every_declared_url_field_refuses_unsafe_links(void **state)
{
	const struct resource *const *all;
	const struct field	     *f;
	char			      code[32];
	size_t			      i, k, u, n, walked = 0, maps = 0;

	(void)state;
	all = resource_all(&n);
	for (i = 0; i < n; i++) {
		for (k = 0; k < all[i]->nfields; k++) {
			f = &all[i]->fields[k];
			if (f->type != FIELD_URL && f->type != FIELD_URL_MAP) {
				if (link_name(f->name))
					fail_msg("%s.%s holds a link but is "
						 "not a FIELD_URL",
					    all[i]->name, f->name);
				continue;
			}
			for (u = 0; u < sizeof(unsafe) / sizeof(unsafe[0]); u++)
				if (strcmp(
					check(f, as_sent(f, unsafe[u]), code),
					"invalid_url") != 0)
					fail_msg("%s.%s: %s answered \"%s\"",
					    all[i]->name, f->name, unsafe[u],
					    code);
			for (u = 0; u < sizeof(safe) / sizeof(safe[0]); u++)
				if (check(f, as_sent(f, safe[u]), code)[0] !=
				    '\0')
					fail_msg("%s.%s: %s refused (%s)",
					    all[i]->name, f->name, safe[u],
					    code);
			walked++;
			maps += f->type == FIELD_URL_MAP;
		}
	}
	/* Therapy resources' url, partners' logo_url, website and
	 * social_links, course materials' file_url at least. */
	assert_true(walked >= 5);
	assert_true(maps >= 1);
}

static void
relative_paths_only_where_declared(void **state)
{
	(void)state;
	assert_true(resource_url_ok("/files/a.pdf", 1));
	assert_true(resource_url_ok("/", 1));
	assert_false(resource_url_ok("/files/a.pdf", 0));
	assert_false(resource_url_ok("//evil.example/a", 1));
	assert_false(resource_url_ok("/\\evil.example", 1));
	assert_false(resource_url_ok("files/a.pdf", 1));
	assert_false(resource_url_ok("javascript:alert(1)", 1));
	assert_false(resource_url_ok(NULL, 1));
}

static void
bounded_in_length(void **state)
{
	char long_url[RESOURCE_URL_MAX + 2];

	(void)state;
	memset(long_url, 'a', sizeof(long_url) - 1);
	long_url[sizeof(long_url) - 1] = '\0';
	memcpy(long_url, "https://", 8);
	assert_false(resource_url_ok(long_url, 0));
	long_url[RESOURCE_URL_MAX] = '\0';
	assert_true(resource_url_ok(long_url, 0));
}

/* A stored link the rule refuses is read as null; a map loses it. */
static void
stored_unsafe_links_are_withheld(void **state)
{
	static const struct field link = { "link", FIELD_URL, FIELD_NULLABLE, 0,
		0, NULL, NULL, NULL, 0, NULL, NULL };
	static const struct field links = { "links", FIELD_URL_MAP, 0, 0, 0,
		NULL, NULL, NULL, 0, NULL, NULL };
	json_t			 *v;

	(void)state;
	v = url_withhold(json_string("javascript:alert(1)"), &link, "t", "id");
	assert_true(json_is_null(v));
	json_decref(v);
	v = url_withhold(json_string("https://example.org/"), &link, "t", "id");
	assert_string_equal(json_string_value(v), "https://example.org/");
	json_decref(v);
	v = url_withhold(json_pack("{s:s,s:s}", "ok", "https://example.org/",
			     "bad", " javascript:alert(1)"),
	    &links, "t", "id");
	assert_int_equal(json_object_size(v), 1);
	assert_non_null(json_object_get(v, "ok"));
	json_decref(v);
}

/* What JSON cannot carry but a row written by other means might: bytes
 * that are not UTF-8 in its shortest form are never a link. */
static void
not_utf8_is_not_a_link(void **state)
{
	static const char *const bad[] = {
		"https://example.org/\xc0\xaf",		/* overlong "/" */
		"https://example.org/\xed\xa0\x80",	/* a surrogate */
		"https://example.org/\xff",		/* not UTF-8 */
		"https://example.org/\xe2\x80",		/* cut short */
		"https://example.org/\xf4\x90\x80\x80", /* past U+10FFFF */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(resource_url_ok(bad[i], 0));
		assert_false(resource_url_ok(bad[i], 1));
	}
	assert_true(resource_url_ok("https://example.org/caf\xc3\xa9", 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_declared_url_field_refuses_unsafe_links),
		cmocka_unit_test(relative_paths_only_where_declared),
		cmocka_unit_test(bounded_in_length),
		cmocka_unit_test(not_utf8_is_not_a_link),
		cmocka_unit_test(stored_unsafe_links_are_withheld),
	};

	return (cmocka_run_group_tests(tests, setup, NULL));
}
