/*
 * The people module: users (with sealed personal fields), accounts
 * (register, login, logout, /v1/me, password change and reset), auth
 * sessions and the request authenticator, login throttling, roles and
 * permissions, relationships (guardian_of, practitioner_of) with consent,
 * the digital-consent age rule, and GDPR export and erasure.
 */
#ifndef PEOPLE_PEOPLE_H
#define PEOPLE_PEOPLE_H

#include <stddef.h>

#include <jansson.h>

struct module;
struct request;
struct store;
struct tx;

extern const struct module people_module;

/*
 * Create a user from the command line or the demo seed (not through
 * HTTP): role must exist; the password follows the same rules as
 * registration. id_out (37) may be NULL. ERR_CONFLICT if the email is
 * taken, ERR_INVALID (with why set) if a rule refuses it.
 */
int people_user_add(struct store *, const char *email, const char *password,
    const char *role, const char *first_name, const char *last_name,
    char *id_out, const char **why);

/*
 * May health data of user_id be stored now? OK for adults (by their birth
 * date); for a user under the digital-consent age of their country, or
 * with no birth date, only with an active guardian_of relationship that
 * has consent recorded. ERR_FORBIDDEN otherwise.
 */
int people_health_consent(struct tx *, const char *user_id);
/*
 * The same, answered on req (when not NULL) as 403 with the code that
 * says what is missing: CONSENT_REQUIRED (under the digital-consent age,
 * no guardian consent) or DATE_OF_BIRTH_REQUIRED (the birth date is not
 * known, and no guardian consent either). Also the resource layer's
 * consent hook (resource_set_consent).
 */
int people_health_consent_answer(
    struct request *, struct tx *, const char *user_id);

/*
 * Sign-in and activity tell the modules watching "last_active_at"
 * (hooks_fields_watch, resource/hooks.h) at most once per
 * PEOPLE_ACTIVITY_NOTIFY_MS per user (activity is written up to every
 * second; telling others that often would be noise).
 */
#define PEOPLE_ACTIVITY_NOTIFY_MS 3600000

/*
 * The erasure journal (erasures.c): every erasure appends the person's id
 * and time to a file outside the database (erasure_journal_file, by
 * default erasure.journal beside the master key), and a replay erases
 * again whoever in it the database still holds, so restoring a backup
 * taken before an erasure does not bring the person back. Open it before
 * serving, running jobs or replaying: OK, or ERR_CONFIG with one line in
 * err (missing in production, unreadable, open to others).
 */
int	    people_erasures_open(char *err, size_t errlen);
void	    people_erasures_close(void);
const char *people_erasures_path(void); /* borrowed; after open */
struct people_replay {
	size_t journalled; /* ids the journal holds erased (not revoked) */
	size_t present;	   /* of them, held by the database: erased again */
	size_t erased;	   /* of them, whose users row was not erased */
	size_t recorded;   /* erased in the database, added to the journal */
	int    migrations_pending; /* not replayed: migrate first */
};
/* Replay the journal into db (see erasures.c); ERR_* when it fails, and
 * then nothing may be served. */
int people_erasures_replay(struct store *, struct people_replay *);

/* `carebase user ...`, `carebase audit ...` and `carebase roles ...`
 * command handlers. */
int people_cli_user(struct store *, int argc, char **argv);
int people_cli_audit(struct store *, int argc, char **argv);
int people_cli_roles(struct store *, int argc, char **argv);

#endif
