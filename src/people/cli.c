/*
 * `carebase user add --role=ROLE --email=E [--password=P]` makes a user
 * from the command line (the first admin); without --password the
 * password is read as one line from standard input; with --invite there
 * is none yet: the user is mailed a link to choose it (email_verify.c).
 * `carebase user list`
 * prints id, role, is_active and created_at: no personal data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/mail.h"
#include "core/util.h"
#include "people/people.h"
#include "people/people_int.h"
#include "store/store.h"

#define CLI_LINE_MAX (PEOPLE_PASSWORD_BYTES + 2)

static int has_flag(int argc, char **argv, const char *name);
static int invite_tx(struct tx *, void *);

struct add_op {
	struct people_new_user *nu;
	char			id[37];
};

static const char *arg_value(int argc, char **argv, const char *name);
static int	   role_exists(struct store *, const char *role);
static int	   add_tx(struct tx *, void *);
static int	   cli_add(struct store *, int, char **);
static int cli_invite(struct store *, int, char **, const char *, const char *);
static int cli_list(struct store *);
static int password_read(char *buf, size_t size);

int
people_cli_user(struct store *db, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "add") == 0)
		return (cli_add(db, argc - 1, argv + 1));
	if (argc >= 1 && strcmp(argv[0], "list") == 0)
		return (cli_list(db));
	fprintf(stderr,
	    "usage: carebase user add --role=ROLE --email=EMAIL "
	    "[--password=PASSWORD]\n       carebase user list\n");
	return (ERR_USAGE);
}

int
people_user_add(struct store *db, const char *email, const char *password,
    const char *role, const char *first_name, const char *last_name,
    char *id_out, const char **why)
{
	struct people_new_user nu;

	memset(&nu, 0, sizeof(nu));
	nu.email = email;
	nu.role = role;
	nu.first_name = first_name;
	nu.last_name = last_name;
	return (people_user_add_full(db, &nu, password, id_out, why));
}

int
people_user_add_full(struct store *db, struct people_new_user *nu,
    const char *password, char *id_out, const char **why)
{
	struct add_op op;
	char	      hash[PASSWORD_HASH_LEN];
	int	      rc;

	*why = NULL;
	if (nu->email == NULL || strlen(nu->email) > PEOPLE_EMAIL_MAX ||
	    !mail_address_valid(nu->email)) {
		*why = "not a valid email address";
		return (ERR_INVALID);
	}
	if ((rc = role_exists(db, nu->role)) != OK) {
		*why = rc == ERR_NOT_FOUND ? "no such role" : NULL;
		return (rc == ERR_NOT_FOUND ? ERR_INVALID : rc);
	}
	if (people_password_check(password, strlen(password), nu->email, why) !=
	    OK)
		return (ERR_INVALID);
	if ((rc = crypto_password_hash(password, hash)) != OK)
		return (rc);
	nu->password_hash = hash;
	memset(&op, 0, sizeof(op));
	op.nu = nu;
	rc = store_run(db, STORE_TX_WRITE, add_tx, &op);
	sodium_memzero(hash, sizeof(hash));
	nu->password_hash = NULL;
	if (rc == ERR_CONFLICT)
		*why = "that email is taken";
	if (rc == OK && id_out != NULL)
		memcpy(id_out, op.id, sizeof(op.id));
	return (rc);
}

static int
add_tx(struct tx *tx, void *arg)
{
	struct add_op *op = arg;
	struct stmt   *st;
	char	       index[65];
	int	       step;

	keyring_email_index(op->nu->email, index);
	st = store_prepare(tx, "SELECT 1 FROM users WHERE email_index = ?");
	store_bind_text(st, 1, index);
	step = store_step(st);
	store_finalize(st);
	if (step == STORE_ROW)
		return (ERR_CONFLICT);
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	return (people_user_insert(tx, NULL, op->nu, op->id));
}

static int
role_exists(struct store *db, const char *role)
{
	struct tx   *tx;
	struct stmt *st;
	int	     rc, step;

	if (role == NULL)
		return (ERR_NOT_FOUND);
	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	st = store_prepare(tx, "SELECT 1 FROM roles WHERE name = ?");
	store_bind_text(st, 1, role);
	step = store_step(st);
	store_finalize(st);
	store_tx_rollback(tx);
	return (step == STORE_ROW
		? OK
		: (step == STORE_DONE ? ERR_NOT_FOUND : ERR_DB));
}

/* --name=value or --name value */
static const char *
arg_value(int argc, char **argv, const char *name)
{
	size_t n = strlen(name);
	int    i;

	for (i = 0; i < argc; i++) {
		if (argv[i] == NULL || strncmp(argv[i], "--", 2) != 0 ||
		    strncmp(argv[i] + 2, name, n) != 0)
			continue;
		if (argv[i][2 + n] == '=')
			return (argv[i] + 3 + n);
		if (argv[i][2 + n] == '\0' && i + 1 < argc)
			return (argv[i + 1]);
	}
	return (NULL);
}

static int
password_read(char *buf, size_t size)
{
	size_t n;

	if (isatty(STDIN_FILENO))
		fprintf(stderr, "password: ");
	if (fgets(buf, (int)size, stdin) == NULL)
		return (ERR_INVALID);
	n = strlen(buf);
	if (n > 0 && buf[n - 1] != '\n' && !feof(stdin))
		return (ERR_TOO_LARGE);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return (n > 0 ? OK : ERR_INVALID);
}

static int
has_flag(int argc, char **argv, const char *name)
{
	int i;

	for (i = 0; i < argc; i++)
		if (argv[i] != NULL && strncmp(argv[i], "--", 2) == 0 &&
		    strcmp(argv[i] + 2, name) == 0)
			return (1);
	return (0);
}

static int
invite_tx(struct tx *tx, void *arg)
{
	struct add_op *op = arg;
	int	       rc;

	if ((rc = add_tx(tx, op)) != OK)
		return (rc);
	return (people_invite_send(tx, op->id, op->nu->role));
}

/* `user add --invite`: no password; a link to choose one is mailed. */
static int
cli_invite(struct store *db, int argc, char **argv, const char *role,
    const char *email)
{
	struct people_new_user nu;
	struct add_op	       op;
	int		       rc;

	memset(&nu, 0, sizeof(nu));
	nu.email = email;
	nu.role = role;
	nu.first_name = arg_value(argc, argv, "first-name");
	nu.last_name = arg_value(argc, argv, "last-name");
	if (strlen(email) > PEOPLE_EMAIL_MAX || !mail_address_valid(email)) {
		fprintf(stderr,
		    "carebase: user add: --email: not a valid email address "
		    "(one like name@example.org)\n");
		return (ERR_USAGE);
	}
	if ((rc = role_exists(db, role)) != OK) {
		fprintf(stderr, "carebase: user add: %s\n",
		    rc == ERR_NOT_FOUND ? "--role: no such role (`carebase "
					  "roles list` lists them)"
					: err_code(rc));
		return (rc == ERR_NOT_FOUND ? ERR_USAGE : rc);
	}
	memset(&op, 0, sizeof(op));
	op.nu = &nu;
	if ((rc = store_run(db, STORE_TX_WRITE, invite_tx, &op)) != OK) {
		fprintf(stderr, "carebase: user add: %s\n",
		    rc == ERR_CONFLICT ? "that email is taken" : err_code(rc));
		return (rc == ERR_CONFLICT ? ERR_USAGE : rc);
	}
	printf("%s\n", op.id);
	return (OK);
}

static int
cli_add(struct store *db, int argc, char **argv)
{
	const char *role = arg_value(argc, argv, "role");
	const char *email = arg_value(argc, argv, "email");
	const char *given = arg_value(argc, argv, "password");
	const char *why = NULL;
	char	    line[CLI_LINE_MAX], id[37];
	int	    rc;

	if (role == NULL || email == NULL ||
	    (given != NULL && has_flag(argc, argv, "invite"))) {
		fprintf(stderr,
		    "usage: carebase user add --role=ROLE "
		    "--email=EMAIL [--password=PASSWORD | --invite]\n");
		return (ERR_USAGE);
	}
	if (has_flag(argc, argv, "invite"))
		return (cli_invite(db, argc, argv, role, email));
	if (given == NULL) {
		if ((rc = password_read(line, sizeof(line))) != OK) {
			fprintf(stderr,
			    "carebase: no password on standard input "
			    "(one line, at most %d characters; or give "
			    "--password=PASSWORD)\n",
			    PEOPLE_PASSWORD_MAX);
			return (ERR_USAGE);
		}
		given = line;
	}
	rc = people_user_add(db, email, given, role,
	    arg_value(argc, argv, "first-name"),
	    arg_value(argc, argv, "last-name"), id, &why);
	sodium_memzero(line, sizeof(line));
	if (rc != OK) {
		if (rc == ERR_INVALID && why != NULL &&
		    strcmp(why, "no such role") == 0)
			why = "--role: no such role (`carebase roles list` "
			      "lists them)";
		else if (rc == ERR_INVALID && why != NULL &&
		    strcmp(why, "not a valid email address") == 0)
			why = "--email: not a valid email address (one like "
			      "name@example.org)";
		fprintf(stderr, "carebase: user add: %s\n",
		    why != NULL ? why : err_code(rc));
		/* A value given that cannot be taken: the command line's. */
		return (rc == ERR_INVALID ? ERR_USAGE : rc);
	}
	printf("%s\n", id);
	return (OK);
}

static int
cli_list(struct store *db)
{
	struct tx   *tx;
	struct stmt *st;
	char	     ts[ISO_TIME_LEN];
	int	     rc, step;

	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT id, role, is_active, created_at FROM "
	    "users WHERE deleted_at IS NULL ORDER BY created_at, id");
	printf("id\trole\tis_active\tcreated_at\n");
	while ((step = store_step(st)) == STORE_ROW)
		printf("%s\t%s\t%s\t%s\n", store_col_text(st, 0),
		    store_col_text(st, 1),
		    store_col_int64(st, 2) ? "true" : "false",
		    time_format_iso(store_col_int64(st, 3), ts));
	rc = step == STORE_DONE ? OK : ERR_DB;
	store_finalize(st);
	store_tx_rollback(tx);
	return (rc);
}
