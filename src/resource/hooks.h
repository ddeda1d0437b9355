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
 *		listeners act on it inside the same transaction, so only a
 *		committed change is acted on: learning recomputes course
 *		completions when partner accesses change, the chat profile
 *		sync pushes the profiles;
 *   profile	each module adds its part of a person's chat profile
 *		(the person's own settings, partners and features, therapy
 *		bookings, course states) and says whether it gives them
 *		chat access (partners: live chat; learning: live courses),
 *		so that the chat sync reads no other module's tables; and
 *		says who the people of a change of many are (a partner's
 *		members);
 *   person	the people module tells a person's address and first
 *		name (opened), and whether an address is another live
 *		user's, to the chat sync (its people id, its deletes); and
 *		locks a person against their erasure (bookings);
 *   fields	the people module tells of changes to a person's own
 *		fields to the modules that show some of them elsewhere
 *		(the chat profile);
 *   mail	the module that keeps the mail queue (ops) queues mail
 *		for the others (people's password mail);
 *   registration
 *		the partners module adds its access codes to people's
 *		registration.
 *
 * Registration happens once, in the modules' init, before any request
 * or job runs; the tables are not locked after that.
 */
#ifndef RESOURCE_HOOKS_H
#define RESOURCE_HOOKS_H

#include <jansson.h>

struct request;
struct tx;

/*
 * export appends the person's rows to rows (as they would see them: no
 * hashes, no staff notes); erase removes or anonymises them, inside the
 * erasure's transaction, before the person's data key is destroyed.
 * Either may be NULL (export_links, below, may stand in for export). A
 * declared resource's rows are exported and erased
 * from its declaration (resource_export_owned, resource_erase_owned): a
 * hook is for rows that are not, or for what a declaration cannot say
 * (an erase-only hook may carry a resource's name); it never stands in
 * for a resource's export.
 */
struct gdpr_hook {
	const char *name; /* key in the export's "records" */
	int (*export)(struct tx *, const char *user_id, json_t *rows);
	int (*erase)(struct tx *, const char *user_id);
	/*
	 * May be NULL; export's stand-in for what is too large for the
	 * document (a recording's points): rows that link to routes of
	 * the module's, each link carrying export_id (resource_export_id:
	 * the route serves it to the session that made the export alone).
	 */
	int (*export_links)(struct tx *, const char *user_id,
	    const char *export_id, json_t *rows);
	/*
	 * For the OpenAPI document: JSON Schema text of one row of its
	 * export (records.<name>'s items, src/resource/openapi.c), naming
	 * every member it writes. Required of a hook with export or
	 * export_links.
	 */
	const char *schema;
};
#define HOOKS_GDPR_MAX 16

/*
 * ERR_CONFLICT for a name registered already (a module's init run again),
 * ERR_TOO_LARGE past max, ERR_CONFIG (logged) for a hook with an export
 * named as a registered resource (the resource's rows are exported from
 * its declaration) or without a schema that is a JSON object. Register
 * resources first (the program does).
 */
int hooks_gdpr_register(const struct gdpr_hook *);
/* The hooks registered, in order (the document declares their exports);
 * borrowed. */
const struct gdpr_hook *const *hooks_gdpr_all(size_t *n);
/*
 * Every hook's export (or export_links, with export_id), each under
 * into.<name> (an array). A name into holds already (the export of a
 * resource registered after the hook) is never overwritten: ERR_INTERNAL,
 * logged. A hook's rows are cut at RESOURCE_EXPORT_MAX, *truncated set to
 * 1 when it wrote more (a hook reads at most RESOURCE_EXPORT_MAX + 1 so
 * that its cut shows).
 */
int hooks_gdpr_export(struct tx *, const char *user_id, const char *export_id,
    json_t *into, int *truncated);
/* Every hook's erase, in registration order; the first failure stops. */
int hooks_gdpr_erase(struct tx *, const char *user_id);

/*
 * What changed: CHANGE_PERSON, id is a user and something about them
 * changed; CHANGE_PARTNER, id is a partner and something about each of
 * its members changed (its name; its accesses deactivated with it);
 * CHANGE_ACCESS, id is a user whose partner accesses changed (one made,
 * redeemed, changed or deleted): what they may see, and a change about
 * them too; CHANGE_PARTNER_GRANTS, id is a partner reactivated: what its
 * accesses grant changed (the courses they include, chat access).
 */
enum change {
	CHANGE_PERSON = 1,
	CHANGE_PARTNER,
	CHANGE_ACCESS,
	CHANGE_PARTNER_GRANTS
};

/*
 * When a listener runs: every CHANGE_DERIVE listener before any
 * CHANGE_NOTIFY one. A deriving listener recomputes what it keeps from
 * the change (learning: course completions, under course locks) and may
 * tell of changes of its own (hooks_changed again); a notifying one acts
 * on what is known then (the chat profile sync takes a row lock), so
 * course locks are always taken before a chat profile's.
 */
enum change_stage { CHANGE_DERIVE = 1, CHANGE_NOTIFY };

/*
 * A listener runs inside the writer's transaction, last in it (it may
 * take row locks until the commit); it ignores the kinds it has no use
 * for. user ids arrive in any order; a listener that locks per person
 * sorts what it locks.
 */
typedef int (*change_fn)(struct tx *, enum change, const char *id);
#define HOOKS_CHANGE_MAX 8

/* ERR_CONFLICT for fn registered already, ERR_TOO_LARGE past max. */
int hooks_change_listen(change_fn, enum change_stage);
/* Tell every listener, deriving ones first, each in registration order;
 * id NULL is accepted (nothing to tell). */
int hooks_changed(struct tx *, enum change, const char *id);

/*
 * A module's part of a person's chat profile: add sets its members of
 * profile for user_id (flat keys, each module's own and documented by
 * it; values strings, booleans or integers; times ISO 8601 UTC, "" for
 * none) inside the reader's transaction. Non-OK fails the build.
 *
 * Only a person with chat access has a profile (seed 002): grants, when
 * not NULL, sets *granted to 1 when what the module keeps gives user_id
 * chat access now (a partner access with live chat; a live course), and
 * leaves it alone otherwise. A person no part grants it is not pushed,
 * and a profile pushed before is erased at the provider. A module whose
 * rows may grant or take it away says so with hooks_changed.
 */
struct profile_part {
	const char *name;
	int (*add)(struct tx *, const char *user_id, json_t *profile);
	int (*grants)(struct tx *, const char *user_id, int *granted);
};
#define HOOKS_PROFILE_MAX 8

/* ERR_CONFLICT for a name registered already, ERR_TOO_LARGE past max. */
int hooks_profile_register(const struct profile_part *);
/* Every part's members for user_id into profile, in registration order. */
int hooks_profile_build(struct tx *, const char *user_id, json_t *profile);
/* *granted: 1 when some part gives user_id chat access, else 0. */
int hooks_profile_granted(struct tx *, const char *user_id, int *granted);

/*
 * A person as the module that keeps accounts (people) tells of them, for
 * a module that shows or forgets them elsewhere (the chat profile sync,
 * which reads no users row itself):
 *
 * contact sets out to user_id's address, first and last names and phone,
 * opened with their data key (malloc'd; hooks_contact_clear wipes and
 * frees them). ERR_NOT_FOUND when there is no such user or they are
 * erased (no address, or the data key destroyed); ERR_INVALID when the
 * address does not open (a name or the phone not opening is NULL). An account deleted and
 * not erased yet is OK with out->deleted set, its address and name
 * opened only when deleted_too.
 *
 * address_held sets *held when a user other than user_id who is not
 * erased holds the address email now (by its blind index).
 *
 * lock serialises a write about user_id with their erasure, which takes
 * it first: a write that takes it either finishes before the erasure
 * (whose GDPR hooks then see it) or waits and finds the person gone
 * (it checks again after taking it). PostgreSQL advisory lock for the
 * transaction; SQLite write transactions are serial already.
 */
struct person_contact {
	int   deleted;	       /* deleted_at set; not erased (yet) */
	char *email;	       /* NULL unless opened */
	char *first_name;      /* NULL when none */
	char *phone;	       /* as the person wrote it; NULL when none */
	char *last_name;       /* NULL when none (the certificate's trainer) */
	int   no_service_mail; /* said no to optional service mail
				* (users.service_emails_permission false) */
	int   unproven;	       /* email_verified_at NULL: the address is not
				* shown to be theirs (yet, or since a change) */
};
struct person_hooks {
	int (*contact)(struct tx *, const char *user_id, int deleted_too,
	    struct person_contact *out);
	int (*address_held)(
	    struct tx *, const char *email, const char *user_id, int *held);
	int (*lock)(struct tx *, const char *user_id);
};

/* The accounts module's answers (people, at start-up). */
void hooks_person_set(const struct person_hooks *);
/* The two above; ERR_UNAVAILABLE when no module answers. */
int hooks_contact(struct tx *, const char *user_id, int deleted_too,
    struct person_contact *out);
int hooks_address_held(
    struct tx *, const char *email, const char *user_id, int *held);
int hooks_person_lock(struct tx *, const char *user_id);
/* Wipe and free what a contact holds; the struct is reusable. */
void hooks_contact_clear(struct person_contact *);

/*
 * The people a change of many is about: members appends the user ids
 * of id (for CHANGE_PARTNER and CHANGE_PARTNER_GRANTS, the partner's
 * members) to user_ids, sorted, each once. Registered by the module
 * whose change it is, for CHANGE_PARTNER.
 */
typedef int (*members_fn)(struct tx *, const char *id, json_t *user_ids);

/* ERR_CONFLICT when kind has one already; ERR_INVALID for a kind whose id
 * is a user. */
int hooks_members_register(enum change, members_fn);
/* The people of a change: [id] for CHANGE_PERSON and CHANGE_ACCESS; for a
 * partner's, its module's members (none when no module registered them). */
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
 * Registration extras owned by another module than the one that makes
 * accounts (people): the partners module's access codes. members
 * (NULL-terminated) are accepted in the body of POST /v1/auth/register
 * besides people's own. check runs before the account is made, outside
 * any transaction: non-OK refuses the registration with the problem
 * check set on the request. apply runs inside the registration
 * transaction once the user row exists: non-OK rolls the registration
 * back (with a problem set, unless ERR_BUSY). state is what check left,
 * in the request's arena.
 */
struct registration_hook {
	const char *const *members;
	int (*check)(struct request *, void **state);
	int (*apply)(
	    struct tx *, struct request *, const char *user_id, void *state);
};

/* The extras (the partners module, at start-up); one at most. */
void hooks_registration_set(const struct registration_hook *);
/* For the people module: the extras set, or NULL. */
const struct registration_hook *hooks_registration(void);

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

/*
 * The deployment's brand, for every mail's layout: brand sets brand_name,
 * brand_logo_url ("" for none) and brand_colour ("#rrggbb") in vars, as
 * the module that keeps the settings reads them (training: business_name,
 * brand_logo_url, brand_colour). With none registered the brand is
 * carebase's own.
 */
typedef int (*mail_brand_fn)(struct tx *, json_t *vars);
void hooks_mail_brand_set(mail_brand_fn);
int  hooks_mail_brand(struct tx *, json_t *vars);

/*
 * Whether a mail may go to an address, as the accounts module (people)
 * decides it: an address not verified yet gets only the mail that
 * verifies it or gives access (verification, password reset, the
 * invitations). *allowed 1 with no gate registered.
 */
typedef int (*mail_gate_fn)(struct tx *, const char *to, const char *user_id,
    const char *template, int *allowed);
void hooks_mail_gate_set(mail_gate_fn);
int  hooks_mail_gate(struct tx *, const char *to, const char *user_id,
     const char *template, int *allowed);

/*
 * What became of a queued mail, for the module that queued it and keeps
 * its own state of it (a notification's email): status "sent", or
 * "failed" once the mail.send job gave up. The module that sends mail
 * (ops) calls hooks_mail_outcome inside the transaction that records it
 * in email_log; each listener runs there, in registration order, and
 * ignores the log ids that are not its own. Non-OK rolls that record
 * back (the job's attempt then counts as failed and is retried).
 */
typedef int (*mail_outcome_fn)(
    struct tx *, const char *log_id, const char *status);
#define HOOKS_MAIL_OUTCOME_MAX 4

/* ERR_CONFLICT for fn registered already, ERR_TOO_LARGE past max. */
int hooks_mail_outcome_listen(mail_outcome_fn);
int hooks_mail_outcome(struct tx *, const char *log_id, const char *status);

#endif
