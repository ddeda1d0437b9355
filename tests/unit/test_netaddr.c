/*
 * Unit tests for src/core/netaddr.c: addresses, limit keys, the trusted
 * proxies list, and the client X-Forwarded-For names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/netaddr.h"

static const char *client_of(const char *peer, const char *xff);

static const char *
client_of(const char *peer, const char *xff)
{
	static char    out[NETADDR_TEXT_LEN];
	struct netaddr p, c;

	assert_int_equal(netaddr_parse(peer, strlen(peer), &p), OK);
	netaddr_client(&p, xff, &c);
	netaddr_text(&c, out, sizeof(out));
	return (out);
}

static void
addresses_parse_and_print(void **state)
{
	static const struct {
		const char *in, *text, *key;
	} ok[] = {
		{ "192.0.2.7", "192.0.2.7", "192.0.2.7" },
		{ "  10.1.2.3 ", "10.1.2.3", "10.1.2.3" },
		{ "::ffff:198.51.100.1", "198.51.100.1", "198.51.100.1" },
		{ "2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6",
		    "v6:20010db800010002" },
		{ "::1", "::1", "v6:0000000000000000" },
	};
	static const char *const bad[] = { "", " ", "1.2.3", "1.2.3.4.5",
		"256.1.1.1", "1.2.3.4:80", "[::1]", "example.org", "::g",
		"1.2.3.4/8" };
	struct netaddr		 a;
	char			 text[NETADDR_TEXT_LEN], key[NETADDR_TEXT_LEN];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(
		    netaddr_parse(ok[i].in, strlen(ok[i].in), &a), OK);
		netaddr_text(&a, text, sizeof(text));
		netaddr_key(&a, key, sizeof(key));
		assert_string_equal(text, ok[i].text);
		assert_string_equal(key, ok[i].key);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (netaddr_parse(bad[i], strlen(bad[i]), &a) != ERR_INVALID)
			fail_msg("\"%s\" parsed", bad[i]);
}

static void
proxies_list_is_checked(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(netaddr_proxies_set("", err, sizeof(err)), OK);
	assert_int_equal(netaddr_proxies_set(" 10.0.0.1 , 192.168.0.0/16,"
					     "fd00::/8,0.0.0.0/0",
			     err, sizeof(err)),
	    OK);
	assert_int_equal(
	    netaddr_proxies_set("10.0.0.0/33", err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "10.0.0.0/33"));
	assert_int_equal(
	    netaddr_proxies_set("10.0.0.1,,", err, sizeof(err)), ERR_CONFIG);
	assert_int_equal(
	    netaddr_proxies_set("proxy.local", err, sizeof(err)), ERR_CONFIG);
	assert_int_equal(
	    netaddr_proxies_set("10.0.0.0/x", err, sizeof(err)), ERR_CONFIG);
}

static void
client_is_the_right_most_untrusted_hop(void **state)
{
	char err[256];

	(void)state;
	/* No proxies: the header is never read. */
	assert_int_equal(netaddr_proxies_set("", err, sizeof(err)), OK);
	assert_string_equal(client_of("127.0.0.1", "203.0.113.9"), "127.0.0.1");

	assert_int_equal(netaddr_proxies_set(
			     "127.0.0.1,10.0.0.0/8,fd00::/8", err, sizeof(err)),
	    OK);
	/* An untrusted peer's header is ignored. */
	assert_string_equal(
	    client_of("198.51.100.2", "203.0.113.9"), "198.51.100.2");
	/* A trusted peer: the right-most address that is not a proxy. */
	assert_string_equal(
	    client_of("127.0.0.1", "203.0.113.9"), "203.0.113.9");
	assert_string_equal(
	    client_of("127.0.0.1", "1.1.1.1, 203.0.113.9"), "203.0.113.9");
	assert_string_equal(client_of("127.0.0.1",
				"1.1.1.1, 203.0.113.9, "
				"10.2.3.4,10.9.9.9"),
	    "203.0.113.9");
	assert_string_equal(
	    client_of("127.0.0.1", "2001:db8::5, fd00::1"), "2001:db8::5");
	/* Every hop a proxy: the left-most. */
	assert_string_equal(
	    client_of("127.0.0.1", "10.0.0.7, 10.0.0.8"), "10.0.0.7");
	/* Garbage stops the walk at the last address that was one. */
	assert_string_equal(client_of("127.0.0.1", "unknown"), "127.0.0.1");
	assert_string_equal(
	    client_of("127.0.0.1", "203.0.113.9, 10.0.0.7, junk"), "127.0.0.1");
	assert_string_equal(
	    client_of("127.0.0.1", "junk, 10.0.0.7"), "10.0.0.7");
	assert_string_equal(client_of("127.0.0.1", ""), "127.0.0.1");
	assert_string_equal(client_of("127.0.0.1", NULL), "127.0.0.1");
	assert_int_equal(netaddr_proxies_set("", err, sizeof(err)), OK);
}

/* The request log's address: none, its network (/24, /48) or whole. */
static void
log_text_truncates_to_the_network(void **state)
{
	static const struct {
		const char	*in;
		enum netaddr_log how;
		const char	*out;
	} cases[] = {
		{ "203.0.113.77", NETADDR_LOG_TRUNCATED, "203.0.113.0/24" },
		{ "127.0.0.1", NETADDR_LOG_TRUNCATED, "127.0.0.0/24" },
		{ "2001:db8:1:2:3:4:5:6", NETADDR_LOG_TRUNCATED,
		    "2001:db8:1::/48" },
		{ "2001:db8:abcd:ff00::1", NETADDR_LOG_TRUNCATED,
		    "2001:db8:abcd::/48" },
		{ "::1", NETADDR_LOG_TRUNCATED, "::/48" },
		{ "::ffff:198.51.100.9", NETADDR_LOG_TRUNCATED,
		    "198.51.100.0/24" },
		{ "not an address", NETADDR_LOG_TRUNCATED, "-" },
		{ "", NETADDR_LOG_TRUNCATED, "-" },
		{ "203.0.113.77", NETADDR_LOG_NONE, "-" },
		{ "203.0.113.77", NETADDR_LOG_FULL, "203.0.113.77" },
		{ "2001:db8::6", NETADDR_LOG_FULL, "2001:db8::6" },
		{ "", NETADDR_LOG_FULL, "-" },
	};
	enum netaddr_log how;
	char		 out[NETADDR_TEXT_LEN];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		netaddr_log_text(cases[i].in, cases[i].how, out, sizeof(out));
		assert_string_equal(out, cases[i].out);
	}
	netaddr_log_text(NULL, NETADDR_LOG_FULL, out, sizeof(out));
	assert_string_equal(out, "-");
	assert_int_equal(netaddr_log_parse("none", &how), OK);
	assert_int_equal(how, NETADDR_LOG_NONE);
	assert_int_equal(netaddr_log_parse("truncated", &how), OK);
	assert_int_equal(how, NETADDR_LOG_TRUNCATED);
	assert_int_equal(netaddr_log_parse("full", &how), OK);
	assert_int_equal(how, NETADDR_LOG_FULL);
	assert_int_equal(netaddr_log_parse("partial", &how), ERR_INVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(addresses_parse_and_print),
		cmocka_unit_test(proxies_list_is_checked),
		cmocka_unit_test(client_is_the_right_most_untrusted_hop),
		cmocka_unit_test(log_text_truncates_to_the_network),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
