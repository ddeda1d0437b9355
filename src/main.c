/*
 * carebase: the command line. See `carebase help` and README.md.
 *
 * The table of commands, and main: the command and its flags, the
 * configuration, the modules (modules.c's list) registered, the master
 * key and the database, then the command. The commands are cli.c's, but
 * for seed, version and help, which read the module list and the table.
 *
 * Exit status, the same for every command: 0 done, 1 failed while
 * running (a database down, a file unreadable), 2 the command line or
 * the configuration is wrong and nothing was done (ERR_USAGE or
 * ERR_CONFIG).
 */
#include <sys/stat.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/mail.h"
#include "core/netaddr.h"
#include "http/http.h"
#include "module.h"
#include "modules.h"
#include "people/people.h"
#include "resource/audit.h"
#include "resource/list_cache.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/migrate.h"
#include "store/store.h"

/* A flag of a command: --name=VALUE (or --name VALUE) when value names
 * what it takes, a switch (--name) when value is NULL. */
struct cmd_flag {
	const char *name;
	const char *value;
	const char *help;
};

#define CMD_DB	   1 /* opens the database (and the master key) */
#define CMD_SCHEMA 2 /* and needs every migration applied */

struct cmd {
	const char *name;
	int (*run)(struct store *, int, char **);
	int		       needs; /* CMD_* */
	const char	      *usage;
	const char	      *help; /* one line, for `carebase help` */
	const char	      *more; /* for `carebase help NAME`; NULL = none */
	const struct cmd_flag *flags; /* ends with { NULL } */
	/* The command line checked before anything is read or made; NULL:
	 * the command checks its own. */
	int (*check)(int, char **);
};

static unsigned char master_key[MASTER_KEY_LEN];

static int		      modules_register(void);
static int		      open_db(struct store **);
static int		      schema_check(struct store *, const struct cmd *);
static int		      cmd_seed(struct store *, int, char **);
static int		      seed_check(int, char **);
static int		      cmd_version(struct store *, int, char **);
static int		      cmd_help(struct store *, int, char **);
static const struct cmd	     *cmd_find(const char *);
static void		      cmd_usage(FILE *);
static void		      cmd_help_one(const struct cmd *);
static const struct cmd_flag *cmd_flag_find(
    const struct cmd *, const char *, size_t);
static int args_split(
    const struct cmd *, int, char **, char **, int *, char **, int *);
static int argv_holds(int, char **, const char *);

static const struct cmd_flag no_flags[] = { { NULL } };
static const struct cmd_flag migrate_flags[] = {
	{ "to", "MIGRATION",
	    "down: roll back every migration applied after MIGRATION (its "
	    "number, 0034, or its name; 0 rolls back all of them)" },
	{ "batch", NULL,
	    "down: roll back the newest batch (what one `migrate` applied)" },
	{ "yes", NULL,
	    "down: do not ask (needed when standard input is not a "
	    "terminal)" },
	{ "force", NULL, "down: allowed in production (env=production)" },
	{ NULL },
};
static const struct cmd_flag seed_flags[] = {
	{ "force", NULL,
	    "seed in production too (the demo accounts' password is "
	    "published)" },
	{ NULL },
};
static const struct cmd_flag backup_flags[] = {
	{ "force", NULL, "replace FILE when it exists" },
	{ "compress", NULL, "write FILE gzip-compressed (gunzip reads it)" },
	{ "key-file", "KEYFILE",
	    "encrypt FILE under the 32-byte key in KEYFILE (64 hex "
	    "characters, mode 0600; not the master key). Default: "
	    "backup_key_file when --encrypt is given" },
	{ "encrypt", NULL, "encrypt under backup_key_file" },
	{ NULL },
};
static const struct cmd_flag restore_flags[] = {
	{ "force", NULL,
	    "replace a database that holds tables (stop every carebase "
	    "process first)" },
	{ "key-file", "KEYFILE",
	    "the key an encrypted FILE was written under (default: "
	    "backup_key_file)" },
	{ NULL },
};
static const struct cmd_flag mail_flags[] = {
	{ "to", "ADDRESS", "where the test message goes" },
	{ NULL },
};
static const struct cmd_flag user_flags[] = {
	{ "role", "ROLE", "add: the role (`carebase roles list`)" },
	{ "email", "EMAIL", "add: the address they sign in with" },
	{ "password", "PASSWORD",
	    "add: their password (else one line read from standard input)" },
	{ "first-name", "NAME", "add: their first name" },
	{ "last-name", "NAME", "add: their last name" },
	{ "invite", NULL,
	    "add: no password: mail them a link to choose one (staff_invite_ttl_s)" },
	{ NULL },
};
static const struct cmd_flag roles_flags[] = {
	{ "none", NULL, "set: leave the role no permission" },
	{ NULL },
};
static const struct cmd_flag audit_flags[] = {
	{ "anchor", "SEQ:HASH",
	    "verify: check the chain still holds an anchor `audit head` "
	    "printed earlier" },
	{ NULL },
};
static const struct cmd_flag webhooks_flags[] = {
	{ "failed", NULL, "list: only those that failed" },
	{ "force", NULL, "replay: run one that was processed already" },
	{ NULL },
};

static const struct cmd cmds[] = {
	{ "serve", cli_serve, CMD_DB, "serve",
	    "serve the HTTP API (and run jobs unless job_workers=0)",
	    "Serves until SIGINT or SIGTERM; prints \"carebase listening on "
	    "URL\" once it listens. The erasure journal is replayed first.",
	    no_flags },
	{ "worker", cli_worker, CMD_DB, "worker", "run jobs only, no HTTP",
	    NULL, no_flags },
	{ "migrate", cli_migrate, CMD_DB,
	    "migrate [up | status | down [--to=MIGRATION | --batch] [--yes] "
	    "[--force]]",
	    "apply pending migrations / list them / roll back the newest one",
	    "up (the default) applies every pending migration as one batch. "
	    "down rolls back the newest migration applied, or with --to "
	    "every one after MIGRATION, or with --batch the newest batch: "
	    "their tables and the data in them are dropped. It names them "
	    "and asks on a terminal; elsewhere it needs --yes, and in "
	    "production --force as well.",
	    migrate_flags, cli_migrate_check },
	{ "seed", cmd_seed, CMD_DB | CMD_SCHEMA, "seed [--force]",
	    "add demo data and print the demo accounts",
	    "The demo accounts (an admin among them) have one published "
	    "password, so in production (env=production) seed refuses "
	    "unless --force is given.",
	    seed_flags, seed_check },
	{ "backup", cli_backup, CMD_DB,
	    "backup FILE [--force] [--compress] [--encrypt | "
	    "--key-file=KEYFILE]",
	    "write a verified copy of the SQLite database while it serves",
	    "The copy is one consistent snapshot taken while others keep "
	    "writing; it is checked (PRAGMA integrity_check, and its "
	    "migrations known to this carebase) before FILE appears, made "
	    "0600. An existing FILE is kept unless --force. On a terminal it "
	    "shows its progress. PostgreSQL: use pg_dump (README, Backups).",
	    backup_flags, cli_backup_check },
	{ "restore", cli_restore, CMD_DB,
	    "restore FILE [--force] [--key-file=KEYFILE]",
	    "load a backup into an empty SQLite database, then replay the "
	    "erasure journal",
	    "FILE is what `carebase backup` wrote (plain, gzip or encrypted: "
	    "told by its first bytes). It is checked as backup checks before "
	    "anything is written; a database holding tables is replaced "
	    "only with --force. PostgreSQL: pg_restore, then `carebase "
	    "erasures replay`.",
	    restore_flags, cli_restore_check },
	{ "erasures", cli_erasures, CMD_DB, "erasures replay",
	    "erase again everyone in the erasure journal the database holds "
	    "(serve and worker do at start; after pg_restore)",
	    NULL, no_flags },
	{ "jobs", cli_jobs, CMD_DB | CMD_SCHEMA,
	    "jobs failed | jobs retry ID | jobs stats",
	    "list failed jobs, put one back in the queue, show queue figures",
	    NULL, no_flags },
	{ "mail", cli_mail, CMD_DB | CMD_SCHEMA,
	    "mail test --to=ADDRESS | mail preview [NAME]",
	    "queue a test message to check the SMTP settings, or show a "
	    "template",
	    "mail preview lists the templates' names; mail preview NAME "
	    "prints the\nsubject, text and HTML of template NAME filled with "
	    "sample data and the\ndeployment's brand (settings business_name, "
	    "brand_logo_url, brand_colour),\nin the layout every message is "
	    "sent in. A deployment overrides a template\nwith files in config "
	    "templates_dir: NAME.subject, NAME.txt, NAME.html\n(\"layout\" is "
	    "the frame around every message: {{body}}, {{logo}}).",
	    mail_flags },
	{ "schema", cli_schema, CMD_DB, "schema",
	    "print every table and column (to compare databases)", NULL,
	    no_flags, cli_no_args },
	{ "user", cli_user, CMD_DB | CMD_SCHEMA,
	    "user add --role=ROLE --email=EMAIL [--password=PASSWORD] | user "
	    "list",
	    "make a user (password from standard input when not given) / list "
	    "users",
	    NULL, user_flags },
	{ "roles", cli_roles, CMD_DB | CMD_SCHEMA,
	    "roles list | roles permissions | roles set ROLE PERM... | roles "
	    "set ROLE --none",
	    "list each role and its permissions / list every permission there "
	    "is / replace a role's permissions (audited; the admin role keeps "
	    "roles:update:all)",
	    NULL, roles_flags },
	{ "audit", cli_audit, CMD_DB | CMD_SCHEMA,
	    "audit verify [--anchor=SEQ:HASH] | audit head",
	    "walk the audit log's hash chain and name the first broken row "
	    "(and check an anchor recorded earlier) / print the head "
	    "SEQ:HASH",
	    NULL, audit_flags },
	{ "webhooks", cli_webhooks, CMD_DB | CMD_SCHEMA,
	    "webhooks list [--failed] | webhooks replay ID [--force] | "
	    "webhooks prune",
	    "list inbound webhooks and their outcomes / run a stored one again "
	    "(a processed one only with --force) / delete rows past "
	    "webhook_inbox_retention_days",
	    NULL, webhooks_flags },
	{ "config", cli_config, 0, "config",
	    "show every configuration value in force and where it came from",
	    "One line a key: its value (secrets masked), and default, "
	    "environment CAREBASE_<KEY> or flag --<key>. The keys:",
	    no_flags },
	{ "routes", cli_routes, 0, "routes",
	    "list every HTTP route: method, path, public or token, module",
	    NULL, no_flags, cli_no_args },
	{ "version", cmd_version, 0, "version", "print the version", NULL,
	    no_flags, cli_no_args },
	{ "help", cmd_help, 0, "help [COMMAND]",
	    "this text, or a command's usage and flags", NULL, no_flags },
};

static int
modules_register(void)
{
	static struct route_table   tables[MODULES_MAX];
	const struct module *const *modules;
	size_t			    i, j, n;
	int			    rc;

	modules = modules_all(&n);
	if (n > MODULES_MAX)
		return (ERR_TOO_LARGE);
	for (i = 0; i < n; i++) {
		const struct module *m = modules[i];
		struct route_table  *t = &tables[i];

		if (m->nroutes > 0) {
			t->module = m->name;
			t->routes = m->routes;
			t->nroutes = m->nroutes;
			if ((rc = http_routes_add(t)) != OK)
				return (rc);
		}
		for (j = 0; j < m->nresources; j++)
			if ((rc = resource_register(m->resources[j])) != OK)
				return (rc);
		for (j = 0; j < m->njobs; j++)
			if ((rc = jobs_register(&m->jobs[j])) != OK)
				return (rc);
		for (j = 0; j < m->nschedules; j++)
			if ((rc = jobs_schedule_register(&m->schedules[j])) !=
			    OK)
				return (rc);
	}
	{
		static struct route_table rt = { "resource", NULL, 0 };

		rt.routes = resource_routes;
		rt.nroutes = resource_nroutes;
		if ((rc = http_routes_add(&rt)) != OK)
			return (rc);
	}
	return (resource_since_check());
}

static int
open_db(struct store **dbp)
{
	const struct module *const *modules;
	struct store_opts	    o;
	const char		   *why = NULL;
	size_t			    i, n;
	int			    rc;

	memset(&o, 0, sizeof(o));
	o.pool_min = (int)config.pool_min;
	o.pool_max = (int)config.pool_max;
	o.busy_timeout_ms = (int)config.db_busy_timeout_ms;
	o.wait_timeout_ms = (int)config.db_wait_timeout_ms;
	o.create = 1;
	if ((rc = store_open(config.database_url, &o, dbp, &why)) != OK) {
		fprintf(stderr, "carebase: cannot open the database: %s\n",
		    why != NULL ? why : err_code(rc));
		return (rc);
	}
	modules = modules_all(&n);
	for (i = 0; i < n; i++)
		if (modules[i]->init != NULL &&
		    (rc = modules[i]->init(*dbp)) != OK) {
			fprintf(stderr,
			    "carebase: module %s failed to start: %s\n",
			    modules[i]->name, err_code(rc));
			return (rc);
		}
	return (OK);
}

/* seed [--force]: nothing else. */
static int
seed_check(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], "--force") != 0) {
			fprintf(stderr,
			    "carebase: seed: unknown argument %s (usage: "
			    "carebase seed [--force])\n",
			    argv[i]);
			return (ERR_USAGE);
		}
	return (OK);
}

static int
cmd_seed(struct store *db, int argc, char **argv)
{
	const struct module *const *modules;
	struct seed_accounts	    accounts;
	size_t			    i, n;
	int			    rc, seeded = 0;

	/* The demo accounts' password is in the README and printed: never
	 * made where real people sign in, unless said twice. */
	if (config_is_production() &&
	    !(argc == 1 && strcmp(argv[0], "--force") == 0)) {
		fprintf(stderr,
		    "carebase: env is production: seed refuses without --force "
		    "(it makes demo accounts, an admin among them, with a "
		    "published password)\n");
		return (ERR_USAGE);
	}
	memset(&accounts, 0, sizeof(accounts));
	modules = modules_all(&n);
	for (i = 0; i < n; i++) {
		if (modules[i]->seed == NULL)
			continue;
		if ((rc = modules[i]->seed(db, &accounts)) != OK) {
			fprintf(stderr, "carebase: seeding %s failed: %s\n",
			    modules[i]->name, err_code(rc));
			return (rc);
		}
		seeded++;
	}
	printf("seed: %d module%s seeded\n", seeded, seeded == 1 ? "" : "s");
	return (OK);
}

static int
cmd_version(struct store *db, int argc, char **argv)
{
	printf("carebase %s\n", CAREBASE_VERSION);
	return (OK);
}

static int
cmd_help(struct store *db, int argc, char **argv)
{
	const struct cmd *c;

	if (argc > 1) {
		fprintf(stderr, "usage: carebase help [COMMAND]\n");
		return (ERR_USAGE);
	}
	if (argc == 1) {
		if ((c = cmd_find(argv[0])) == NULL) {
			fprintf(stderr,
			    "carebase: there is no command \"%.64s\" (carebase "
			    "help lists them)\n",
			    argv[0]);
			return (ERR_USAGE);
		}
		cmd_help_one(c);
		return (OK);
	}
	printf("carebase %s: the backend of a care, therapy and training "
	       "platform\n\n",
	    CAREBASE_VERSION);
	cmd_usage(stdout);
	return (OK);
}

static const struct cmd *
cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < NELEM(cmds); i++)
		if (strcmp(name, cmds[i].name) == 0)
			return (&cmds[i]);
	return (NULL);
}

static void
cmd_usage(FILE *fp)
{
	size_t i;

	fprintf(fp,
	    "usage: carebase COMMAND [ARGS] [--config-key=VALUE ...]\n"
	    "       carebase help COMMAND | carebase COMMAND --help | "
	    "carebase --version\n\n");
	for (i = 0; i < NELEM(cmds); i++)
		fprintf(fp, "  %s\n      %s\n", cmds[i].usage, cmds[i].help);
	fprintf(fp,
	    "\nEvery configuration key is also read from CAREBASE_<KEY> and "
	    "taken as a flag\n(--port=8080 or --port 8080); `carebase config` "
	    "shows the values in force.\nExit status: 0 done, 1 failed, 2 the "
	    "command line or the configuration is\nwrong and nothing was "
	    "done.\n");
}

/* `carebase help NAME`, `carebase NAME --help`: on standard output. */
static void
cmd_help_one(const struct cmd *c)
{
	const struct cmd_flag *f;
	char		       flag[64];

	printf("usage: carebase %s\n\n%s.\n", c->usage, c->help);
	if (c->more != NULL)
		printf("\n%s\n", c->more);
	if (c->flags[0].name != NULL)
		printf("\nflags:\n");
	for (f = c->flags; f->name != NULL; f++) {
		snprintf(flag, sizeof(flag), "--%s%s%s", f->name,
		    f->value != NULL ? "=" : "",
		    f->value != NULL ? f->value : "");
		printf("  %-22s %s\n", flag, f->help);
	}
	if (strcmp(c->name, "config") == 0) {
		printf("\n");
		config_usage();
	}
	printf("\nAny configuration key is a flag too (`carebase help config` "
	       "lists them).\nExit status: 0 done, 1 failed, 2 the command "
	       "line or the configuration is wrong (nothing done).\n");
}

static const struct cmd_flag *
cmd_flag_find(const struct cmd *c, const char *name, size_t n)
{
	const struct cmd_flag *f;

	for (f = c->flags; f->name != NULL; f++)
		if (strlen(f->name) == n && strncmp(f->name, name, n) == 0)
			return (f);
	return (NULL);
}

/*
 * Split the arguments after the command into its own (args: words, and
 * its flags as --name or --name=VALUE) and configuration flags (conf,
 * each --key=VALUE). --name VALUE is taken as --name=VALUE for flags that
 * take a value. Strings made here are the caller's to free (those in
 * args that are not argv's: compare). ERR_USAGE, said on standard error,
 * for a flag that is unknown, lacks its value or has one it does not take.
 */
static int
args_split(const struct cmd *c, int argc, char **argv, char **args, int *nargs,
    char **conf, int *nconf)
{
	const struct cmd_flag *f;
	const char	      *name, *eq, *value;
	char		      *made;
	size_t		       n;
	int		       k;

	*nargs = *nconf = 0;
	for (k = 0; k < argc; k++) {
		if (strncmp(argv[k], "--", 2) != 0 || argv[k][2] == '\0') {
			args[(*nargs)++] = argv[k];
			continue;
		}
		name = argv[k] + 2;
		eq = strchr(name, '=');
		n = eq != NULL ? (size_t)(eq - name) : strlen(name);
		f = cmd_flag_find(c, name, n);
		if (f == NULL && !config_has(name, n)) {
			fprintf(stderr,
			    "carebase: %s has no flag --%.*s (see carebase help "
			    "%s; configuration keys: carebase help config)\n",
			    c->name, (int)(n > 64 ? 64 : n), name, c->name);
			return (ERR_USAGE);
		}
		if (f != NULL && f->value == NULL) {
			if (eq != NULL) {
				fprintf(stderr,
				    "carebase: --%s takes no value (see "
				    "carebase help %s)\n",
				    f->name, c->name);
				return (ERR_USAGE);
			}
			args[(*nargs)++] = argv[k];
			continue;
		}
		if (eq != NULL)
			value = eq + 1;
		else if (k + 1 < argc && strncmp(argv[k + 1], "--", 2) != 0)
			value = argv[++k];
		else {
			fprintf(stderr,
			    "carebase: --%.*s needs a value: --%.*s=%s (see "
			    "carebase help %s)\n",
			    (int)(n > 64 ? 64 : n), name,
			    (int)(n > 64 ? 64 : n), name,
			    f != NULL ? f->value : "VALUE",
			    f != NULL ? c->name : "config");
			return (ERR_USAGE);
		}
		if (eq != NULL)
			made = argv[k];
		else if (asprintf(&made, "--%.*s=%s", (int)n, name, value) ==
		    -1)
			return (ERR_NOMEM);
		if (f != NULL)
			args[(*nargs)++] = made;
		else
			conf[(*nconf)++] = made;
	}
	return (OK);
}

/* 1 when s is one of argv's strings (not one args_split made). */
static int
argv_holds(int argc, char **argv, const char *s)
{
	int k;

	for (k = 0; k < argc; k++)
		if (argv[k] == s)
			return (1);
	return (0);
}

/* The commands that read the schema need every migration applied: one
 * line that says so, rather than an internal error halfway. */
static int
schema_check(struct store *db, const struct cmd *c)
{
	int	   rc;
	struct tx *tx;
	int	   there = 0;

	if (!(c->needs & CMD_SCHEMA))
		return (OK);
	/* Never migrated: asked of the catalog, so no statement fails. */
	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) == OK) {
		rc = store_table_exists(tx, "schema_migrations", &there);
		store_tx_rollback(tx);
	}
	if (rc == OK)
		rc = there ? migrate_current(db) : ERR_UNAVAILABLE;
	if (rc == ERR_UNAVAILABLE)
		fprintf(stderr,
		    "carebase: migrations are pending on this database "
		    "(`carebase migrate status` lists them): run `carebase "
		    "migrate` first, then `carebase %s` again\n",
		    c->name);
	else if (rc != OK)
		fprintf(stderr,
		    "carebase: cannot read the database's migrations: %s\n",
		    err_code(rc));
	return (rc);
}

int
main(int argc, char **argv)
{
	const struct cmd *c = NULL;
	struct store	 *db = NULL;
	char		  err[512], **args = NULL, **conf = NULL;
	int		  nargs = 0, nconf = 0, k, rc;

	setvbuf(stderr, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	/* Every file carebase makes (the database and its -wal and -shm,
	 * backups, keys, the journal, spreadsheets' scratch files) is its
	 * owner's alone: 0600 files, 0700 folders. */
	umask(077);
	if (argc < 2) {
		cmd_usage(stderr);
		return (2);
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
		return (cmd_version(NULL, 0, NULL) == OK ? 0 : 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return (cmd_help(NULL, 0, NULL) == OK ? 0 : 1);
	if ((c = cmd_find(argv[1])) == NULL) {
		fprintf(stderr,
		    "carebase: unknown command \"%.64s\" (carebase help lists "
		    "them)\n",
		    argv[1]);
		return (2);
	}
	/* --help anywhere: the command's help, and nothing else done (no
	 * configuration read, no key or database made). */
	for (k = 2; k < argc; k++)
		if (strcmp(argv[k], "--help") == 0 ||
		    strcmp(argv[k], "-h") == 0) {
			cmd_help_one(c);
			return (0);
		}
	if ((args = calloc((size_t)argc, sizeof(*args))) == NULL ||
	    (conf = calloc((size_t)argc, sizeof(*conf))) == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	if ((rc = args_split(
		 c, argc - 2, argv + 2, args, &nargs, conf, &nconf)) != OK ||
	    (c->check != NULL && (rc = c->check(nargs, args)) != OK))
		goto out;
	if (config_load(nconf, conf, err, sizeof(err)) != OK ||
	    netaddr_proxies_set(config.trusted_proxies, err, sizeof(err)) !=
		OK) {
		fprintf(stderr, "carebase: %s\n", err);
		rc = ERR_USAGE;
		goto out;
	}
	crypto_password_params((unsigned long long)config.password_opslimit,
	    (size_t)config.password_memlimit_kib * 1024);
	if (crypto_init() != OK || mail_init() != OK) {
		fprintf(
		    stderr, "carebase: cannot initialise libsodium/libcurl\n");
		rc = ERR_INTERNAL;
		goto out;
	}
	if ((rc = modules_register()) != OK) {
		fprintf(stderr,
		    "carebase: module registration failed: %s (the log line "
		    "above says why)\n",
		    err_code(rc));
		goto out;
	}
	if (c->needs & CMD_DB) {
		if (crypto_master_key_load(config.master_key_file,
			!config_is_production(), master_key, err,
			sizeof(err)) != OK) {
			fprintf(stderr, "carebase: %s\n", err);
			rc = ERR_CONFIG;
			goto out;
		}
		keyring_init(master_key);
		sodium_memzero(master_key, sizeof(master_key));
		if ((rc = open_db(&db)) != OK ||
		    (rc = schema_check(db, c)) != OK)
			goto out;
	}
	rc = c->run(db, nargs, args);
out:
	/* Reads' audit rows still queued are written before the database
	 * closes (serve has stopped answering by now). */
	list_cache_stop();
	audit_queue_stop();
	people_erasures_close();
	store_close(db);
	keyring_wipe();
	sodium_memzero(master_key, sizeof(master_key));
	mail_cleanup();
	resource_patterns_free();
	config_free();
	for (k = 0; args != NULL && k < nargs; k++)
		if (!argv_holds(argc, argv, args[k]))
			free(args[k]);
	for (k = 0; conf != NULL && k < nconf; k++)
		if (!argv_holds(argc, argv, conf[k]))
			free(conf[k]);
	free(args);
	free(conf);
	/* 2: the command line or the configuration is wrong, the operator's
	 * to mend; 1: it failed (a database down, a file unreadable). */
	return (rc == OK ? 0 : rc == ERR_USAGE || rc == ERR_CONFIG ? 2 : 1);
}
