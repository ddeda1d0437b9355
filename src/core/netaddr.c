/*
 * Client addresses and trusted proxies (see netaddr.h).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/netaddr.h"
#include "core/util.h"

struct cidr {
	struct netaddr addr;
	int	       bits;
};

static struct cidr proxies[NETADDR_PROXIES_MAX];
static size_t	   nproxies;

static int cidr_parse(const char *, size_t, struct cidr *);
static int cidr_has(const struct cidr *, const struct netaddr *);

int
netaddr_parse(const char *s, size_t n, struct netaddr *out)
{
	char buf[NETADDR_TEXT_LEN];

	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return (ERR_INVALID);
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->a) == 1)
		return (OK);
	if (inet_pton(AF_INET6, buf, out->a) != 1)
		return (ERR_INVALID);
	out->v6 = 1;
	if (IN6_IS_ADDR_V4MAPPED(
		(const struct in6_addr *)(const void *)out->a)) {
		memmove(out->a, out->a + 12, 4);
		memset(out->a + 4, 0, 12);
		out->v6 = 0;
	}
	return (OK);
}

int
netaddr_from_sockaddr(const struct sockaddr *sa, struct netaddr *out)
{
	const struct sockaddr_in  *s4;
	const struct sockaddr_in6 *s6;

	memset(out, 0, sizeof(*out));
	if (sa == NULL)
		return (ERR_INVALID);
	if (sa->sa_family == AF_INET) {
		s4 = (const struct sockaddr_in *)(const void *)sa;
		memcpy(out->a, &s4->sin_addr, 4);
		return (OK);
	}
	if (sa->sa_family != AF_INET6)
		return (ERR_INVALID);
	s6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		memcpy(out->a, &s6->sin6_addr.s6_addr[12], 4);
	else {
		memcpy(out->a, &s6->sin6_addr, 16);
		out->v6 = 1;
	}
	return (OK);
}

void
netaddr_text(const struct netaddr *a, char *out, size_t len)
{
	if (inet_ntop(a->v6 ? AF_INET6 : AF_INET, a->a, out, (socklen_t)len) ==
		NULL &&
	    len > 0)
		out[0] = '\0';
}

void
netaddr_key(const struct netaddr *a, char *out, size_t len)
{
	char hex[17];

	if (!a->v6) {
		netaddr_text(a, out, len);
		return;
	}
	hex_encode(a->a, 8, hex);
	snprintf(out, len, "v6:%s", hex);
}

int
netaddr_log_parse(const char *s, enum netaddr_log *out)
{
	if (strcmp(s, "none") == 0)
		*out = NETADDR_LOG_NONE;
	else if (strcmp(s, "truncated") == 0)
		*out = NETADDR_LOG_TRUNCATED;
	else if (strcmp(s, "full") == 0)
		*out = NETADDR_LOG_FULL;
	else
		return (ERR_INVALID);
	return (OK);
}

void
netaddr_log_text(const char *ip, enum netaddr_log how, char *out, size_t len)
{
	struct netaddr a;
	char	       net[NETADDR_TEXT_LEN];

	if (len == 0)
		return;
	if (ip == NULL || ip[0] == '\0' || how == NETADDR_LOG_NONE ||
	    (how == NETADDR_LOG_TRUNCATED &&
		netaddr_parse(ip, strlen(ip), &a) != OK)) {
		strlcpy_cb(out, "-", len);
		return;
	}
	if (how == NETADDR_LOG_FULL) {
		strlcpy_cb(out, ip, len);
		return;
	}
	/* The host's bits zeroed: an IPv4 /24, an IPv6 /48. */
	memset(a.a + (a.v6 ? 6 : 3), 0, a.v6 ? 10 : 1);
	netaddr_text(&a, net, sizeof(net));
	snprintf(out, len, "%s/%d", net, a.v6 ? 48 : 24);
}

/* "addr" or "addr/bits". */
static int
cidr_parse(const char *s, size_t n, struct cidr *out)
{
	const char *slash = memchr(s, '/', n);
	int64_t	    bits;
	char	    num[8];
	size_t	    k;

	if (netaddr_parse(
		s, slash != NULL ? (size_t)(slash - s) : n, &out->addr) != OK)
		return (ERR_INVALID);
	out->bits = out->addr.v6 ? 128 : 32;
	if (slash == NULL)
		return (OK);
	k = n - (size_t)(slash - s) - 1;
	while (k > 0 && (slash[k] == ' ' || slash[k] == '\t'))
		k--;
	if (k == 0 || k >= sizeof(num))
		return (ERR_INVALID);
	memcpy(num, slash + 1, k);
	num[k] = '\0';
	if (parse_int64(num, 0, out->bits, &bits) != 0)
		return (ERR_INVALID);
	out->bits = (int)bits;
	return (OK);
}

static int
cidr_has(const struct cidr *c, const struct netaddr *a)
{
	int	      full = c->bits / 8, rest = c->bits % 8;
	unsigned char mask;

	if (c->addr.v6 != a->v6 || memcmp(c->addr.a, a->a, (size_t)full) != 0)
		return (0);
	if (rest == 0)
		return (1);
	mask = (unsigned char)(0xff << (8 - rest));
	return ((c->addr.a[full] & mask) == (a->a[full] & mask));
}

int
netaddr_proxies_set(const char *csv, char *err, size_t errlen)
{
	const char *p = csv, *comma;
	size_t	    n, k = 0;

	nproxies = 0;
	while (p != NULL && *p != '\0') {
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (k == NETADDR_PROXIES_MAX) {
			snprintf(err, errlen,
			    "config: trusted_proxies holds more than %d "
			    "entries",
			    NETADDR_PROXIES_MAX);
			return (ERR_CONFIG);
		}
		if (cidr_parse(p, n, &proxies[k]) != OK) {
			snprintf(err, errlen,
			    "config: trusted_proxies: \"%.*s\" is not an "
			    "address or CIDR block (e.g. 10.0.0.1, "
			    "192.168.0.0/16, fd00::/8)",
			    (int)(n > 64 ? 64 : n), p);
			return (ERR_CONFIG);
		}
		k++;
		p = comma != NULL ? comma + 1 : NULL;
	}
	nproxies = k;
	return (OK);
}

int
netaddr_is_proxy(const struct netaddr *a)
{
	size_t i;

	for (i = 0; i < nproxies; i++)
		if (cidr_has(&proxies[i], a))
			return (1);
	return (0);
}

void
netaddr_client(
    const struct netaddr *peer, const char *xff, struct netaddr *client)
{
	struct netaddr hop;
	const char    *end, *start;

	*client = *peer;
	if (xff == NULL || !netaddr_is_proxy(peer))
		return;
	end = xff + strlen(xff);
	while (end > xff) {
		for (start = end; start > xff && start[-1] != ','; start--)
			;
		if (netaddr_parse(start, (size_t)(end - start), &hop) != OK)
			return; /* not an address: the last good hop */
		*client = hop;
		if (!netaddr_is_proxy(&hop))
			return;
		end = start > xff ? start - 1 : xff;
	}
}
