/*
 * Client addresses: IPv4 and IPv6 addresses, the reverse proxies trusted
 * to name the client (config trusted_proxies), and the client named by
 * X-Forwarded-For.
 *
 * A request's client is its peer, unless the peer is a trusted proxy:
 * then X-Forwarded-For is read from the right (the hop nearest to us),
 * skipping addresses that are trusted proxies themselves, and the first
 * address that is not one is the client. An entry that is not an address
 * stops the walk at the last one that was (a proxy that appends what it
 * saw never writes one; whatever stands left of it is the client's to
 * invent). When every entry is a trusted proxy the left-most is taken.
 */
#ifndef CORE_NETADDR_H
#define CORE_NETADDR_H

#include <stddef.h>

struct sockaddr;

#define NETADDR_PROXIES_MAX 64 /* entries of trusted_proxies */
#define NETADDR_TEXT_LEN    64 /* an address as text, NUL included */

struct netaddr {
	int	      v6; /* 0: IPv4 in a[0..3] */
	unsigned char a[16];
};

/* Parse an address (IPv4, IPv6; an IPv4-mapped IPv6 becomes IPv4) from
 * n bytes of s, blanks around it allowed. OK or ERR_INVALID. */
int netaddr_parse(const char *s, size_t n, struct netaddr *out);
/* From a socket address (AF_INET, AF_INET6). OK or ERR_INVALID. */
int netaddr_from_sockaddr(const struct sockaddr *, struct netaddr *out);
/* As text into out (NETADDR_TEXT_LEN). */
void netaddr_text(const struct netaddr *, char *out, size_t len);
/*
 * The key that limits count a client by: the IPv4 address, or "v6:" and
 * the hex of an IPv6 address's /64 (one host is given a whole /64).
 */
void netaddr_key(const struct netaddr *, char *out, size_t len);

/*
 * How the request log shows a client's address (config log_ip): not at
 * all, truncated to its network (an IPv4 /24, an IPv6 /48: enough to tell
 * where traffic comes from, too little to name one subscriber), or whole.
 */
enum netaddr_log {
	NETADDR_LOG_NONE = 0,
	NETADDR_LOG_TRUNCATED,
	NETADDR_LOG_FULL
};
/* "none", "truncated" or "full"; ERR_INVALID otherwise. */
int netaddr_log_parse(const char *, enum netaddr_log *);
/*
 * The address ip (as text; NULL or "" for none) as the log shows it, into
 * out (NETADDR_TEXT_LEN): "-" for none or one that does not parse,
 * "203.0.113.0/24" and "2001:db8:1::/48" truncated, else ip as it is.
 */
void netaddr_log_text(const char *ip, enum netaddr_log, char *out, size_t len);

/*
 * Set the trusted proxies from a comma-separated list of addresses and
 * CIDR blocks ("10.0.0.1, 192.168.0.0/16, fd00::/8"); empty = none. Call
 * at start-up, before any thread reads them. ERR_CONFIG with one line in
 * err when an entry does not parse.
 */
int netaddr_proxies_set(const char *csv, char *err, size_t errlen);
/* 1 if a is one of the trusted proxies. */
int netaddr_is_proxy(const struct netaddr *);
/*
 * The client of a request from peer carrying X-Forwarded-For xff (NULL
 * or the header's values joined by commas), as described above.
 */
void netaddr_client(
    const struct netaddr *peer, const char *xff, struct netaddr *client);

#endif
