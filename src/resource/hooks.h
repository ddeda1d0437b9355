/*
 * Hooks that modules register at start-up and other modules call, kept
 * below the modules so that none of them includes another to reach it:
 *
 *   GDPR	a module whose rows about a person are not a declared
 *		resource with an owner column (those the resource layer
 *		exports itself) adds them to the person's export and erases
 *		them when the person is erased;
 *   changes	a module that changes what is known of a person (their
 *		partners, features, bookings, course progress) says so;
 *		listeners (chat profile sync) act on it inside the same
 *		transaction, so only a committed change is acted on;
 *   profile	each module adds its part of a person's chat profile
 *		(partners and features, therapy bookings, course states),
 *		so that the chat sync reads no other module's tables; and
 *		says who the people of a change of many are (a partner's
 *		members);
 *   fields	the people module tells of changes to a person's own
 *		fields to the modules that show some of them elsewhere
 *		(the chat profile);
 *   mail	the module that keeps the mail queue (ops) queues mail
 *		for the others (people's password mail).
 *
 * Registration happens once, in the modules' init, before any request
 * or job runs; the tables are not locked after that.
 */
#ifndef RESOURCE_HOOKS_H
#define RESOURCE_HOOKS_H

#include <jansson.h>

struct tx;

/*
 * export appends the person's rows to rows (as they would see them: no
 * hashes, no staff notes); erase removes or anonymises them, inside the
 * erasure's transaction, before the person's data key is destroyed.
 * Either may be NULL. A declared resource's rows are exported and erased
 * from its declaration (resource_export_owned, resource_erase_owned): a
 * hook is for rows that are not, or for what a declaration cannot say
 * (an erase-only hook may carry a resource's name); it never stands in
 * for a resource's export.
 */
struct gdpr_hook {
	const char *name; /* key in the export's "records" */
	int (*export)(struct tx *, const char *user_id, json_t *rows);
	int (*erase)(struct tx *, const char *user_id);
};
#define HOOKS_GDPR_MAX 16

/*
 * ERR_CONFLICT for a name registered already (a module's init run again),
 * ERR_TOO_LARGE past max, ERR_CONFIG (logged) for a hook with an export
 * named as a registered resource: the resource's rows are exported from
 * its declaration. Register resources first (the program does).
 */
int hooks_gdpr_register(const struct gdpr_hook *);
/*
 * Every hook's export, each under into.<name> (an array). A name into
 * holds already (the export of a resource registered after the hook) is
 * never overwritten: ERR_INTERNAL, logged.
 */
int hooks_gdpr_export(struct tx *, const char *user_id, json_t *into);
/* Every hook's erase, in registration order; the first failure stops. */
int hooks_gdpr_erase(struct tx *, const char *user_id);

enum change {
	CHANGE_PERSON = 1, /* id is a user: something about them changed */
	CHANGE_PARTNER	   /* id is a partner: about each of its members */
};

/*
 * A listener runs inside the writer's transaction, last in it (it may
 * take row locks until the commit). user ids arrive in any order; a
 * listener that locks per person sorts what it locks.
 */
typedef int (*change_fn)(struct tx *, enum change, const char *id);
#define HOOKS_CHANGE_MAX 8

int hooks_change_listen(change_fn);
/* Tell every listener; id NULL is accepted (nothing to tell). */
int hooks_changed(struct tx *, enum change, const char *id);

/*
 * A module's part of a person's chat profile: add sets its members of
 * profile for user_id (flat keys, each module's own and documented by
 * it; values strings, booleans or integers; times ISO 8601 UTC, "" for
 * none) inside the reader's transaction. Non-OK fails the build.
 */
struct profile_part {
	const char *name;
	int (*add)(struct tx *, const char *user_id, json_t *profile);
};
#define HOOKS_PROFILE_MAX 8

/* ERR_CONFLICT for a name registered already, ERR_TOO_LARGE past max. */
int hooks_profile_register(const struct profile_part *);
/* Every part's members for user_id into profile, in registration order. */
int hooks_profile_build(struct tx *, const char *user_id, json_t *profile);

/*
 * The people a change of many is about: members appends the user ids
 * of id (for CHANGE_PARTNER, the partner's members) to user_ids, sorted,
 * each once. Registered by the module whose change it is.
 */
typedef int (*members_fn)(struct tx *, const char *id, json_t *user_ids);

/* ERR_CONFLICT when kind has one already; ERR_INVALID for CHANGE_PERSON. */
int hooks_members_register(enum change, members_fn);
/* The people of a change: [id] for CHANGE_PERSON; for another kind, its
 * module's members (none when no module registered them). */
int hooks_members(struct tx *, enum change, const char *id, json_t *user_ids);

/*
 * A module that shows some of a user's own fields elsewhere (the chat
 * profile) is told when they change. changed runs inside the write
 * transaction, after the change: when an update of the user (PATCH
 * /v1/me, PATCH /v1/users/{id}) changes one of fields (API names of the
 * users resource, NULL-terminated), and, when "last_active_at" is among
 * them, on sign-in and on activity (at most once per
 * PEOPLE_ACTIVITY_NOTIFY_MS per user). Non-OK fails the change.
 */
struct fields_watch {
	const char	  *name;
	const char *const *fields;
	int (*changed)(struct tx *, const char *user_id);
};
#define HOOKS_WATCH_MAX 8

/* ERR_CONFLICT for a name registered already, ERR_TOO_LARGE past max. */
int hooks_fields_watch(const struct fields_watch *);
/*
 * For the people module: run the watchers of user_id whose fields differ
 * between old and row (the users row before and after, decoded); with
 * both NULL, those watching "last_active_at" (sign-in, activity).
 */
int hooks_fields_changed(
    struct tx *, const char *user_id, json_t *old, json_t *row);

/*
 * Queue a templated mail to one recipient inside tx, as the ops module
 * does it (ops_mail_enqueue: the address checked, the template rendered
 * now, an email_log row for user_id, which may be NULL, and a mail.send
 * job). vars is borrowed; log_id_out (37) may be NULL. ERR_UNAVAILABLE
 * when no module queues mail.
 */
typedef int (*mail_queue_fn)(struct tx *, const char *to, const char *user_id,
    const char *template, json_t *vars, char *log_id_out);

/* The mail queue (the ops module, at start-up). */
void hooks_mail_set(mail_queue_fn);
int  hooks_mail(struct tx *, const char *to, const char *user_id,
     const char *template, json_t *vars, char *log_id_out);

#endif
