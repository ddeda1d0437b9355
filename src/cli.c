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
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

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
#include "store/backup.h"
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
static int	   migrate_down_cli(struct store *, int, char **);
static void	   backup_progress(int, int, void *);
static void	   size_text(int64_t, char *, size_t);
static int	   backup_key(int, char **, int, unsigned char *, int *);
static int	   backup_start(struct store *);

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

/* The scheduled backup (backup_cron), or one line saying why not. */
static int
backup_start(struct store *db)
{
	char err[512];
	int  rc;

	if ((rc = backup_schedule(db, err, sizeof(err))) != OK)
		fprintf(stderr, "carebase: %s\n", err);
	return (rc);
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
	if ((rc = erasures_start(db, 1)) != OK ||
	    (rc = backup_start(db)) != OK) {
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
	o.metrics_listen = config.metrics_listen;
	o.db = db;
	if ((rc = http_server_start(&o, &srv)) != OK) {
		log_buffer_stop(); /* what was logged comes first */
		fprintf(stderr, "carebase: cannot serve on %s port %lld: %s\n",
		    config.listen, (long long)config.port,
		    rc == ERR_IO ? "the address is in use or unavailable, or "
				   "the TLS files do "
				   "not load (the log line above says which)"
			: rc == ERR_CONFIG
			? "the address does not resolve (set --listen to an "
			  "address of this machine, such as 127.0.0.1)"
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
	/* Lines on stdout that scripts can wait for: the metrics
	 * listener's first, so both are out once the main one is. */
	if (http_server_metrics_port(srv) > 0)
		printf("carebase metrics listening on http://%.*s:%d/metrics\n",
		    (int)(strrchr(config.metrics_listen, ':') -
			config.metrics_listen),
		    config.metrics_listen, http_server_metrics_port(srv));
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
	if ((rc = erasures_start(db, 1)) != OK ||
	    (rc = backup_start(db)) != OK) {
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

/*
 * migrate down: what it rolls back is named first, and it goes on only
 * when told to (a terminal's "yes", or --yes), never in production
 * without --force: it drops tables and the data in them.
 */
static int
migrate_down_cli(struct store *db, int argc, char **argv)
{
	struct migrate_row *rows = NULL;
	const char	  **names = NULL, *to = flag_value(argc, argv, "to");
	char		    line[16];
	size_t		    n = 0, i, k = 0, after = SIZE_MAX;
	int64_t		    newest = 0, *batches = NULL;
	int		    rc, batch = 0, yes = 0, force = 0, reverted = 0;

	if ((rc = cli_migrate_check(argc, argv)) != OK)
		return (rc);
	for (i = 1; i < (size_t)argc; i++)
		if (strcmp(argv[i], "--batch") == 0)
			batch = 1;
		else if (strcmp(argv[i], "--yes") == 0)
			yes = 1;
		else if (strcmp(argv[i], "--force") == 0)
			force = 1;
	if ((rc = migrate_history(db, &rows, &n)) != OK) {
		fprintf(stderr, "carebase: cannot read the migrations: %s\n",
		    err_code(rc));
		return (rc);
	}
	/* rows are oldest first (by name). What goes: the newest; those
	 * after --to's; or those of the newest batch, wherever they sort. */
	if (to != NULL && strcmp(to, "0") != 0) {
		size_t tl = strlen(to);

		for (after = SIZE_MAX, i = 0; i < n; i++)
			if (strcmp(rows[i].name, to) == 0 ||
			    (strncmp(rows[i].name, to, tl) == 0 &&
				rows[i].name[tl] == '_'))
				after = i;
		if (after == SIZE_MAX) {
			fprintf(stderr,
			    "carebase: no applied migration is %.64s (`carebase "
			    "migrate status` lists them; --to=0 rolls back "
			    "every one)\n",
			    to);
			rc = ERR_USAGE;
			goto out;
		}
	}
	for (i = 0; i < n; i++)
		if (rows[i].batch > newest)
			newest = rows[i].batch;
	if (n > 0 &&
	    ((names = calloc(n, sizeof(*names))) == NULL ||
		(batches = calloc(n, sizeof(*batches))) == NULL)) {
		rc = ERR_NOMEM;
		goto out;
	}
	/* Newest first, each as migrate_down_names takes them. */
	for (i = n; i-- > 0;)
		if (batch	     ? rows[i].batch == newest
			: to == NULL ? i == n - 1
				     : after == SIZE_MAX || i > after) {
			names[k] = rows[i].name;
			batches[k++] = rows[i].batch;
		}
	if (k == 0) {
		printf("migrate: nothing to roll back\n");
		goto out;
	}
	fprintf(stderr,
	    "migrate down rolls back %zu migration%s, newest first, dropping "
	    "their tables and the data in them:\n",
	    k, k == 1 ? "" : "s");
	for (i = 0; i < k; i++)
		fprintf(stderr, "  %s (batch %lld)\n", names[i],
		    (long long)batches[i]);
	if (config_is_production() && !force) {
		fprintf(stderr,
		    "carebase: env is production: migrate down refuses without "
		    "--force (take a backup first: carebase backup FILE)\n");
		rc = ERR_USAGE;
		goto out;
	}
	if (!yes && !(isatty(STDIN_FILENO) && isatty(STDERR_FILENO))) {
		fprintf(stderr,
		    "carebase: nothing rolled back: standard %s is not a "
		    "terminal to ask on; run it again with --yes to go on\n",
		    isatty(STDIN_FILENO) ? "error" : "input");
		rc = ERR_USAGE;
		goto out;
	}
	if (!yes) {
		fprintf(stderr, "Roll them back? Type yes to go on: ");
		fflush(stderr); /* line-buffered: the question has no newline */
		if (fgets(line, sizeof(line), stdin) == NULL ||
		    strcmp(line, "yes\n") != 0) {
			fprintf(stderr, "carebase: nothing rolled back\n");
			rc = ERR_INVALID;
			goto out;
		}
	}
	if ((rc = migrate_down_names(db, names, k, &reverted)) != OK) {
		fprintf(stderr,
		    "carebase: migrate down failed (%s) after rolling back %d; "
		    "the failing one left no change (the log says why)\n",
		    err_code(rc), reverted);
		goto out;
	}
	printf("migrate: rolled back %d migration%s\n", reverted,
	    reverted == 1 ? "" : "s");
out:
	free(names);
	free(batches);
	migrate_history_free(rows, n);
	return (rc);
}

/* migrate's command line, checked before anything is opened: a wrong
 * one makes no key and no database. */
int
cli_migrate_check(int argc, char **argv)
{
	const char *what = argc > 0 ? argv[0] : "up";
	int	    i, batch = 0, to = 0;

	if (strcmp(what, "up") != 0 && strcmp(what, "status") != 0 &&
	    strcmp(what, "down") != 0) {
		fprintf(stderr,
		    "carebase: migrate takes up, down or status "
		    "(see carebase help migrate)\n");
		return (ERR_USAGE);
	}
	if (strcmp(what, "down") != 0) {
		if (argc > 1) {
			fprintf(stderr,
			    "carebase: migrate %s takes no more arguments "
			    "(see carebase help migrate)\n",
			    what);
			return (ERR_USAGE);
		}
		return (OK);
	}
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--batch") == 0)
			batch = 1;
		else if (strncmp(argv[i], "--to=", 5) == 0)
			to = 1;
		else if (strcmp(argv[i], "--yes") != 0 &&
		    strcmp(argv[i], "--force") != 0) {
			fprintf(stderr,
			    "usage: carebase migrate down "
			    "[--to=MIGRATION | --batch] [--yes] "
			    "[--force]\n");
			return (ERR_USAGE);
		}
	if (batch && to) {
		fprintf(stderr,
		    "carebase: migrate down takes --to or --batch, not both\n");
		return (ERR_USAGE);
	}
	return (OK);
}

int
cli_migrate(struct store *db, int argc, char **argv)
{
	const char *what = argc > 0 ? argv[0] : "up";
	int	    n = 0, rc;

	if ((rc = cli_migrate_check(argc, argv)) != OK)
		return (rc);
	if (strcmp(what, "down") == 0)
		return (migrate_down_cli(db, argc, argv));
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
	} else
		return (migrate_status(db, stdout));
	return (OK);
}

/* On a terminal, one line redrawn as the copy goes. */
static void
backup_progress(int left, int total, void *arg)
{
	int *shown = arg;
	int  pct = total > 0 ? (int)(100LL * (total - left) / total) : 100;

	if (pct == *shown)
		return;
	*shown = pct;
	fprintf(stderr, "\rbackup: %3d%% (%d of %d pages)", pct, total - left,
	    total);
	if (left == 0)
		fprintf(stderr, "\n");
}

static void
size_text(int64_t bytes, char *out, size_t outlen)
{
	if (bytes >= 1024 * 1024)
		snprintf(out, outlen, "%.1f MiB", (double)bytes / 1048576.0);
	else
		snprintf(out, outlen, "%.1f KiB", (double)bytes / 1024.0);
}

/* A backup key from --key-file, or backup_key_file with --encrypt (or
 * for restore, when the file is encrypted); *have 0 when there is none
 * to use. */
static int
backup_key(int argc, char **argv, int by_default, unsigned char *key, int *have)
{
	const char *path = flag_value(argc, argv, "key-file");
	char	    err[512];
	int	    i, rc;

	*have = 0;
	for (i = 0; path == NULL && i < argc; i++)
		if (strcmp(argv[i], "--encrypt") == 0)
			by_default = 1;
	if (path == NULL && by_default && config.backup_key_file[0] != '\0')
		path = config.backup_key_file;
	if (path == NULL) {
		for (i = 0; i < argc; i++)
			if (strcmp(argv[i], "--encrypt") == 0) {
				fprintf(stderr,
				    "carebase: --encrypt needs a key: "
				    "--key-file=KEYFILE, or backup_key_file "
				    "set\n");
				return (ERR_USAGE);
			}
		return (OK);
	}
	if ((rc = backup_key_load(path, key, err, sizeof(err))) != OK) {
		fprintf(stderr, "carebase: %s\n", err);
		return (rc);
	}
	*have = 1;
	return (OK);
}

/* backup's and restore's command line: FILE, once. Checked before
 * anything is opened. */
int
cli_backup_check(int argc, char **argv)
{
	int i, files = 0;

	for (i = 0; i < argc; i++)
		if (strncmp(argv[i], "--", 2) != 0)
			files++;
	if (files != 1) {
		fprintf(stderr,
		    "usage: carebase backup FILE [--force] "
		    "[--compress] [--encrypt | "
		    "--key-file=KEYFILE]\n");
		return (ERR_USAGE);
	}
	return (OK);
}

int
cli_restore_check(int argc, char **argv)
{
	int i, files = 0;

	for (i = 0; i < argc; i++)
		if (strncmp(argv[i], "--", 2) != 0)
			files++;
	if (files != 1) {
		fprintf(stderr,
		    "usage: carebase restore FILE [--force] "
		    "[--key-file=KEYFILE]\n");
		return (ERR_USAGE);
	}
	return (OK);
}

/* Commands that take no argument: one is a wrong command line. */
int
cli_no_args(int argc, char **argv)
{
	if (argc > 0) {
		fprintf(stderr,
		    "carebase: this command takes no arguments (\"%.64s\" "
		    "given; carebase help lists the commands)\n",
		    argv[0]);
		return (ERR_USAGE);
	}
	return (OK);
}

/* backup FILE [--force] [--compress] [--encrypt | --key-file=KEYFILE] */
int
cli_backup(struct store *db, int argc, char **argv)
{
	struct backup_opts o;
	struct backup_info bi;
	unsigned char	   key[BACKUP_KEY_LEN];
	const char	  *file = NULL;
	char		   err[1024], size[32];
	int		   i, have = 0, shown = -1, rc;

	memset(&o, 0, sizeof(o));
	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], "--force") == 0)
			o.force = 1;
		else if (strcmp(argv[i], "--compress") == 0)
			o.compress = 1;
		else if (strncmp(argv[i], "--", 2) == 0)
			continue; /* --encrypt, --key-file: backup_key */
		else if (file == NULL)
			file = argv[i];
		else
			file = "";
	if (file == NULL || file[0] == '\0') {
		fprintf(stderr,
		    "usage: carebase backup FILE [--force] "
		    "[--compress] [--encrypt | "
		    "--key-file=KEYFILE]\n");
		return (ERR_USAGE);
	}
	if (store_dialect(db) != STORE_SQLITE) {
		fprintf(stderr,
		    "carebase: backup copies SQLite databases; for "
		    "PostgreSQL use pg_dump (README, Backups)\n");
		return (ERR_USAGE);
	}
	if ((rc = backup_key(argc, argv, 0, key, &have)) != OK)
		return (rc);
	o.key = have ? key : NULL;
	backup_clean_on_signal();
	if (isatty(STDERR_FILENO)) {
		o.progress = backup_progress;
		o.arg = &shown;
	}
	err[0] = '\0';
	rc = backup_write(db, file, &o, &bi, err, sizeof(err));
	sodium_memzero(key, sizeof(key));
	if (rc != OK) {
		if (shown >= 0 && shown < 100)
			fprintf(stderr, "\n");
		fprintf(stderr, "carebase: backup to %s failed: %s\n", file,
		    err[0] ? err : err_code(rc));
		return (rc == ERR_CONFLICT ? ERR_USAGE : rc);
	}
	size_text(bi.file_bytes, size, sizeof(size));
	printf("backup: wrote %s (%s%s%s), checked: integrity ok, %d "
	       "migration%s up to %s, %d pending%s\n",
	    file, size, bi.compressed ? ", gzip" : "",
	    bi.encrypted ? ", encrypted" : "", bi.migrations,
	    bi.migrations == 1 ? "" : "s", bi.newest[0] ? bi.newest : "none",
	    bi.pending,
	    bi.unknown > 0 ? " (and some this carebase does not know)" : "");
	return (OK);
}

/*
 * restore FILE [--force] [--key-file=KEYFILE]: SQLite only. The backup is
 * decoded and checked as backup checks before anything is written, goes
 * in whole, then the erasure journal is replayed, so whoever was erased
 * after the backup was made stays erased.
 */
int
cli_restore(struct store *db, int argc, char **argv)
{
	struct backup_info bi;
	unsigned char	   key[BACKUP_KEY_LEN];
	const char	  *file = NULL;
	char		   err[1024];
	int		   i, force = 0, have = 0, rc;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else if (strncmp(argv[i], "--", 2) == 0)
			continue; /* --key-file: backup_key */
		else if (file == NULL)
			file = argv[i];
		else
			file = "";
	if (file == NULL || file[0] == '\0') {
		fprintf(stderr,
		    "usage: carebase restore FILE [--force] "
		    "[--key-file=KEYFILE]\n");
		return (ERR_USAGE);
	}
	if (store_dialect(db) != STORE_SQLITE) {
		fprintf(stderr,
		    "carebase: restore loads SQLite backups; for PostgreSQL "
		    "use pg_restore, then `carebase erasures replay` (README, "
		    "Backups)\n");
		return (ERR_USAGE);
	}
	/* The journal first: without it the copy must not go in. */
	if ((rc = people_erasures_open(err, sizeof(err))) != OK) {
		fprintf(stderr, "carebase: %s\n", err);
		return (rc);
	}
	/* backup_key_file only for an encrypted file: a plain backup
	 * restores whether that key is there or not. */
	if ((rc = backup_key(argc, argv, backup_encrypted(file), key, &have)) !=
	    OK)
		return (rc);
	err[0] = '\0';
	rc = backup_restore(
	    db, file, have ? key : NULL, force, &bi, err, sizeof(err));
	sodium_memzero(key, sizeof(key));
	if (rc != OK) {
		fprintf(stderr, "carebase: restore from %s refused: %s\n", file,
		    err[0] ? err : err_code(rc));
		return (rc == ERR_CONFLICT ? ERR_USAGE : rc);
	}
	printf("restore: wrote the database from %s (%d migration%s up to "
	       "%s%s)\n",
	    file, bi.migrations, bi.migrations == 1 ? "" : "s", bi.newest,
	    bi.pending > 0 ? "; migrations pending: run `carebase migrate`"
			   : "");
	return (erasures_start(db, 0));
}

int
cli_erasures(struct store *db, int argc, char **argv)
{
	if (argc != 1 || strcmp(argv[0], "replay") != 0) {
		fprintf(stderr, "usage: carebase erasures replay\n");
		return (ERR_USAGE);
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
	return (ERR_USAGE);
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
	if (argc >= 1 && strcmp(argv[0], "preview") == 0) {
		if (argc > 2) {
			fprintf(
			    stderr, "usage: carebase mail preview [NAME]\n");
			return (ERR_USAGE);
		}
		rc = ops_mail_preview(db, argc == 2 ? argv[1] : NULL, stdout);
		if (rc == ERR_NOT_FOUND) {
			fprintf(stderr,
			    "carebase: mail preview: no template %.64s "
			    "(`carebase mail preview` lists them)\n",
			    argv[1]);
			return (ERR_USAGE);
		}
		if (rc != OK)
			fprintf(stderr, "carebase: mail preview: %s\n",
			    err_code(rc));
		return (rc);
	}
	if (argc < 1 || strcmp(argv[0], "test") != 0 ||
	    (m.to = flag_value(argc, argv, "to")) == NULL) {
		fprintf(stderr,
		    "usage: carebase mail test --to=ADDRESS | "
		    "mail preview [NAME]\n");
		return (ERR_USAGE);
	}
	if ((rc = store_run(db, STORE_TX_WRITE, mail_test_tx, &m)) != OK) {
		fprintf(stderr, "carebase: mail test: %s\n",
		    rc == ERR_INVALID ? "--to is not a valid address (one "
					"like name@example.org)"
				      : err_code(rc));
		return (rc == ERR_INVALID ? ERR_USAGE : rc);
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
	if (argc > 0) {
		fprintf(stderr,
		    "usage: carebase config (carebase help config "
		    "describes every key)\n");
		return (ERR_USAGE);
	}
	config_print(stdout);
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
