/*
 * The commands of the command line (cli.c), run from main.c's table once
 * the configuration is loaded, the modules registered and, for those
 * that need one, the database open (NULL otherwise). Each is given the
 * command's own arguments (configuration flags taken out) and answers
 * OK or a status; what went wrong is said on standard error.
 */
#ifndef CLI_H
#define CLI_H

#define CAREBASE_VERSION "0.1.0"

struct store;

int cli_serve(struct store *, int argc, char **argv);
int cli_worker(struct store *, int argc, char **argv);
int cli_migrate(struct store *, int argc, char **argv);
/* Command lines checked before the key and the database are opened. */
int cli_migrate_check(int argc, char **argv);
int cli_backup_check(int argc, char **argv);
int cli_restore_check(int argc, char **argv);
int cli_no_args(int argc, char **argv);
int cli_backup(struct store *, int argc, char **argv);
int cli_restore(struct store *, int argc, char **argv);
int cli_erasures(struct store *, int argc, char **argv);
int cli_jobs(struct store *, int argc, char **argv);
int cli_mail(struct store *, int argc, char **argv);
int cli_schema(struct store *, int argc, char **argv);
int cli_user(struct store *, int argc, char **argv);
int cli_roles(struct store *, int argc, char **argv);
int cli_audit(struct store *, int argc, char **argv);
int cli_webhooks(struct store *, int argc, char **argv);
int cli_config(struct store *, int argc, char **argv);
int cli_routes(struct store *, int argc, char **argv);

#endif
