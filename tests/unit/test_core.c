/* Unit tests for src/core: arena, buf, util, config, err, crypto. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/jsonw.h"
#include "core/util.h"

static void
arena_allocates_aligned_zeroed_and_respects_cap(void **state)
{
	struct arena *a = arena_new(100000);
	char	     *p;
	int	      i;

	assert_non_null(a);
	for (i = 0; i < 1000; i++) {
		p = arena_alloc(a, (size_t)(i % 37) + 1);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		assert_int_equal(p[0], 0);
		memset(p, 0xaa, (size_t)(i % 37) + 1);
	}
	assert_null(arena_alloc(a, 200000)); /* over the cap */
	p = arena_printf(a, "%s-%d", "x", 42);
	assert_string_equal(p, "x-42");
	assert_string_equal(arena_strndup(a, "abcdef", 3), "abc");
	arena_reset(a);
	assert_int_equal(arena_used(a), 0);
	assert_non_null(arena_alloc(a, 50000)); /* a big chunk */
	arena_free(a);
	arena_free(NULL);
}

static void
buf_refuses_growth_past_its_ceiling(void **state)
{
	struct buf b;
	char	  *p;
	size_t	   len;

	buf_init(&b, 10);
	assert_int_equal(buf_puts(&b, "hello"), OK);
	assert_int_equal(buf_printf(&b, "%d", 12345), OK);
	assert_int_equal(b.len, 10);
	assert_int_equal(buf_puts(&b, "x"), ERR_TOO_LARGE);
	assert_string_equal(b.data, "hello12345"); /* unchanged */
	p = buf_take(&b, &len);
	assert_int_equal(len, 10);
	assert_null(b.data);
	free(p);
	buf_free(&b);
}

static void
iso_times_round_trip_and_bad_ones_are_refused(void **state)
{
	static const struct {
		const char *in;
		int	    ok;
		int64_t	    ms;
	} cases[] = {
		{ "1970-01-01T00:00:00Z", 1, 0 },
		{ "2026-11-22T03:05:36.123Z", 1, 1795316736123LL },
		{ "2026-11-22T04:05:36.123+01:00", 1, 1795316736123LL },
		{ "2026-11-22", 1, 1795305600000LL },
		{ "2024-02-29T00:00:00Z", 1, 1709164800000LL },
		{ "2023-02-29T00:00:00Z", 0, 0 },
		{ "2026-13-01T00:00:00Z", 0, 0 },
		{ "2026-11-22T25:00:00Z", 0, 0 },
		{ "2026-11-22T03:05:36", 0, 0 }, /* no zone */
		{ "2026-11-22T03:05:36Zjunk", 0, 0 },
		{ "", 0, 0 },
		{ "26-11-22", 0, 0 },
		/* years 0001 to 9999 in UTC, whatever the offset says */
		{ "9999-12-31T23:59:59.999Z", 1, 253402300799999LL },
		{ "9999-12-31T20:00:00-04:00", 0, 0 },
		{ "9999-12-31T20:00:00-03:59", 1, 253402300740000LL },
		{ "0001-01-01T00:00:00Z", 1, -62135596800000LL },
		{ "0001-01-01T00:30:00+01:00", 0, 0 },
	};
	char	out[ISO_TIME_LEN];
	int64_t ms;
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = time_parse_iso(cases[i].in, &ms);

		if (cases[i].ok) {
			assert_int_equal(rc, 0);
			assert_int_equal(ms, cases[i].ms);
		} else
			assert_int_not_equal(rc, 0);
	}
	assert_string_equal(
	    time_format_iso(1795316736123LL, out), "2026-11-22T03:05:36.123Z");
	assert_string_equal(
	    time_format_iso(-1, out), "1969-12-31T23:59:59.999Z");
}

/* A wait's deadline: ms on from now on the clock asked, its nanoseconds
 * carried into seconds. */
static void
deadlines_are_ms_from_now_on_their_clock(void **state)
{
	const int	clocks[2] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
	const int64_t	ms[3] = { 0, 999, 2500 };
	struct timespec before, at, after;
	int64_t		b, a, d;
	int		c, i;

	(void)state;
	for (c = 0; c < 2; c++)
		for (i = 0; i < 3; i++) {
			clock_gettime(clocks[c], &before);
			time_deadline(&at, clocks[c], ms[i]);
			clock_gettime(clocks[c], &after);
			assert_true(
			    at.tv_nsec >= 0 && at.tv_nsec < 1000000000L);
			b = (int64_t)before.tv_sec * 1000000000 +
			    before.tv_nsec;
			a = (int64_t)after.tv_sec * 1000000000 + after.tv_nsec;
			d = (int64_t)at.tv_sec * 1000000000 + at.tv_nsec;
			assert_true(d >= b + ms[i] * 1000000);
			assert_true(d <= a + ms[i] * 1000000);
		}
}

static void
time_utc_agrees_with_gmtime(void **state)
{
	static const int64_t fixed[] = { 0, -1, 86399, 86400, 951782400,
		951868800, 4107542400LL, -2208988800LL, 253402300799LL,
		1795316736LL, -62135596800LL };
	struct tm	     a, b;
	int64_t		     t;
	int		     k;

	for (k = 0; k < 200000 + (int)(sizeof(fixed) / sizeof(fixed[0])); k++) {
		time_t tt;

		if (k < (int)(sizeof(fixed) / sizeof(fixed[0])))
			t = fixed[k];
		else {
			random_bytes(&t, sizeof(t));
			t %= 400LL * 366 * 86400; /* +-400 years */
		}
		tt = (time_t)t;
		gmtime_r(&tt, &b);
		time_utc(t, &a);
		assert_int_equal(a.tm_year, b.tm_year);
		assert_int_equal(a.tm_mon, b.tm_mon);
		assert_int_equal(a.tm_mday, b.tm_mday);
		assert_int_equal(a.tm_hour, b.tm_hour);
		assert_int_equal(a.tm_min, b.tm_min);
		assert_int_equal(a.tm_sec, b.tm_sec);
		assert_int_equal(a.tm_wday, b.tm_wday);
		assert_int_equal(a.tm_yday, b.tm_yday);
	}
}

/*
 * London's offset at the changes (fixed), then every hour from 1996 to
 * 2040 against the system's time zone database when it has Europe/London;
 * each London day starts where the day before ends.
 */
static void
london_time_follows_the_uk_rule(void **state)
{
	static const struct {
		const char *at;
		int64_t	    offset;
	} fixed[] = {
		{ "2026-03-29T00:59:59.999Z", 0 },
		{ "2026-03-29T01:00:00Z", 3600000 },
		{ "2026-10-25T00:59:59.999Z", 3600000 },
		{ "2026-10-25T01:00:00Z", 0 },
		{ "2030-07-15T23:00:00Z", 3600000 },
		{ "2031-01-15T23:59:00Z", 0 },
		{ "1970-01-01T00:00:00Z", 0 },
	};
	static const struct {
		const char *day, *start;
	} starts[] = {
		{ "2030-07-16", "2030-07-15T23:00:00Z" },
		{ "2031-01-16", "2031-01-16T00:00:00Z" },
		{ "2026-03-29", "2026-03-29T00:00:00Z" }, /* changes at 01:00 */
		{ "2026-03-30", "2026-03-29T23:00:00Z" },
		{ "2026-10-25", "2026-10-24T23:00:00Z" },
		{ "2026-10-26", "2026-10-26T00:00:00Z" },
	};
	struct tm tm;
	int64_t	  ms, day, want;
	time_t	  t;
	size_t	  i;
	int	  have_tz;

	(void)state;
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		assert_int_equal(time_parse_iso(fixed[i].at, &ms), 0);
		if (time_london_offset_ms(ms) != fixed[i].offset)
			fail_msg("%s: offset %lld", fixed[i].at,
			    (long long)time_london_offset_ms(ms));
	}
	for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		assert_int_equal(time_parse_iso(starts[i].day, &day), 0);
		assert_int_equal(time_parse_iso(starts[i].start, &want), 0);
		day /= TIME_DAY_MS;
		assert_int_equal(time_london_day_start(day), want);
		assert_int_equal(time_london_day(want), day);
		assert_int_equal(time_london_day(want - 1), day - 1);
	}
	have_tz = access("/usr/share/zoneinfo/Europe/London", R_OK) == 0;
	if (have_tz) {
		setenv("TZ", "Europe/London", 1);
		tzset();
	}
	assert_int_equal(time_parse_iso("1996-01-01", &ms), 0);
	for (; have_tz && ms < 2208988800000LL; ms += 3600000) {
		t = (time_t)(ms / 1000);
		localtime_r(&t, &tm);
		if (time_london_offset_ms(ms) != tm.tm_gmtoff * 1000)
			fail_msg("at %lld: %lld, the tz database says %ld",
			    (long long)ms, (long long)time_london_offset_ms(ms),
			    (long)tm.tm_gmtoff);
		if (ms % TIME_DAY_MS == 0) {
			day = ms / TIME_DAY_MS;
			assert_int_equal(
			    time_london_day(time_london_day_start(day + 1) - 1),
			    day);
		}
	}
	if (have_tz) {
		unsetenv("TZ");
		tzset();
	}
}

static void
uuid_v7_is_valid_and_time_ordered(void **state)
{
	char a[UUID_STR_LEN], b[UUID_STR_LEN];

	uuid_v7(a);
	usleep(2000);
	uuid_v7(b);
	assert_true(uuid_valid(a));
	assert_int_equal(a[14], '7');
	assert_true(strchr("89ab", a[19]) != NULL);
	assert_true(strcmp(a, b) < 0);
	assert_false(uuid_valid("not-a-uuid"));
	assert_false(uuid_valid("0193a000-0000-7000-8000-00000000000"));
	assert_false(uuid_valid("0193a000-0000-7000-8000-0000000000000"));
}

static void
parse_int64_is_strict(void **state)
{
	int64_t v;

	assert_int_equal(parse_int64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_not_equal(parse_int64("42x", 0, 100, &v), 0);
	assert_int_not_equal(parse_int64(" 42", 0, 100, &v), 0);
	assert_int_not_equal(parse_int64("101", 0, 100, &v), 0);
	assert_int_not_equal(parse_int64("", 0, 100, &v), 0);
	assert_int_not_equal(
	    parse_int64("99999999999999999999", INT64_MIN, INT64_MAX, &v), 0);
}

static void
hex_round_trips(void **state)
{
	unsigned char in[4] = { 0x00, 0xff, 0x10, 0xab }, out[4];
	char	      hex[9];
	size_t	      n;

	assert_string_equal(hex_encode(in, 4, hex), "00ff10ab");
	assert_int_equal(hex_decode(hex, out, sizeof(out), &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(in, out, 4);
	assert_int_not_equal(hex_decode("0g", out, sizeof(out), &n), 0);
	assert_int_not_equal(hex_decode("abc", out, sizeof(out), &n), 0);
}

static void
config_reads_env_then_flags_and_refuses_bad_values(void **state)
{
	char  err[256];
	char *argv[] = { "--port=9000", "serve", "--log-level=debug" };
	char *bad[] = { "--port=70000" };

	setenv("CAREBASE_PORT", "8081", 1);
	setenv("CAREBASE_THREADS", "3", 1);
	assert_int_equal(config_load(3, argv, err, sizeof(err)), OK);
	assert_int_equal(config.port, 9000); /* flag wins */
	assert_int_equal(config.threads, 3); /* env */
	assert_string_equal(config.log_level, "debug");
	assert_int_equal(config.pool_min, 2); /* default */
	assert_int_equal(config.pool_max, 10);
	assert_int_equal(config_load(1, bad, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "port"));
	setenv("CAREBASE_LOG_LEVEL", "loud", 1);
	assert_int_equal(config_load(0, NULL, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "log_level"));
	unsetenv("CAREBASE_LOG_LEVEL");
	setenv("DATABASE_URL", "mysql://x", 1);
	assert_int_equal(config_load(0, NULL, err, sizeof(err)), ERR_CONFIG);
	unsetenv("DATABASE_URL");
	setenv("CAREBASE_POOL_MIN", "20", 1);
	assert_int_equal(config_load(0, NULL, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "pool_min"));
	unsetenv("CAREBASE_POOL_MIN");
	setenv("CAREBASE_CONSENT_AGES", "GB:13,DE:16", 1);
	assert_int_equal(config_load(0, NULL, err, sizeof(err)), OK);
	setenv("CAREBASE_CONSENT_AGES", "GB:11", 1);
	assert_int_equal(config_load(0, NULL, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "consent_ages"));
	setenv("CAREBASE_CONSENT_AGES", "gb:13", 1);
	assert_int_equal(config_load(0, NULL, err, sizeof(err)), ERR_CONFIG);
	setenv("CAREBASE_CONSENT_AGES", "GB:13,", 1);
	assert_int_equal(config_load(0, NULL, err, sizeof(err)), ERR_CONFIG);
	unsetenv("CAREBASE_CONSENT_AGES");
	unsetenv("CAREBASE_PORT");
	unsetenv("CAREBASE_THREADS");
	assert_true(config_has("body-limit", 10));
	assert_false(config_has("no-such", 7));
	config_free();
}

static void
err_table_maps_statuses(void **state)
{
	assert_int_equal(err_http_status(OK), 200);
	assert_int_equal(err_http_status(ERR_NOT_FOUND), 404);
	assert_int_equal(err_http_status(ERR_TOO_LARGE), 413);
	assert_int_equal(err_http_status(ERR_DB), 500);
	assert_int_equal(err_http_status(9999), 500);
	assert_string_equal(err_code(ERR_RATE_LIMIT), "RATE_LIMITED");
	assert_string_equal(err_code(ERR_DB), "INTERNAL"); /* no leak */
}

static void
sealed_values_open_only_with_their_key_and_place(void **state)
{
	unsigned char key[SEAL_KEY_LEN], other[SEAL_KEY_LEN];
	unsigned char sealed[64 + SEAL_OVERHEAD];
	char	      plain[64];
	size_t	      n;
	const char   *msg = "ada@example.org";

	random_bytes(key, sizeof(key));
	random_bytes(other, sizeof(other));
	crypto_seal(key, "users.email:1", msg, strlen(msg), sealed);
	assert_null(memmem(sealed, strlen(msg) + SEAL_OVERHEAD, "ada", 3));
	assert_int_equal(crypto_open(key, "users.email:1", sealed,
			     strlen(msg) + SEAL_OVERHEAD, plain, &n),
	    OK);
	assert_int_equal(n, strlen(msg));
	assert_memory_equal(plain, msg, n);
	assert_int_equal(crypto_open(other, "users.email:1", sealed,
			     strlen(msg) + SEAL_OVERHEAD, plain, &n),
	    ERR_INVALID);
	assert_int_equal(crypto_open(key, "users.email:2", sealed,
			     strlen(msg) + SEAL_OVERHEAD, plain, &n),
	    ERR_INVALID);
	sealed[30] ^= 1;
	assert_int_equal(crypto_open(key, "users.email:1", sealed,
			     strlen(msg) + SEAL_OVERHEAD, plain, &n),
	    ERR_INVALID);
	assert_int_equal(
	    crypto_open(key, "x", sealed, 10, plain, &n), ERR_INVALID);
}

static void
tokens_are_random_and_only_hashes_compare(void **state)
{
	char t1[TOKEN_LEN], t2[TOKEN_LEN], h1[TOKEN_HASH_LEN],
	    h2[TOKEN_HASH_LEN];
	unsigned char key[SEAL_KEY_LEN] = { 1 };
	char	      b1[65], b2[65];

	crypto_token_new(t1);
	crypto_token_new(t2);
	assert_int_equal(strlen(t1), 43);
	assert_string_not_equal(t1, t2);
	crypto_token_hash(t1, h1);
	crypto_token_hash(t1, h2);
	assert_string_equal(h1, h2);
	assert_int_equal(strlen(h1), 64);
	crypto_blind_index(key, "a@example.org", b1);
	crypto_blind_index(key, "b@example.org", b2);
	assert_string_not_equal(b1, b2);
	assert_true(crypto_equal(h1, h2, 64));
}

static void
master_key_is_generated_private_and_reloaded(void **state)
{
	char	      dir[] = "/tmp/carebase-key.XXXXXX", path[128], err[256];
	unsigned char k1[MASTER_KEY_LEN], k2[MASTER_KEY_LEN];
	struct stat   sb;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/master.key", dir);
	assert_int_equal(crypto_master_key_load(path, 0, k1, err, sizeof(err)),
	    ERR_CONFIG); /* production: required */
	assert_int_equal(
	    crypto_master_key_load(path, 1, k1, err, sizeof(err)), OK);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(sb.st_size, 65);
	assert_int_equal(
	    crypto_master_key_load(path, 0, k2, err, sizeof(err)), OK);
	assert_memory_equal(k1, k2, MASTER_KEY_LEN);
	chmod(path, 0644);
	assert_int_equal(crypto_master_key_load(path, 0, k2, err, sizeof(err)),
	    ERR_CONFIG); /* too open */
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

static void
passwords_hash_with_argon2id_and_verify(void **state)
{
	char h[PASSWORD_HASH_LEN];

	assert_int_equal(crypto_password_hash("correct horse battery", h), OK);
	assert_non_null(strstr(h, "$argon2id$"));
	assert_int_equal(
	    crypto_password_verify(h, "correct horse battery"), OK);
	assert_int_equal(crypto_password_verify(h, "correct horse batterY"),
	    ERR_UNAUTHORIZED);
	assert_false(crypto_password_needs_rehash(h));
}

/* jsonw_compact writes exactly what json_dumps(JSON_COMPACT) writes. */
static void
jsonw_same(json_t *v)
{
	struct buf b;
	char	  *want;

	buf_init(&b, 1 << 20);
	want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	assert_non_null(want);
	assert_int_equal(jsonw_compact(&b, v), OK);
	assert_string_equal(b.data, want);
	free(want);
	buf_free(&b);
	json_decref(v);
}

static json_t *
jsonw_random(unsigned *seed, int depth)
{
	static const char *const pieces[] = {
		"a",
		"\"",
		"\\",
		"\n",
		"\t",
		"\x01",
		"\x1f",
		"\x7f",
		"/",
		"\xc3\xa9",
		"\xe2\x82\xac",
		"\xf0\x9f\x98\x80",
		"\xe2\x80\xa8",
		" ",
		"\b\f\r",
	};
	static const double reals[] = {
		0.0,
		-0.0,
		1.0,
		0.1,
		1e20,
		1e-5,
		123456789012345678.0,
		1.5e300,
		-2.5e-300,
		3.14159,
		1e22,
		100.0,
	};
	json_t *v;
	char	s[64];
	int	i, n, kind;

	kind = rand_r(seed) % (depth > 4 ? 6 : 8);
	switch (kind) {
	case 0:
		return (json_null());
	case 1:
		return (json_boolean(rand_r(seed) & 1));
	case 2:
		return (json_integer((json_int_t)rand_r(seed) *
		    (rand_r(seed) & 1 ? -1 : 1) * (json_int_t)rand_r(seed)));
	case 3:
		return (json_real(
		    reals[rand_r(seed) % 12] * (1 + rand_r(seed) % 7)));
	case 4:
	case 5:
		s[0] = '\0';
		n = rand_r(seed) % 6;
		for (i = 0; i < n; i++)
			strncat(s, pieces[rand_r(seed) % 15],
			    sizeof(s) - strlen(s) - 1);
		return (json_string(s));
	case 6:
		v = json_array();
		n = rand_r(seed) % 4;
		for (i = 0; i < n; i++)
			json_array_append_new(v, jsonw_random(seed, depth + 1));
		return (v);
	default:
		v = json_object();
		n = rand_r(seed) % 4;
		for (i = 0; i < n; i++) {
			snprintf(s, sizeof(s), "k%d\xc3\xa9\"%d", i,
			    rand_r(seed) % 100);
			json_object_set_new(
			    v, s, jsonw_random(seed, depth + 1));
		}
		return (v);
	}
}

static void
jsonw_matches_jansson_compact_dump(void **state)
{
	struct buf b;
	json_t	  *deep, *v;
	unsigned   seed = 12345;
	int	   i;

	jsonw_same(json_object());
	jsonw_same(json_array());
	jsonw_same(json_string(""));
	jsonw_same(json_integer(INT64_MIN));
	jsonw_same(json_integer(INT64_MAX));
	jsonw_same(json_real(1.7976931348623157e308));
	jsonw_same(json_real(2.0));
	jsonw_same(json_real(-1.25e-7));
	jsonw_same(json_pack(
	    "{s:s, s:[i, b, n], s:{}}", "z", "caf\xc3\xa9\n", "a", 1, 1, "b"));
	for (i = 0; i < 2000; i++)
		jsonw_same(jsonw_random(&seed, 0));

	/* Invalid UTF-8 is refused, and the buffer left as it was. */
	buf_init(&b, 1 << 20);
	buf_append(&b, "x", 1);
	v = json_pack("[s, s]", "ok", "ok");
	json_array_append_new(v, json_stringn_nocheck("\xc3\x28", 2));
	assert_int_equal(jsonw_compact(&b, v), ERR_MALFORMED);
	assert_int_equal(b.len, 1);
	json_decref(v);
	v = json_stringn_nocheck("\xed\xa0\x80", 3); /* a surrogate */
	assert_int_equal(jsonw_compact(&b, v), ERR_MALFORMED);
	json_decref(v);
	v = json_stringn_nocheck("\xe0\x80\xaf", 3); /* overlong */
	assert_int_equal(jsonw_compact(&b, v), ERR_MALFORMED);
	json_decref(v);
	/* Nesting is bounded. */
	deep = json_array();
	for (i = 0, v = deep; i < JSONW_MAX_DEPTH + 5; i++) {
		json_array_append_new(v, json_array());
		v = json_array_get(v, 0);
	}
	assert_int_equal(jsonw_compact(&b, deep), ERR_MALFORMED);
	json_decref(deep);
	/* The ceiling holds. */
	b.max = 8;
	v = json_string("longer than eight");
	assert_int_equal(jsonw_compact(&b, v), ERR_TOO_LARGE);
	assert_int_equal(b.len, 1);
	json_decref(v);
	buf_free(&b);
}

/* A cut falls between characters, never inside one. */
static void
utf8_copy_and_cut_keep_whole_characters(void **state)
{
	char d[6], s[16];

	(void)state;
	utf8_copy(d, sizeof(d), "ab\xc4\x85\xc4\x85"); /* "abąą", 6 bytes */
	assert_string_equal(d, "ab\xc4\x85");	       /* not "abą" + half */
	utf8_copy(d, sizeof(d), "abcdefg");
	assert_string_equal(d, "abcde");
	utf8_copy(d, sizeof(d), "abc");
	assert_string_equal(d, "abc");
	utf8_copy(d, sizeof(d), "\xe2\x82\xac\xe2\x82\xac"); /* "€€" */
	assert_string_equal(d, "\xe2\x82\xac");
	strcpy(s, "a\xc4\x85\xc4\x85");
	utf8_cut(s, 4);
	assert_string_equal(s, "a\xc4\x85");
	utf8_cut(s, 3);
	assert_string_equal(s, "a\xc4\x85");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(utf8_copy_and_cut_keep_whole_characters),
		cmocka_unit_test(
		    arena_allocates_aligned_zeroed_and_respects_cap),
		cmocka_unit_test(buf_refuses_growth_past_its_ceiling),
		cmocka_unit_test(jsonw_matches_jansson_compact_dump),
		cmocka_unit_test(iso_times_round_trip_and_bad_ones_are_refused),
		cmocka_unit_test(deadlines_are_ms_from_now_on_their_clock),
		cmocka_unit_test(time_utc_agrees_with_gmtime),
		cmocka_unit_test(london_time_follows_the_uk_rule),
		cmocka_unit_test(uuid_v7_is_valid_and_time_ordered),
		cmocka_unit_test(parse_int64_is_strict),
		cmocka_unit_test(hex_round_trips),
		cmocka_unit_test(
		    config_reads_env_then_flags_and_refuses_bad_values),
		cmocka_unit_test(err_table_maps_statuses),
		cmocka_unit_test(
		    sealed_values_open_only_with_their_key_and_place),
		cmocka_unit_test(tokens_are_random_and_only_hashes_compare),
		cmocka_unit_test(master_key_is_generated_private_and_reloaded),
		cmocka_unit_test(passwords_hash_with_argon2id_and_verify),
	};

	if (crypto_init() != OK)
		return (1);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
