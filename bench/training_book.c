/*
 * The load generator of bench/training_book: CONNS keep-alive HTTP/1.1
 * connections, each one doing, over and over,
 *
 *	POST /v1/training-bookings              a hold of one seat, as a learner
 *	POST /v1/training-bookings/{id}/confirm staff confirm the booking the
 *	                                        hold's Location header names
 *
 * until BOOKINGS holds have been answered 201 and confirmed. wrk cannot
 * say which connection a response came in on (its Lua response() has no
 * connection), so it cannot pair a confirm with its own hold, nor keep
 * the two requests' latencies apart; this does both, on one thread with
 * epoll (about 5 % of a core at 1,500 requests/s: not the bottleneck).
 *
 * Which schedule a hold books (-m):
 *   spread  64 schedules at a time, hold n on schedule n mod 64 of the
 *           current group; a group of 64 gets SEATS holds each, then the
 *           next group: concurrent holds lock different schedules.
 *   hot     hold n on schedule n / SEATS: every connection books the one
 *           schedule being filled (and the next, as it fills).
 *   one     every hold on the current schedule until SEATS holds of it
 *           are answered 201, then the next: the in-flight holds that
 *           find it full are answered 409 SCHEDULE_FULL (the full path,
 *           timed apart).
 * A schedule never gets more than SEATS holds in spread and hot, so none
 * is refused as full there. The learner of a hold is (schedule * 13 +
 * holds of that schedule so far) mod LEARNERS: no learner books a
 * schedule twice (one live booking a person a schedule).
 *
 * Usage: training_book -m MODE -n BOOKINGS -s SEATS -p PORT[,PORT...]
 *            -S SCHEDULES_FILE -L LEARNERS_FILE -a ADMIN_TOKEN [-c CONNS]
 * SCHEDULES_FILE: a schedule id a line; LEARNERS_FILE: "token email" a
 * line. Connection i goes to PORT i mod the ports given.
 *
 * Prints one line of name=value figures (latencies in ms; pairs_per_s is
 * confirmed bookings over the wall time from the first request sent to
 * the last answer), and on standard error a line for each kind of
 * unexpected answer. Exit status 0 even with refusals: the caller reads
 * the counts and asserts nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNS_MAX  1024
#define GROUP	   64 /* schedules a group, in spread mode */
#define OUT_MAX	   2048
#define IN_MAX	   65536
#define ID_LEN	   36
#define TOKEN_MAX  128
#define EMAIL_MAX  128
#define STALL_S	   60 /* no answer at all for this long: give up */
#define ERRS_MAX   32 /* kinds of unexpected answer kept apart */
#define LOCATION   "\r\nlocation: /v1/training-bookings/"
#define CONTENTLEN "\r\ncontent-length:"

enum mode { SPREAD, HOT, ONE };
enum kind { HOLD, CONFIRM };

struct learner {
	char token[TOKEN_MAX];
	char email[EMAIL_MAX];
};

struct conn {
	int    fd;
	int    port;
	int    busy;  /* a request is out */
	int    kind;  /* of the request out */
	int    sched; /* a hold's schedule */
	char   out[OUT_MAX];
	size_t outlen, outoff;
	char   in[IN_MAX];
	size_t inlen;
	double t0;
};

/* Latencies (ms) of one kind of answer. */
struct lat {
	double *v;
	size_t	n, cap;
};

struct errkind {
	int  kind, status;
	char code[48];
	long n;
};

static enum mode       mode;
static long	       bookings, issued, holds_ok, pairs, holds_full;
static int	       seats = 12, nconns = 64, nports, ports[16];
static char	     **scheds;
static int	       nsched, current, *sched_holds, *sched_ok;
static struct learner *learners;
static int	       nlearners;
static const char     *admin;
static struct lat      lat_hold, lat_confirm, lat_full;
static struct errkind  errs[ERRS_MAX];
static int	       nerrs;
static long	       nerrors, overbooked;
static int	       pool_out; /* the schedules ran out */

static double	   now_ms(void);
static void	   die(const char *);
static char	 **read_lines(const char *, int *);
static void	   lat_add(struct lat *, double);
static double	   lat_pct(struct lat *, double);
static int	   cmp_double(const void *, const void *);
static int	   conn_open(struct conn *, int);
static int	   next_request(struct conn *);
static int	   send_some(struct conn *, int epfd);
static int	   answer(struct conn *);
static void	   err_count(int kind, int status, const char *body);
static int	   reopen(struct conn *, int epfd);
static const char *find_ci(const char *, size_t, const char *);

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6);
}

static void
die(const char *msg)
{
	fprintf(stderr, "training_book: %s\n", msg);
	exit(1);
}

static char **
read_lines(const char *path, int *n)
{
	FILE  *f;
	char **v = NULL, line[512];
	int    cap = 0;
	size_t len;

	if ((f = fopen(path, "r")) == NULL)
		die("cannot open an input file");
	*n = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		len = strcspn(line, "\r\n");
		line[len] = '\0';
		if (len == 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((v = realloc(v, (size_t)cap * sizeof(*v))) == NULL)
				die("out of memory");
		}
		if ((v[(*n)++] = strdup(line)) == NULL)
			die("out of memory");
	}
	fclose(f);
	return (v);
}

static void
lat_add(struct lat *l, double ms)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4096;
		if ((l->v = realloc(l->v, l->cap * sizeof(double))) == NULL)
			die("out of memory");
	}
	l->v[l->n++] = ms;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return ((x > y) - (x < y));
}

/* The p-th percentile (nearest rank), or -1 without samples. */
static double
lat_pct(struct lat *l, double p)
{
	size_t k;

	if (l->n == 0)
		return (-1);
	qsort(l->v, l->n, sizeof(double), cmp_double);
	k = (size_t)(p / 100.0 * (double)l->n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > l->n)
		k = l->n;
	return (l->v[k - 1]);
}

/* needle (lower case) in s[0..n), case-insensitively, or NULL. */
static const char *
find_ci(const char *s, size_t n, const char *needle)
{
	size_t m = strlen(needle), i;

	for (i = 0; i + m <= n; i++)
		if (strncasecmp(s + i, needle, m) == 0)
			return (s + i);
	return (NULL);
}

static int
conn_open(struct conn *c, int port)
{
	struct sockaddr_in sa;
	int		   one = 1;

	memset(c, 0, sizeof(*c));
	c->port = port;
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return (-1);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return (-1);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return (0);
}

/* The schedule of the next hold, or -1 when no hold is to be sent. */
static int
next_schedule(void)
{
	long g, r;
	int  s;

	switch (mode) {
	case SPREAD:
		if (issued >= bookings)
			return (-1);
		g = issued / ((long)GROUP * seats);
		r = issued % ((long)GROUP * seats);
		s = (int)(g * GROUP + r % GROUP);
		break;
	case HOT:
		if (issued >= bookings)
			return (-1);
		s = (int)(issued / seats);
		break;
	default:
		if (holds_ok >= bookings)
			return (-1);
		s = current;
		break;
	}
	if (s >= nsched) {
		pool_out = 1;
		return (-1);
	}
	if (sched_holds[s] >= nlearners) {
		pool_out = 1; /* no learner left who has not booked it */
		return (-1);
	}
	return (s);
}

/* Fill c->out with a new hold (and c->sched with its schedule). 0: no
 * hold is left to send. */
static int
next_request(struct conn *c)
{
	const struct learner *l;
	char		      body[512];
	int		      s, n, blen;

	if ((s = next_schedule()) < 0)
		return (0);
	l = &learners[(s * 13 + sched_holds[s]) % nlearners];
	sched_holds[s]++;
	issued++;
	blen = snprintf(body, sizeof(body),
	    "{\"schedule_id\":\"%s\",\"attendees\":[{\"name\":\"Bench "
	    "Learner\",\"email\":\"%s\"}]}",
	    scheds[s], l->email);
	n = snprintf(c->out, sizeof(c->out),
	    "POST /v1/training-bookings HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %d\r\n\r\n%s",
	    c->port, l->token, blen, body);
	if (n <= 0 || (size_t)n >= sizeof(c->out))
		die("request too long");
	c->outlen = (size_t)n;
	c->kind = HOLD;
	c->sched = s;
	return (1);
}

static void
confirm_request(struct conn *c, const char *id)
{
	int n;

	n = snprintf(c->out, sizeof(c->out),
	    "POST /v1/training-bookings/%.*s/confirm HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
	    "Content-Length: 0\r\n\r\n",
	    ID_LEN, id, c->port, admin);
	if (n <= 0 || (size_t)n >= sizeof(c->out))
		die("request too long");
	c->outlen = (size_t)n;
	c->kind = CONFIRM;
}

/* Start (or go on) sending c->out. -1 on a broken connection. */
static int
send_some(struct conn *c, int epfd)
{
	struct epoll_event ev;
	ssize_t		   w;

	if (c->outoff == 0) {
		c->t0 = now_ms();
		c->busy = 1;
		c->inlen = 0;
	}
	while (c->outoff < c->outlen) {
		w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0)
			return (-1);
		c->outoff += (size_t)w;
	}
	memset(&ev, 0, sizeof(ev));
	ev.data.ptr = c;
	ev.events = EPOLLIN | (c->outoff < c->outlen ? EPOLLOUT : 0);
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		return (-1);
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0; /* all sent */
	return (0);
}

/*
 * The server closed c (or it broke). One waiting for an answer counts an
 * error ("closed"; a hold whose answer was lost may have been made: the
 * check after the run shows it pending). While holds are left to send, c
 * is opened again and goes on with the next.
 */
static int
reopen(struct conn *c, int epfd)
{
	struct epoll_event ev;
	int		   port = c->port;

	close(c->fd);
	c->fd = -1;
	if (c->busy)
		err_count(c->kind, 0, "{\"code\":\"closed\"}");
	c->busy = 0;
	if (conn_open(c, port) != 0)
		return (-1);
	if (!next_request(c)) {
		close(c->fd);
		c->fd = -1;
		return (0);
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		return (-1);
	return (send_some(c, epfd));
}

static void
err_count(int kind, int status, const char *body)
{
	const char *p;
	char	    code[48] = "-";
	size_t	    n;
	int	    i;

	if ((p = strstr(body, "\"code\":\"")) != NULL) {
		p += 8;
		n = strcspn(p, "\"");
		if (n >= sizeof(code))
			n = sizeof(code) - 1;
		memcpy(code, p, n);
		code[n] = '\0';
	}
	nerrors++;
	for (i = 0; i < nerrs; i++)
		if (errs[i].kind == kind && errs[i].status == status &&
		    strcmp(errs[i].code, code) == 0)
			break;
	if (i == nerrs) {
		if (nerrs == ERRS_MAX)
			i = ERRS_MAX - 1;
		else {
			nerrs++;
			errs[i].kind = kind;
			errs[i].status = status;
			snprintf(
			    errs[i].code, sizeof(errs[i].code), "%s", code);
		}
	}
	errs[i].n++;
}

/*
 * A whole answer may be in c->in: act on it. 1: handled (c->out holds
 * the next request, or nothing when c->outlen is 0); 0: more to read;
 * -1: not HTTP.
 */
static int
answer(struct conn *c)
{
	const char *hend, *cl, *loc;
	size_t	    hlen, blen;
	double	    ms;
	int	    status, full;
	char	    id[ID_LEN + 1];

	if ((hend = memmem(c->in, c->inlen, "\r\n\r\n", 4)) == NULL)
		return (c->inlen == sizeof(c->in) - 1 ? -1 : 0);
	hlen = (size_t)(hend - c->in) + 4;
	if ((cl = find_ci(c->in, hlen, CONTENTLEN)) == NULL)
		return (-1);
	blen = strtoul(cl + strlen(CONTENTLEN), NULL, 10);
	if (c->inlen < hlen + blen)
		return (c->inlen == sizeof(c->in) - 1 ? -1 : 0);
	if (c->inlen > hlen + blen)
		return (-1); /* nothing was pipelined */
	c->in[c->inlen] = '\0';
	if (sscanf(c->in, "HTTP/1.%*d %d", &status) != 1)
		return (-1);
	ms = now_ms() - c->t0;
	c->busy = 0;
	if (c->kind == HOLD && status == 201 &&
	    (loc = find_ci(c->in, hlen, LOCATION)) != NULL) {
		lat_add(&lat_hold, ms);
		holds_ok++;
		if (++sched_ok[c->sched] > seats)
			overbooked++;
		if (mode == ONE && sched_ok[c->sched] >= seats &&
		    c->sched == current)
			current++;
		memcpy(id, loc + strlen(LOCATION), ID_LEN);
		id[ID_LEN] = '\0';
		confirm_request(c, id);
		return (1);
	}
	if (c->kind == CONFIRM && status == 200) {
		lat_add(&lat_confirm, ms);
		pairs++;
	} else {
		full = c->kind == HOLD && status == 409 &&
		    strstr(c->in + hlen, "\"SCHEDULE_FULL\"") != NULL;
		if (full) {
			lat_add(&lat_full, ms);
			holds_full++;
			if (mode == ONE && c->sched == current)
				current++;
		} else
			err_count(c->kind, status, c->in + hlen);
	}
	c->outlen = 0;
	next_request(c);
	return (1);
}

int
main(int argc, char **argv)
{
	static struct conn conns[CONNS_MAX];
	struct epoll_event ev, evs[64];
	struct rusage	   ru0, ru1;
	const char	  *sfile = NULL, *lfile = NULL;
	char		 **lines, *p, *q;
	double		   t0, t1, last = 0, cpu;
	ssize_t		   r;
	int		   opt, i, n, epfd, active;

	while ((opt = getopt(argc, argv, "m:n:s:p:S:L:a:c:")) != -1)
		switch (opt) {
		case 'm':
			if (strcmp(optarg, "spread") == 0)
				mode = SPREAD;
			else if (strcmp(optarg, "hot") == 0)
				mode = HOT;
			else if (strcmp(optarg, "one") == 0)
				mode = ONE;
			else
				die("-m: spread, hot or one");
			break;
		case 'n':
			bookings = strtol(optarg, NULL, 10);
			break;
		case 's':
			seats = (int)strtol(optarg, NULL, 10);
			break;
		case 'p':
			for (p = optarg; nports < 16 && *p != '\0'; p = q) {
				ports[nports++] = (int)strtol(p, &q, 10);
				if (*q == ',')
					q++;
				else if (*q != '\0')
					die("-p: PORT[,PORT...]");
			}
			break;
		case 'S':
			sfile = optarg;
			break;
		case 'L':
			lfile = optarg;
			break;
		case 'a':
			admin = optarg;
			break;
		case 'c':
			nconns = (int)strtol(optarg, NULL, 10);
			break;
		default:
			die("usage: training_book -m spread|hot|one -n BOOKINGS -s "
			    "SEATS -p PORT[,PORT] -S SCHEDULES -L LEARNERS -a "
			    "ADMIN_TOKEN [-c CONNS]");
		}
	if (bookings <= 0 || seats <= 0 || nports == 0 || sfile == NULL ||
	    lfile == NULL || admin == NULL || nconns <= 0 || nconns > CONNS_MAX)
		die("usage: training_book -m spread|hot|one -n BOOKINGS -s SEATS "
		    "-p PORT[,PORT] -S SCHEDULES -L LEARNERS -a ADMIN_TOKEN [-c "
		    "CONNS]");
	scheds = read_lines(sfile, &nsched);
	lines = read_lines(lfile, &nlearners);
	if (nsched == 0 || nlearners == 0)
		die("no schedules or no learners");
	if ((learners = calloc((size_t)nlearners, sizeof(*learners))) == NULL ||
	    (sched_holds = calloc((size_t)nsched, sizeof(int))) == NULL ||
	    (sched_ok = calloc((size_t)nsched, sizeof(int))) == NULL)
		die("out of memory");
	for (i = 0; i < nlearners; i++)
		if (sscanf(lines[i], "%127s %127s", learners[i].token,
			learners[i].email) != 2)
			die("a learner line is not \"token email\"");

	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	for (i = 0; i < nconns; i++) {
		if (conn_open(&conns[i], ports[i % nports]) != 0)
			die("cannot connect");
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = &conns[i];
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0)
			die("epoll_ctl");
	}
	getrusage(RUSAGE_SELF, &ru0);
	t0 = now_ms();
	for (i = 0; i < nconns; i++)
		if (next_request(&conns[i]) && send_some(&conns[i], epfd) != 0)
			die("send failed");
	for (;;) {
		for (active = 0, i = 0; i < nconns; i++)
			active += conns[i].busy;
		if (active == 0)
			break;
		n = epoll_wait(epfd, evs, 64, 1000);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		if (n == 0 && now_ms() - (last > 0 ? last : t0) > STALL_S * 1e3)
			die("no answer for 60 s");
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (evs[i].events & EPOLLOUT) {
				if (send_some(c, epfd) != 0)
					die("send failed");
			}
			if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			r = read(c->fd, c->in + c->inlen,
			    sizeof(c->in) - 1 - c->inlen);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0 && reopen(c, epfd) != 0)
				die("cannot connect again");
			if (r <= 0)
				continue;
			c->inlen += (size_t)r;
			switch (answer(c)) {
			case 0:
				continue;
			case -1:
				die("an answer that is not HTTP/1.1 with a "
				    "Content-Length");
			}
			last = now_ms();
			c->outoff = 0;
			if (c->outlen > 0 && send_some(c, epfd) != 0)
				die("send failed");
		}
	}
	t1 = last > 0 ? last : now_ms();
	getrusage(RUSAGE_SELF, &ru1);
	cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
	    (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
	    (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
	    (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	for (i = 0; i < nerrs; i++)
		fprintf(stderr, "training_book: %ld x %s answered %d %s\n",
		    errs[i].n, errs[i].kind == HOLD ? "hold" : "confirm",
		    errs[i].status, errs[i].code);
	printf("pairs=%ld secs=%.3f pairs_per_s=%.1f holds_ok=%ld "
	       "hold_p50_ms=%.2f hold_p99_ms=%.2f confirm_p50_ms=%.2f "
	       "confirm_p99_ms=%.2f full=%ld full_p50_ms=%.2f "
	       "full_p99_ms=%.2f attempts_per_s=%.1f errors=%ld "
	       "overbooked=%ld pool_out=%d schedules_used=%d "
	       "client_cpu_pct=%.1f\n",
	    pairs, (t1 - t0) / 1e3, pairs / ((t1 - t0) / 1e3), holds_ok,
	    lat_pct(&lat_hold, 50), lat_pct(&lat_hold, 99),
	    lat_pct(&lat_confirm, 50), lat_pct(&lat_confirm, 99), holds_full,
	    lat_pct(&lat_full, 50), lat_pct(&lat_full, 99),
	    (double)(holds_ok + holds_full + nerrors) / ((t1 - t0) / 1e3),
	    nerrors, overbooked, pool_out,
	    mode == SPREAD    ? (int)((issued + (long)GROUP * seats - 1) /
				    ((long)GROUP * seats) * GROUP)
		: mode == HOT ? (int)((issued + seats - 1) / seats)
			      : current + 1,
	    100.0 * cpu / ((t1 - t0) / 1e3));
	for (i = 0; i < nconns; i++)
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	return (0);
}
