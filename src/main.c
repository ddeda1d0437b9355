/*
 * carebase: the command line. See `carebase help` and README.md.
 *
 * The table of commands, and main: the command and its flags, the
 * configuration, the modules (modules.c's list) registered, the master
 * key and the database, then the command. The commands are cli.c's, but
 * for seed, version and help, which read the module list and the table.
 */
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
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/migrate.h"
#include "store/store.h"

struct cmd {
	const char *name;
	int (*run)(struct store *, int, char **);
	int	    needs_db;
	const char *usage;
	const char *help;
};

static unsigned char master_key[MASTER_KEY_LEN];

static int modules_register(void);
static int open_db(struct store **);
static int cmd_seed(struct store *, int, char **);
static int cmd_version(struct store *, int, char **);
static int cmd_help(struct store *, int, char **);

static const struct cmd cmds[] = {
	{ "serve", cli_serve, 1, "serve",
	    "serve the HTTP API (and run jobs unless job_workers=0)" },
	{ "worker", cli_worker, 1, "worker", "run jobs only, no HTTP" },
	{ "migrate", cli_migrate, 1, "migrate [up|down|status]",
	    "apply pending migrations / roll back the last batch / list them" },
	{ "seed", cmd_seed, 1, "seed",
	    "add demo data and print the demo accounts" },
	{ "backup", cli_backup, 1, "backup FILE",
	    "write a consistent copy of the SQLite database while it serves" },
	{ "restore", cli_restore, 1, "restore FILE [--force]",
	    "replace the SQLite database with a copy `backup` wrote (--force "
	    "when it holds tables), then replay the erasure journal" },
	{ "erasures", cli_erasures, 1, "erasures replay",
	    "erase again everyone in the erasure journal the database holds "
	    "(serve and worker do at start; after pg_restore)" },
	{ "jobs", cli_jobs, 1, "jobs failed | jobs retry ID | jobs stats",
	    "list failed jobs, put one back in the queue, show queue figures" },
	{ "mail", cli_mail, 1, "mail test --to=ADDRESS",
	    "queue a test message to check the SMTP settings" },
	{ "schema", cli_schema, 1, "schema",
	    "print every table and column (to compare databases)" },
	{ "user", cli_user, 1,
	    "user add --role=ROLE --email=E [--password=P] | user list",
	    "make a user (password from standard input when not given) / list "
	    "users" },
	{ "roles", cli_roles, 1,
	    "roles list | roles permissions | roles set ROLE PERM... | roles "
	    "set ROLE --none",
	    "list each role and its permissions / list every permission there "
	    "is / replace a role's permissions (audited; the admin role keeps "
	    "roles:update:all)" },
	{ "audit", cli_audit, 1,
	    "audit verify [--anchor=SEQ:HASH] | audit head",
	    "walk the audit log's hash chain and name the first broken row "
	    "(and check an anchor recorded earlier) / print the head "
	    "SEQ:HASH" },
	{ "webhooks", cli_webhooks, 1,
	    "webhooks list [--failed] | webhooks "
	    "replay ID [--force] | webhooks prune",
	    "list inbound webhooks and "
	    "their outcomes / run a stored one again (a processed one only "
	    "with "
	    "--force) / delete rows past webhook_inbox_retention_days" },
	{ "config", cli_config, 0, "config", "list every configuration key" },
	{ "routes", cli_routes, 0, "routes",
	    "list every HTTP route: method, path, public or token, module" },
	{ "version", cmd_version, 0, "version", "print the version" },
	{ "help", cmd_help, 0, "help", "this text" },
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
	return (OK);
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

static int
cmd_seed(struct store *db, int argc, char **argv)
{
	const struct module *const *modules;
	struct seed_accounts	    accounts;
	size_t			    i, n;
	int			    rc, seeded = 0;

	memset(&accounts, 0, sizeof(accounts));
	if ((rc = migrate_current(db)) != OK) {
		fprintf(stderr,
		    "carebase: run `carebase migrate` before seeding\n");
		return (rc);
	}
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
	size_t i;

	printf("carebase %s: the backend of a care, therapy and training "
	       "platform\n\nusage: carebase COMMAND [ARGS] [--config-key=VALUE "
	       "...]"
	       "\n\n",
	    CAREBASE_VERSION);
	for (i = 0; i < NELEM(cmds); i++)
		printf("  %-40s %s\n", cmds[i].usage, cmds[i].help);
	printf("\n`carebase config` lists the configuration keys; each is also "
	       "read from CAREBASE_<KEY>.\n");
	return (OK);
}

int
main(int argc, char **argv)
{
	const struct cmd *c = NULL;
	struct store	 *db = NULL;
	char		  err[512], **args;
	const char	 *eq;
	size_t		  i;
	int		  nargs = 0, k, rc;

	setvbuf(stderr, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		cmd_help(NULL, 0, NULL);
		return (2);
	}
	for (i = 0; i < NELEM(cmds); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			c = &cmds[i];
	if (c == NULL &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		c = &cmds[NELEM(cmds) - 1];
	if (c == NULL) {
		fprintf(stderr,
		    "carebase: unknown command \"%s\" (see carebase "
		    "help)\n",
		    argv[1]);
		return (2);
	}
	/* Split config flags from the command's own arguments. */
	if ((args = calloc((size_t)argc, sizeof(*args))) == NULL)
		return (1);
	for (k = 2; k < argc; k++) {
		if (strncmp(argv[k], "--", 2) == 0 &&
		    (eq = strchr(argv[k], '=')) != NULL &&
		    config_has(argv[k] + 2, (size_t)(eq - argv[k] - 2)))
			continue;
		if (strncmp(argv[k], "--", 2) == 0 &&
		    !(strcmp(c->name, "mail") == 0 &&
			strncmp(argv[k], "--to=", 5) == 0) &&
		    !(strcmp(c->name, "audit") == 0 &&
			strncmp(argv[k], "--anchor=", 9) == 0) &&
		    !(strcmp(c->name, "webhooks") == 0 &&
			(strcmp(argv[k], "--failed") == 0 ||
			    strcmp(argv[k], "--force") == 0)) &&
		    !(strcmp(c->name, "restore") == 0 &&
			strcmp(argv[k], "--force") == 0) &&
		    !(strcmp(c->name, "roles") == 0 &&
			strcmp(argv[k], "--none") == 0) &&
		    strcmp(c->name, "user") != 0) {
			fprintf(stderr,
			    "carebase: unknown flag %s (see carebase "
			    "config)\n",
			    argv[k]);
			free(args);
			return (2);
		}
		args[nargs++] = argv[k];
	}
	if (config_load(argc - 2, argv + 2, err, sizeof(err)) != OK ||
	    netaddr_proxies_set(config.trusted_proxies, err, sizeof(err)) !=
		OK) {
		fprintf(stderr, "carebase: %s\n", err);
		free(args);
		return (2);
	}
	rc = OK;
	crypto_password_params((unsigned long long)config.password_opslimit,
	    (size_t)config.password_memlimit_kib * 1024);
	if (crypto_init() != OK || mail_init() != OK) {
		fprintf(
		    stderr, "carebase: cannot initialise libsodium/libcurl\n");
		rc = ERR_INTERNAL;
		goto out;
	}
	if ((rc = modules_register()) != OK) {
		fprintf(stderr, "carebase: module registration failed: %s\n",
		    err_code(rc));
		goto out;
	}
	if (c->needs_db) {
		if (crypto_master_key_load(config.master_key_file,
			!config_is_production(), master_key, err,
			sizeof(err)) != OK) {
			fprintf(stderr, "carebase: %s\n", err);
			rc = ERR_CONFIG;
			goto out;
		}
		keyring_init(master_key);
		sodium_memzero(master_key, sizeof(master_key));
		if ((rc = open_db(&db)) != OK)
			goto out;
	}
	rc = c->run(db, nargs, args);
out:
	people_erasures_close();
	store_close(db);
	keyring_wipe();
	sodium_memzero(master_key, sizeof(master_key));
	mail_cleanup();
	config_free();
	free(args);
	return (rc == OK ? 0 : 1);
}
