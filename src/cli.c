/*
 * The commands of `carebase` (see cli.h): serving and working (the PDF
 * fonts checked and the erasure journal replayed first), migrations, backup and restore, the
 * job queue, a test mail, and the commands other modules answer (user,
 * roles, audit, webhooks, schema); config and routes list what the program
 * knows. main.c keeps seed, version and help, which read its module list
 * and its table of commands.
 */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/netaddr.h"
#include "core/pdf_font.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "modules.h"
#include "ops/inbox.h"
#include "ops/ops.h"
#include "people/people.h"
#include "store/jobs.h"
#include "store/migrate.h"
#include "store/store.h"

struct mail_test {
	const char *to;
	char	    log_id[UUID_STR_LEN];
};

static const char *flag_value(int, char **, const char *);
static int	   fonts_check(void);
static int	   erasures_start(struct store *, int);
static void	   signals_block(sigset_t *);
static void	   modules_stop(void);
static int	   jobs_list_failed(struct store *);
static int	   mail_test_tx(struct tx *, void *);

static const char *
flag_value(int argc, char **argv, const char *name)
{
	size_t n = strlen(name);
	int    i;

	for (i = 0; i < argc; i++)
		if (strncmp(argv[i], "--", 2) == 0 &&
		    strncmp(argv[i] + 2, name, n) == 0 && argv[i][2 + n] == '=')
			return (argv[i] + 3 + n);
	return (NULL);
}

/*
 * The PDF fonts (config pdf_font, pdf_font_bold) load: a report or a
 * certificate asked for later finds them. One line naming the setting
 * when not; commands that make no PDF (migrate, ...) do not ask.
 */
static int
fonts_check(void)
{
	char why[PATH_MAX + 256];
	int  rc;

	if ((rc = pdf_font_check(why, sizeof(why))) != OK)
		fprintf(stderr, "carebase: %s\n", why);
	return (rc);
}

/*
 * Open the erasure journal and replay it into the database (see
 * people/erasures.c): a restored backup never serves an erased person.
 * Anything wrong stops the command before it serves or runs a job.
 */
static int
erasures_start(struct store *db, int quiet)
{
	struct people_replay r;
	char		     err[1024];
	int		     rc;

	if ((rc = people_erasures_open(err, sizeof(err))) != OK) {
		fprintf(stderr, "carebase: %s\n", err);
		return (rc);
	}
	if ((rc = people_erasures_replay(db, &r)) != OK &&
	    r.migrations_pending) {
		fprintf(stderr,
		    "carebase: the erasure journal %s names %zu erased "
		    "people, and the database has migrations pending: it is "
		    "replayed with this version's schema, so nothing runs "
		    "until `carebase migrate` has run (then `carebase "
		    "erasures replay`, or start again)\n",
		    people_erasures_path(), r.journalled);
		return (rc);
	}
	if (rc != OK) {
		fprintf(stderr,
		    "carebase: the erasure journal %s was not replayed (%s); "
		    "nothing runs until it is. If migrations are pending, run "
		    "`carebase migrate` first\n",
		    people_erasures_path(), err_code(rc));
		return (rc);
	}
	if (!quiet)
		printf("erasures: %zu journalled, %zu held by the database and "
		       "erased again (%zu not erased at all), %zu erasures "
		       "added to the journal from the database\n",
		    r.journalled, r.present, r.erased, r.recorded);
	return (OK);
}

static void
signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* Once no request is answered: what modules keep to write later. */
static void
modules_stop(void)
{
	const struct module *const *modules;
	size_t			    i, n;

	modules = modules_all(&n);
	for (i = 0; i < n; i++)
		if (modules[i]->stop != NULL)
			modules[i]->stop();
}

int
cli_serve(struct store *db, int argc, char **argv)
{
	struct http_server_opts o;
	struct http_server     *srv = NULL;
	enum netaddr_log	log_ip;
	struct job_runner      *runner = NULL;
	sigset_t		set;
	long			cores;
	int			sig, rc;

	if ((rc = fonts_check()) != OK)
		return (rc);
	signals_block(&set);
	if (log_buffer_start((int)config.log_flush_ms) != 0)
		log_warn("event=log_buffer_failed msg=\"lines are written one "
			 "by one\"");
	if (migrate_current(db) == ERR_UNAVAILABLE)
		log_warn("event=migrations_pending msg=\"run carebase migrate; "
			 "/readyz answers 503 until then\"");
	if ((rc = erasures_start(db, 1)) != OK) {
		log_buffer_stop();
		return (rc);
	}
	cores = sysconf(_SC_NPROCESSORS_ONLN);
	memset(&o, 0, sizeof(o));
	o.listen = config.listen;
	o.port = (int)config.port;
	o.threads = config.threads > 0 ? (int)config.threads
				       : (int)(cores > 0 ? cores : 2);
	o.body_limit = (size_t)config.body_limit;
	o.large_body_limit = (size_t)config.points_body_limit;
	o.timeout_s = (int)config.request_timeout_s;
	o.tls_cert_file = config.tls_cert;
	o.tls_key_file = config.tls_key;
	o.cors_origins = config.cors_origins;
	o.rate_limit = (int)config.rate_limit;
	o.rate_burst = (int)config.rate_burst;
	o.slow_threads = (int)config.slow_threads;
	o.slow_queue = (int)config.slow_queue;
	o.max_connections = (int)config.max_connections;
	o.max_connections_per_client = (int)config.max_connections_per_client;
	o.header_timeout_s = (int)config.header_timeout_s;
	o.min_body_rate = (int)config.min_body_rate;
	o.body_inflight_max = (size_t)config.body_inflight_max;
	o.body_inflight_per_client = (size_t)config.body_inflight_per_client;
	o.log_ip = netaddr_log_parse(config.log_ip, &log_ip) == OK
	    ? (int)log_ip
	    : NETADDR_LOG_TRUNCATED;
	o.db = db;
	if ((rc = http_server_start(&o, &srv)) != OK) {
		log_buffer_stop(); /* what was logged comes first */
		fprintf(stderr, "carebase: cannot serve on %s:%lld: %s\n",
		    config.listen, (long long)config.port,
		    rc == ERR_IO ? "the address is in use or unavailable, or "
				   "the TLS files do "
				   "not load (the log line above says which)"
				 : err_code(rc));
		return (rc);
	}
	if (config.job_workers > 0 &&
	    (rc = jobs_runner_start(db, (int)config.job_workers, &runner)) !=
		OK) {
		http_server_stop(srv, 0);
		modules_stop();
		log_buffer_stop();
		fprintf(stderr, "carebase: cannot start job workers: %s\n",
		    err_code(rc));
		return (rc);
	}
	log_info("event=listening addr=%s port=%d threads=%d tls=%s db=%s "
		 "job_workers=%lld version=%s",
	    config.listen, http_server_port(srv), o.threads,
	    config.tls_cert[0] ? "on" : "off",
	    store_dialect(db) == STORE_SQLITE ? "sqlite" : "postgres",
	    (long long)config.job_workers, CAREBASE_VERSION);
	/* A line on stdout that scripts can wait for. */
	printf("carebase listening on %s://%s:%d\n",
	    config.tls_cert[0] ? "https" : "http", config.listen,
	    http_server_port(srv));
	fflush(stdout);
	if (sigwait(&set, &sig) != 0)
		sig = SIGTERM;
	log_info(
	    "event=shutdown signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	http_server_stop(srv, (int)config.shutdown_timeout_s);
	modules_stop();
	jobs_runner_stop(runner);
	log_info("event=stopped");
	log_buffer_stop();
	return (OK);
}

int
cli_worker(struct store *db, int argc, char **argv)
{
	struct job_runner *runner = NULL;
	sigset_t	   set;
	int		   sig, rc;
	int n = config.job_workers > 0 ? (int)config.job_workers : 1;

	if ((rc = fonts_check()) != OK)
		return (rc);
	signals_block(&set);
	if (log_buffer_start((int)config.log_flush_ms) != 0)
		log_warn("event=log_buffer_failed msg=\"lines are written one "
			 "by one\"");
	if ((rc = erasures_start(db, 1)) != OK) {
		log_buffer_stop();
		return (rc);
	}
	if ((rc = jobs_runner_start(db, n, &runner)) != OK) {
		log_buffer_stop();
		fprintf(stderr, "carebase: cannot start job workers: %s\n",
		    err_code(rc));
		return (rc);
	}
	log_info("event=worker_started threads=%d", n);
	if (sigwait(&set, &sig) != 0)
		sig = SIGTERM;
	log_info(
	    "event=shutdown signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	jobs_runner_stop(runner);
	log_buffer_stop();
	return (OK);
}

int
cli_migrate(struct store *db, int argc, char **argv)
{
	const char *what = argc > 0 ? argv[0] : "up";
	int	    n = 0, rc;

	if (strcmp(what, "up") == 0) {
		if ((rc = migrate_up(db, &n)) != OK) {
			fprintf(stderr,
			    "carebase: migrate failed (%s); applied %d "
			    "before the failure, the failing one left no "
			    "change\n",
			    err_code(rc), n);
			return (rc);
		}
		printf(
		    "migrate: applied %d migration%s\n", n, n == 1 ? "" : "s");
	} else if (strcmp(what, "down") == 0) {
		if ((rc = migrate_down(db, &n)) != OK) {
			fprintf(stderr, "carebase: migrate down failed: %s\n",
			    err_code(rc));
			return (rc);
		}
		printf("migrate: rolled back %d migration%s\n", n,
		    n == 1 ? "" : "s");
	} else if (strcmp(what, "status") == 0)
		return (migrate_status(db, stdout));
	else {
		fprintf(stderr, "carebase: migrate takes up, down or status\n");
		return (ERR_INVALID);
	}
	return (OK);
}

int
cli_backup(struct store *db, int argc, char **argv)
{
	int rc;

	if (argc < 1) {
		fprintf(stderr, "usage: carebase backup FILE\n");
		return (ERR_INVALID);
	}
	if (store_dialect(db) != STORE_SQLITE) {
		fprintf(stderr,
		    "carebase: backup copies SQLite databases; for "
		    "PostgreSQL use pg_dump (see README)\n");
		return (ERR_INVALID);
	}
	if ((rc = store_backup(db, argv[0])) != OK) {
		fprintf(stderr, "carebase: backup to %s failed: %s\n", argv[0],
		    err_code(rc));
		return (rc);
	}
	printf("backup: wrote %s\n", argv[0]);
	return (OK);
}

/*
 * restore FILE [--force]: SQLite only. The copy goes in whole, then the
 * erasure journal is replayed, so whoever was erased after the copy was
 * made stays erased.
 */
int
cli_restore(struct store *db, int argc, char **argv)
{
	const char *file = NULL;
	char	    err[1024];
	int	    i, force = 0, rc;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else if (file == NULL)
			file = argv[i];
		else
			file = "";
	if (file == NULL || file[0] == '\0') {
		fprintf(stderr, "usage: carebase restore FILE [--force]\n");
		return (ERR_INVALID);
	}
	if (store_dialect(db) != STORE_SQLITE) {
		fprintf(stderr,
		    "carebase: restore loads SQLite backups; for PostgreSQL "
		    "use pg_restore, then `carebase erasures replay` (see "
		    "README)\n");
		return (ERR_INVALID);
	}
	/* The journal first: without it the copy must not go in. */
	if ((rc = people_erasures_open(err, sizeof(err))) != OK) {
		fprintf(stderr, "carebase: %s\n", err);
		return (rc);
	}
	switch ((rc = store_restore(db, file, force))) {
	case OK:
		break;
	case ERR_CONFLICT:
		fprintf(stderr,
		    "carebase: the database holds tables already: restore "
		    "over it only with --force (stop every carebase process "
		    "first)\n");
		return (rc);
	case ERR_INVALID:
		fprintf(stderr,
		    "carebase: %s is not an SQLite database with tables\n",
		    file);
		return (rc);
	default:
		fprintf(stderr, "carebase: restore from %s failed: %s\n", file,
		    err_code(rc));
		return (rc);
	}
	printf("restore: wrote the database from %s\n", file);
	return (erasures_start(db, 0));
}

int
cli_erasures(struct store *db, int argc, char **argv)
{
	if (argc != 1 || strcmp(argv[0], "replay") != 0) {
		fprintf(stderr, "usage: carebase erasures replay\n");
		return (ERR_INVALID);
	}
	return (erasures_start(db, 0));
}

static int
jobs_list_failed(struct store *db)
{
	struct tx   *tx;
	struct stmt *st;
	char	     ts[ISO_TIME_LEN];
	int	     rc, step;

	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT id, kind, queue, attempts, failed_at, "
	    "error FROM failed_jobs ORDER BY failed_at DESC LIMIT 1000");
	while ((step = store_step(st)) == STORE_ROW)
		printf("%s\t%s\t%s\t%lld\t%s\t%s\n", store_col_text(st, 0),
		    store_col_text(st, 1), store_col_text(st, 2),
		    (long long)store_col_int64(st, 3),
		    time_format_iso(store_col_int64(st, 4), ts),
		    store_col_text(st, 5));
	rc = step == STORE_DONE ? OK : step;
	store_finalize(st);
	store_tx_rollback(tx);
	return (rc);
}

int
cli_jobs(struct store *db, int argc, char **argv)
{
	struct jobs_stats js;
	char		  job_id[JOB_ID_LEN];
	int		  rc;

	if (argc >= 2 && strcmp(argv[0], "retry") == 0) {
		if ((rc = jobs_retry_failed(db, argv[1], job_id)) != OK) {
			fprintf(stderr, "carebase: jobs retry %s: %s\n",
			    argv[1],
			    rc == ERR_NOT_FOUND ? "no such failed job"
						: err_code(rc));
			return (rc);
		}
		printf("jobs: failed job %s queued again as %s\n", argv[1],
		    job_id);
		return (OK);
	}
	if (argc >= 1 && strcmp(argv[0], "failed") == 0)
		return (jobs_list_failed(db));
	if (argc >= 1 && strcmp(argv[0], "stats") == 0) {
		if ((rc = jobs_stats(db, &js)) != OK)
			return (rc);
		printf("queued %lld\nrunning %lld\nfailed %lld\n",
		    (long long)js.queued, (long long)js.running,
		    (long long)js.failed);
		return (OK);
	}
	fprintf(stderr,
	    "usage: carebase jobs failed | jobs retry ID | jobs stats\n");
	return (ERR_INVALID);
}

static int
mail_test_tx(struct tx *tx, void *arg)
{
	struct mail_test *m = arg;
	json_t		 *vars;
	int		  rc;

	if ((vars = json_pack("{s:s}", "public_url", config.public_url)) ==
	    NULL)
		return (ERR_NOMEM);
	rc = ops_mail_enqueue(tx, m->to, NULL, "test", vars, m->log_id);
	json_decref(vars);
	return (rc);
}

int
cli_mail(struct store *db, int argc, char **argv)
{
	struct mail_test m;
	int		 rc;

	memset(&m, 0, sizeof(m));
	if (argc < 1 || strcmp(argv[0], "test") != 0 ||
	    (m.to = flag_value(argc, argv, "to")) == NULL) {
		fprintf(stderr, "usage: carebase mail test --to=ADDRESS\n");
		return (ERR_INVALID);
	}
	if ((rc = store_run(db, STORE_TX_WRITE, mail_test_tx, &m)) != OK) {
		fprintf(stderr, "carebase: mail test: %s\n",
		    rc == ERR_INVALID ? "not a valid address" : err_code(rc));
		return (rc);
	}
	printf("mail: queued test message (email_log %s); a worker sends it\n",
	    m.log_id);
	return (OK);
}

int
cli_schema(struct store *db, int argc, char **argv)
{
	return (ops_schema_print(db, stdout));
}

int
cli_user(struct store *db, int argc, char **argv)
{
	return (people_cli_user(db, argc, argv));
}

int
cli_roles(struct store *db, int argc, char **argv)
{
	return (people_cli_roles(db, argc, argv));
}

int
cli_audit(struct store *db, int argc, char **argv)
{
	return (people_cli_audit(db, argc, argv));
}

int
cli_webhooks(struct store *db, int argc, char **argv)
{
	return (inbox_cli(db, argc, argv, stdout));
}

int
cli_config(struct store *db, int argc, char **argv)
{
	config_usage();
	return (OK);
}

/* One line a route: METHOD TAB PATTERN TAB public|token TAB MODULE TAB
 * summary; HEAD and OPTIONS, which follow GET and every path, left out. */
int
cli_routes(struct store *db, int argc, char **argv)
{
	const struct route_table *const *t;
	const struct route		*r;
	const char			*m;
	size_t				 n, i, j;

	t = http_routes(&n);
	for (i = 0; i < n; i++)
		for (j = 0; j < t[i]->nroutes; j++) {
			r = &t[i]->routes[j];
			switch (r->method) {
			case HTTP_GET:
				m = "GET";
				break;
			case HTTP_POST:
				m = "POST";
				break;
			case HTTP_PUT:
				m = "PUT";
				break;
			case HTTP_PATCH:
				m = "PATCH";
				break;
			case HTTP_DELETE:
				m = "DELETE";
				break;
			default:
				m = "OTHER";
				break;
			}
			printf("%s\t%s\t%s\t%s\t%s\n", m, r->pattern,
			    (r->flags & ROUTE_PUBLIC) ? "public" : "token",
			    t[i]->module, r->summary != NULL ? r->summary : "");
		}
	return (OK);
}
