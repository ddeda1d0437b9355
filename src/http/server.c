/*
 * The libmicrohttpd daemon and the life of one request:
 *
 *   URI log callback	request state made (arena from the thread's cache),
 *			raw target split into path and query
 *   1st access call	headers: id, client address, CORS, rate limit,
 *			route, Content-Length and Content-Type checks
 *			(hreq_begin, request.c)
 *   data calls		body appended to a capped buffer (or drained)
 *   last access call	JSON parsed, handler run, response queued; for a
 *			ROUTE_SLOW route the connection is suspended and
 *			the handler runs on the slow pool, which resumes it:
 *			the access call after that queues the response
 *   completed		log line, metrics, state freed (aborts too)
 *
 * A response is never queued on the first call: libmicrohttpd 0.9.75 then
 * drops keep-alive. A body sent to a route that takes none (neither
 * ROUTE_JSON_BODY nor ROUTE_RAW_BODY) is a 400 with code BODY_NOT_ALLOWED.
 * What is done with the request itself, from its head to its handler,
 * is request.c's; this file holds the callbacks, the answer's headers,
 * and starting and stopping the daemon.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/netaddr.h"
#include "core/util.h"
#include "http/http.h"
#include "http/http_int.h"

/*
 * libmicrohttpd's per-connection pool holds the request line and headers
 * and the response head; it is zeroed after every request, so it is kept
 * no larger than the bound needs. Heads over CONFIG_MAX_HEAD_BYTES are
 * answered 431 by hreq_begin, heads over the pool by libmicrohttpd; a head
 * within a few hundred bytes of the pool's size leaves no room for any
 * answer and libmicrohttpd closes the connection.
 */
#define SERVER_MEMORY_LIMIT	     (CONFIG_MAX_HEAD_BYTES + 8192)
#define SERVER_PEM_MAX		     (1024 * 1024)
#define SERVER_RL_SLOTS		     16384
#define HSTS_VALUE		     "max-age=31536000; includeSubDomains"
#define METRICS_LISTENER_CONNECTIONS 16

static void *server_uri_log(void *, const char *, struct MHD_Connection *);
static void *server_uri_log_metrics(
    void *, const char *, struct MHD_Connection *);
static enum MHD_Result server_access(void *, struct MHD_Connection *,
    const char *, const char *, const char *, const char *, size_t *, void **);
static void	       server_completed(
	       void *, struct MHD_Connection *, void **, enum MHD_RequestTerminationCode);
static void server_mhd_log(void *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));
static enum MHD_Result hreq_queue(struct hreq *);
static int	       pem_read(const char *, char **, size_t *);
static void	       server_free(struct http_server *);
static void	       limits_default(struct http_server_opts *);
static int	       metrics_listener_start(struct http_server *);

/* Request lifecycle */

static void *
server_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_server	       *srv = cls;
	struct arena		       *a;
	const union MHD_ConnectionInfo *ci;
	struct hreq		       *h;
	const char		       *q;

	if ((a = http_arena_get()) == NULL)
		return (NULL);
	if ((h = arena_alloc(a, sizeof(*h))) == NULL) {
		http_arena_put(a);
		return (NULL);
	}
	h->start_ns = time_mono_ns();
	h->srv = srv;
	h->mhd = c;
	h->req.arena = a;
	h->req.conn = h;
	h->req.db = srv->opts.db;
	h->req.method_name = "-";
	buf_init(&h->body, srv->body_limit); /* the route's, once known */
	if ((q = strchr(uri, '?')) != NULL) {
		h->req.path = arena_strndup(a, uri, (size_t)(q - uri));
		h->query = arena_strdup(a, q + 1);
	} else
		h->req.path = arena_strdup(a, uri);
	if (h->req.path == NULL)
		h->req.path = "";
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	h->conn_state = ci != NULL ? ci->socket_context : NULL;
	conn_phase(h, CONN_LINE);
	atomic_fetch_add(&srv->active, 1);
	metrics_inflight(1);
	return (h);
}

/* The same, on the metrics listener: a daemon of its own calls this one,
 * so a request is marked before anything reads it. */
static void *
server_uri_log_metrics(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct hreq *h;

	if ((h = server_uri_log(cls, uri, c)) != NULL)
		h->req.metrics_listener = 1;
	return (h);
}

static enum MHD_Result
server_access(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct hreq *h = *con_cls;

	if (h == NULL)
		return (MHD_NO); /* no memory for the state */
	if (!h->started) {
		h->started = 1;
		hreq_begin(h, method);
		conn_phase(h, CONN_HEAD_DONE);
		/*
		 * A request refused from its headers whose large body (or
		 * any body the client waits to send: Expect: 100-continue)
		 * is still to come is answered now: no "100 Continue", no
		 * byte of the body read, and the connection closed after
		 * the answer. A small body is read and dropped instead, so
		 * the connection stays open and no client sees a reset.
		 */
		if (h->err != 0 && h->body_coming == 2) {
			hreq_dispatch(h);
			return (hreq_queue(h));
		}
		return (MHD_YES);
	}
	if (*upload_data_size != 0) {
		conn_body_got(h, *upload_data_size);
		hreq_body(h, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return (h->close ? MHD_NO : MHD_YES);
	}
	if (h->queued)
		return (MHD_YES);
	conn_phase(h, CONN_BODY_DONE);
	if (h->slow == 2) /* back from the slow pool */
		return (hreq_queue(h));
	if (h->slow == 1) /* still there (not expected) */
		return (MHD_YES);
	if (h->rt != NULL && (h->flags & ROUTE_SLOW) && h->err == 0 &&
	    !h->options) {
		h->slow = 1;
		MHD_suspend_connection(c);
		if (slow_push(h->srv, h) == OK)
			return (MHD_YES);
		MHD_resume_connection(c);
		h->slow = 0;
		h->retry_after = 1;
		hreq_fail(h, ERR_BUSY, "SERVER_BUSY",
		    h->srv->slow_stop ? "The server is shutting down."
				      : "The server is busy "
					"with slow requests (sign-ins, "
					"uploads, exports); try "
					"again in a moment.");
	}
	hreq_dispatch(h);
	return (hreq_queue(h));
}

static void
server_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct hreq	   *h = *con_cls;
	struct request	   *req;
	char		    qpath[256], ip[NETADDR_TEXT_LEN];
	int64_t		    dur;
	int		    status;

	if (h == NULL)
		return;
	*con_cls = NULL;
	req = &h->req;
	dur = time_mono_ns() - h->start_ns;
	/* A slow request answered while its client left still says how
	 * it ended. */
	status =
	    h->queued || (h->slow == 2 && req->responded) ? req->status : 0;
	if (h->queued)
		metrics_observe(h->route_id, req->method, status, dur);
	if (log_threshold <= LOG_INFO) {
		/* The address is personal data: by default its network only
		 * (config log_ip). */
		netaddr_log_text(req->ip, (enum netaddr_log)srv->opts.log_ip,
		    ip, sizeof(ip));
		log_msg(LOG_INFO,
		    "event=request id=%s method=%s route=%s "
		    "path=%s status=%d bytes=%zu dur_us=%lld ip=%s%s",
		    req->id[0] ? req->id : "-", req->method_name,
		    h->route_id > 0 ? router_pattern(srv->router, h->route_id)
				    : "-",
		    log_quote(qpath, sizeof(qpath), req->path), status,
		    h->queued ? req->resp_len : 0, (long long)(dur / 1000), ip,
		    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
							       : " aborted=1");
	}
	json_decref(req->json);
	free(req->resp_owned);
	buf_free(&h->body);
	conn_body_release(h);
	conn_phase(h, CONN_REQUEST_DONE);
	metrics_inflight(-1);
	http_arena_put(req->arena);
	atomic_fetch_sub(&srv->active, 1);
}

static enum MHD_Result
hreq_queue(struct hreq *h)
{
	struct request	    *req = &h->req;
	struct MHD_Response *r;
	enum MHD_Result	     ret;
	char		     allow[96], num[16];
	int		     i, cache = 0, problem;

	r = MHD_create_response_from_buffer(
	    req->status == 204 ? 0 : req->resp_len,
	    (void *)(uintptr_t)req->resp_body,
	    req->resp_owned != NULL ? MHD_RESPMEM_MUST_FREE
				    : MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return (MHD_NO);
	req->resp_owned = NULL; /* libmicrohttpd frees it now */
	problem = req->content_type != NULL &&
	    strcmp(req->content_type, "application/problem+json") == 0;
	if (req->content_type != NULL && req->status != 204)
		MHD_add_response_header(r, "Content-Type", req->content_type);
	MHD_add_response_header(r, "X-Request-Id", req->id);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	if (h->srv->cert != NULL)
		MHD_add_response_header(
		    r, "Strict-Transport-Security", HSTS_VALUE);
	if (h->origin != NULL) {
		MHD_add_response_header(
		    r, "Access-Control-Allow-Origin", h->origin);
		MHD_add_response_header(r, "Vary", "Origin");
		MHD_add_response_header(r, "Access-Control-Expose-Headers",
		    "X-Request-Id, Retry-After");
	}
	if (req->status == 405 || h->options)
		MHD_add_response_header(r, "Allow",
		    http_allow_format(h->allow, allow, sizeof(allow)));
	if ((req->status == 429 || req->status == 503) && h->retry_after > 0) {
		snprintf(num, sizeof(num), "%d", h->retry_after);
		MHD_add_response_header(r, "Retry-After", num);
	}
	for (i = 0; i < req->nresp_hdrs; i++) {
		if (strcasecmp(req->resp_hdr_name[i], "Cache-Control") == 0)
			cache = 1;
		MHD_add_response_header(
		    r, req->resp_hdr_name[i], req->resp_hdr_value[i]);
	}
	if (!cache && (problem || strncmp(req->path, "/v1/", 4) == 0))
		MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = http_mhd_queue(h->mhd, (unsigned int)req->status, r);
	MHD_destroy_response(r);
	if (ret == MHD_YES) {
		h->queued = 1;
		conn_answer(h, req->status == 204 ? 0 : req->resp_len);
	}
	return (ret);
}

static void
server_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char   msg[256], q[300];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_warn("event=mhd msg=%s", log_quote(q, sizeof(q), msg));
}

/* Start and stop */

static int
pem_read(const char *path, char **out, size_t *lenp)
{
	FILE	   *f = NULL;
	struct stat st;
	char	   *p = NULL;
	int	    rc = ERR_CONFIG;

	if ((f = fopen(path, "r")) == NULL || fstat(fileno(f), &st) != 0 ||
	    st.st_size <= 0 || st.st_size > SERVER_PEM_MAX) {
		log_error("event=tls_file_unreadable file=%s error=\"%s\"",
		    path, errno ? strerror(errno) : "empty or too large");
		goto out;
	}
	if ((p = malloc((size_t)st.st_size + 1)) == NULL ||
	    fread(p, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		log_error("event=tls_file_unreadable file=%s", path);
		goto out;
	}
	p[st.st_size] = '\0';
	if (strstr(p, "-----BEGIN ") == NULL) {
		log_error("event=tls_file_not_pem file=%s", path);
		goto out;
	}
	*out = p;
	*lenp = (size_t)st.st_size;
	p = NULL;
	rc = OK;
out:
	if (p != NULL) {
		sodium_memzero(p, (size_t)st.st_size);
		free(p);
	}
	if (f != NULL)
		fclose(f);
	return (rc);
}

/*
 * The limits' defaults, and room for the connections allowed among the
 * process's file descriptors (raised to the hard limit when needed; the
 * connections allowed are cut to fit when it cannot be).
 */
static void
limits_default(struct http_server_opts *o)
{
	struct rlimit rl;
	rlim_t	      want;

	if (o->max_connections <= 0)
		o->max_connections = 1000;
	if (o->max_connections_per_client < 0)
		o->max_connections_per_client = 0;
	if (o->header_timeout_s <= 0)
		o->header_timeout_s = 30;
	if (o->body_inflight_max == 0)
		o->body_inflight_max = (size_t)512 * 1024 * 1024;
	if (o->body_inflight_per_client == 0)
		o->body_inflight_per_client = (size_t)96 * 1024 * 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	/* The database, log and other files besides the connections. */
	want = (rlim_t)o->max_connections + 256;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want && rl.rlim_cur > 512) {
		log_warn("event=max_connections_cut from=%d to=%d "
			 "reason=open_files_limit",
		    o->max_connections, (int)(rl.rlim_cur - 256));
		o->max_connections = (int)(rl.rlim_cur - 256);
	}
}

/*
 * The metrics listener (opts.metrics_listen): plain HTTP on one event
 * thread, the same callbacks as the main daemon but for the URI
 * callback that marks its requests, and a small connection bound: a
 * scraper or two, never clients.
 */
static int
metrics_listener_start(struct http_server *srv)
{
	struct MHD_OptionItem	    ops[12];
	struct addrinfo		    hints, *ai = NULL;
	struct sockaddr_storage	    ss;
	const union MHD_DaemonInfo *di;
	unsigned int		    flags;
	char			    host[256], portstr[8];
	size_t			    n = 0;
	int			    port;

	if (config_host_port(
		srv->opts.metrics_listen, host, sizeof(host), &port) != OK)
		return (ERR_CONFIG);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if (getaddrinfo(host, portstr, &hints, &ai) != 0 ||
	    ai->ai_addrlen > sizeof(ss)) {
		log_error("event=metrics_listen_invalid address=%s",
		    srv->opts.metrics_listen);
		if (ai != NULL)
			freeaddrinfo(ai);
		return (ERR_CONFIG);
	}
	memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC |
	    MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER,
		(intptr_t)server_mhd_log, srv };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
		srv->opts.timeout_s > 0 ? srv->opts.timeout_s : 30, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		SERVER_MEMORY_LIMIT, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED,
		(intptr_t)server_completed, srv };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION,
		(intptr_t)conn_notify, srv };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
		METRICS_LISTENER_CONNECTIONS, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_URI_LOG_CALLBACK,
		(intptr_t)server_uri_log_metrics, srv };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	srv->metrics_daemon =
	    MHD_start_daemon(flags, (uint16_t)port, conn_accept, srv,
		server_access, srv, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
	if (srv->metrics_daemon == NULL) {
		log_error("event=metrics_listen_failed address=%s",
		    srv->opts.metrics_listen);
		return (ERR_IO);
	}
	di =
	    MHD_get_daemon_info(srv->metrics_daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->metrics_port = di != NULL ? di->port : port;
	log_info(
	    "event=metrics_listen address=%s port=%d", host, srv->metrics_port);
	return (OK);
}

static void
server_free(struct http_server *srv)
{
	if (srv == NULL)
		return;
	slow_stop(srv);
	if (srv->slow_init) {
		pthread_cond_destroy(&srv->slow_cv);
		pthread_mutex_destroy(&srv->slow_mu);
	}
	free(srv->slow_thr);
	if (srv->metrics_daemon != NULL)
		MHD_stop_daemon(srv->metrics_daemon);
	conn_fini(srv);
	router_free(srv->router);
	ratelimit_free(srv->rl);
	free(srv->cert);
	if (srv->key != NULL) {
		sodium_memzero(srv->key, srv->keylen);
		free(srv->key);
	}
	free(srv);
}

int
http_server_start(const struct http_server_opts *o, struct http_server **out)
{
	struct http_server		*srv;
	struct MHD_OptionItem		 ops[16];
	struct addrinfo			 hints, *ai = NULL;
	struct sockaddr_storage		 ss;
	const union MHD_DaemonInfo	*di;
	const struct route_table *const *tables;
	size_t				 certlen, n = 0, ntables;
	unsigned int			 flags, threads;
	char				 portstr[8];
	int				 rc = ERR_NOMEM;

	*out = NULL;
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return (ERR_NOMEM);
	srv->opts = *o;
	limits_default(&srv->opts);
	srv->body_limit =
	    o->body_limit ? o->body_limit : CONFIG_MAX_BODY_DEFAULT;
	srv->large_body_limit =
	    o->large_body_limit ? o->large_body_limit : srv->body_limit;
	threads = o->threads > 0 ? (unsigned int)o->threads
				 : (unsigned int)sysconf(_SC_NPROCESSORS_ONLN);
	if (threads < 1)
		threads = 1;
	flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC |
	    MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;

	srv->slow_max = o->slow_queue > 0 ? o->slow_queue : 256;
	if ((rc = conn_init(srv)) != OK)
		goto out;
	if ((rc = slow_start(srv,
		 o->slow_threads > 0 ? o->slow_threads : (int)threads)) != OK)
		goto out;
	tables = http_routes(&ntables);
	if ((rc = router_new(tables, ntables, &srv->router)) != OK ||
	    (rc = metrics_init(srv->router)) != OK)
		goto out;
	if (o->rate_limit > 0 &&
	    (srv->rl = ratelimit_new(
		 o->rate_limit, o->rate_burst, SERVER_RL_SLOTS)) == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	/* The logger must come first to catch every message. */
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER,
		(intptr_t)server_mhd_log, srv };
	if (o->tls_cert_file != NULL && o->tls_cert_file[0] != '\0') {
		rc = ERR_CONFIG;
		if (o->tls_key_file == NULL || o->tls_key_file[0] == '\0') {
			log_error("event=tls_config error=\"tls_cert set "
				  "without tls_key\"");
			goto out;
		}
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			log_error("event=tls_config error=\"libmicrohttpd "
				  "built without TLS\"");
			goto out;
		}
		if (pem_read(o->tls_cert_file, &srv->cert, &certlen) != OK ||
		    pem_read(o->tls_key_file, &srv->key, &srv->keylen) != OK)
			goto out;
		flags |= MHD_USE_TLS;
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT,
			0, srv->cert };
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0,
			srv->key };
	}
	if (o->listen != NULL && o->listen[0] != '\0') {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		snprintf(portstr, sizeof(portstr), "%d", o->port);
		if (getaddrinfo(o->listen, portstr, &hints, &ai) != 0 ||
		    ai->ai_addrlen > sizeof(ss)) {
			log_error("event=listen_invalid address=%s", o->listen);
			rc = ERR_CONFIG;
			goto out;
		}
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		if (ss.ss_family == AF_INET6)
			flags |= MHD_USE_IPv6;
		ops[n++] =
		    (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
	}
	if (threads > 1)
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE,
			threads, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
		o->timeout_s > 0 ? o->timeout_s : 30, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		SERVER_MEMORY_LIMIT, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_BACKLOG_SIZE,
		1024, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED,
		(intptr_t)server_completed, srv };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION,
		(intptr_t)conn_notify, srv };
	/* A backstop: conn_accept refuses first, and counts. */
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
		(intptr_t)srv->opts.max_connections + 16, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_URI_LOG_CALLBACK,
		(intptr_t)server_uri_log, srv };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };

	srv->daemon = MHD_start_daemon(flags, (uint16_t)o->port, conn_accept,
	    srv, server_access, srv, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
	if (srv->daemon == NULL) {
		log_error("event=listen_failed address=%s port=%d%s",
		    o->listen ? o->listen : "*", o->port,
		    srv->cert ? " tls=bad_cert_or_key" : "");
		rc = ERR_IO;
		goto out;
	}
	di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di != NULL ? di->port : o->port;
	if (o->metrics_listen != NULL && o->metrics_listen[0] != '\0' &&
	    (rc = metrics_listener_start(srv)) != OK) {
		MHD_stop_daemon(srv->daemon);
		goto out;
	}
	log_info("event=listen port=%d threads=%u tls=%d routes=%d", srv->port,
	    threads, srv->cert != NULL, router_npatterns(srv->router));
	*out = srv;
	srv = NULL;
	rc = OK;
out:
	if (ai != NULL)
		freeaddrinfo(ai);
	server_free(srv);
	return (rc);
}

int
http_server_port(const struct http_server *srv)
{
	return (srv->port);
}

int
http_server_metrics_port(const struct http_server *srv)
{
	return (srv->metrics_daemon != NULL ? srv->metrics_port : 0);
}

void
http_server_stop(struct http_server *srv, int timeout_s)
{
	struct timespec nap = { 0, 5 * 1000 * 1000 };
	MHD_socket	fd;
	int64_t		deadline;

	if (srv == NULL)
		return;
	/* Stop accepting; pending connections in the backlog are refused. */
	fd = MHD_quiesce_daemon(srv->daemon);
	if (fd != MHD_INVALID_SOCKET)
		shutdown(fd, SHUT_RDWR);
	if (srv->metrics_daemon != NULL) {
		MHD_stop_daemon(srv->metrics_daemon); /* scrapes are short */
		srv->metrics_daemon = NULL;
	}
	deadline = time_mono_ns() + (int64_t)timeout_s * 1000000000;
	while (atomic_load(&srv->active) > 0 && time_mono_ns() < deadline)
		nanosleep(&nap, NULL);
	if (atomic_load(&srv->active) > 0)
		log_warn("event=shutdown_timeout in_flight=%ld",
		    atomic_load(&srv->active));
	/* Queued slow requests get 503; running ones finish (their
	 * connections are suspended: the daemon cannot stop before). */
	slow_stop(srv);
	if (time_mono_ns() > deadline)
		log_warn("event=shutdown_slow_handlers_late ms=%lld",
		    (long long)((time_mono_ns() - deadline) / 1000000));
	/* A moment for the answers of resumed requests to go out. */
	deadline = time_mono_ns() + 1000000000LL;
	while (atomic_load(&srv->active) > 0 && time_mono_ns() < deadline)
		nanosleep(&nap, NULL);
	MHD_stop_daemon(srv->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	metrics_fini();
	server_free(srv);
}
