/*
 * The people module: its routes, its resources, the request
 * authenticator, its mail templates and the demo seed.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/keyring.h"
#include "core/mail.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "people/people.h"
#include "people/people_int.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/store.h"

#define DEMO_PASSWORD "carebase-demo-2026"
#define DEMO_DOMAIN   "@demo.carebase.dev"

struct demo {
	const char *who; /* local part and label */
	const char *role;
	const char *first_name;
	const char *last_name;
	const char *born; /* "YYYY-MM-DD"; NULL: 12 years ago today */
	char	   *id;	  /* the seed_accounts member it fills */
	char	    email[64];
	const char *status;
};

struct demo_link {
	const char *lead;
	const char *follower;
	const char *kind;
};

static int	    people_init(struct store *);
static void	    people_stop(void);
static int	    people_seed(struct store *, struct seed_accounts *);
static int	    demo_add(struct store *, struct demo *);
static int	    demo_find(struct store *, const char *email, char *id);
static int	    demo_born_tx(struct tx *, void *);
static int	    demo_link_tx(struct tx *, void *);
static struct demo *demo_get(struct demo *, size_t, const char *);

/*
 * What the OpenAPI document says of the account routes' bodies and
 * answers (struct route's api; checked at start-up).
 */
/* clang-format off */
#define API_PASSWORD	"{\"type\":\"string\",\"minLength\":12,\"maxLength\":256," \
			"\"writeOnly\":true}"
/* clang-format on */
/* clang-format off */
#define API_TOKEN	"{\"type\":\"object\",\"required\":[" \
			"\"expires_at\",\"idle_timeout_s\",\"user\"],\"properties\":{" \
			"\"token\":{\"type\":\"string\",\"description\":\"the bearer " \
			"token; not answered to X-Carebase-Client: web (a cookie holds " \
			"it)\"},\"token_type\":{\"const\":" \
			"\"Bearer\"},\"expires_at\":{\"type\":\"string\",\"format\":" \
			"\"date-time\"},\"idle_timeout_s\":{\"type\":\"integer\"}," \
			"\"user\":{\"$ref\":\"#/components/schemas/users\"}}," \
			"\"dependentRequired\":{\"token_type\":[\"token\"]}}"
/* clang-format on */
#define API_ME "{\"$ref\":\"#/components/schemas/users\"}"
/* An account as answered, for the examples /docs shows. */
/* clang-format off */
#define API_ME_EXAMPLE							\
	"{\"id\":\"01939d6e-1a2b-7c3d-8e4f-5a6b7c8d9e0f\",\"first_name\":"	\
	"\"Alex\",\"last_name\":\"Morgan\",\"email\":"			\
	"\"alex@example.org\",\"phone\":null,\"date_of_birth\":"		\
	"\"1991-04-17\",\"gender\":null,\"location\":null,"		\
	"\"demographics\":null,\"country\":\"GB\",\"locale\":\"en-GB\","	\
	"\"signup_language\":\"en\",\"contact_permission\":false,"	\
	"\"service_emails_permission\":true,"				\
	"\"email_reminders_frequency\":\"weekly\",\"terms_accepted_at\":"	\
	"\"2026-01-12T09:30:00Z\",\"terms_version\":\"2026-01\","		\
	"\"privacy_accepted_at\":\"2026-01-12T09:30:00Z\","		\
	"\"privacy_version\":\"2026-01\",\"role\":\"member\","		\
	"\"is_active\":true,\"last_login_at\":\"2026-03-02T08:14:55Z\","	\
	"\"last_active_at\":\"2026-03-02T08:20:01Z\",\"created_at\":"	\
	"\"2026-01-12T09:30:00Z\",\"updated_at\":"				\
	"\"2026-02-20T17:45:10Z\",\"deleted_at\":null,\"created_by\":"	\
	"null,\"updated_by\":null}"
/* clang-format on */

static const char api_register[] =
    "{\"example\":{\"email\":\"alex@example.org\",\"password\":"
    "\"correct horse battery staple\",\"first_name\":\"Alex\","
    "\"date_of_birth\":\"1991-04-17\",\"country\":\"GB\","
    "\"accept_terms\":true,\"accept_privacy\":true},\"codes\":{\"400\":[\"INACTIVE\",\"INVALID_CODE\",\"DOES_NOT_EXIST\",\"CODE_EXPIRED\"],\"409\":[\"ALREADY_IN_USE\",\"EMAIL_TAKEN\"]},\"body\":{\"type\":\"object\","
    "\"required\":[\"email\",\"password\",\"accept_terms\"],\"properties\":{"
    "\"email\":{\"type\":\"string\",\"format\":\"email\",\"maxLength\":320},"
    "\"password\":" API_PASSWORD ",\"first_name\":{\"type\":\"string\"},"
    "\"last_name\":{\"type\":\"string\"},\"date_of_birth\":{\"type\":"
    "\"string\",\"format\":\"date\"},\"country\":{\"type\":\"string\","
    "\"minLength\":2,\"maxLength\":2},\"locale\":{\"type\":\"string\"},"
    "\"signup_language\":{\"type\":\"string\"},\"accept_terms\":{\"const\":"
    "true},\"accept_privacy\":{\"type\":\"boolean\"},"
    "\"partner_access_code\":{\"type\":[\"string\",\"null\"],\"description\":"
    "\"a partner access code (6 letters and digits)\"},\"partner\":{\"type\":"
    "\"string\",\"maxLength\":256},\"partner_id\":{\"type\":\"string\","
    "\"format\":\"uuid\"}},\"additionalProperties\":false},"
    "\"answers\":{\"201\":{\"description\":\"the account\",\"schema\":{"
    "\"type\":\"object\",\"required\":[\"id\",\"email\",\"role\"],"
    "\"properties\":{\"id\":{\"type\":\"string\",\"format\":\"uuid\"},"
    "\"email\":{\"type\":\"string\"},\"role\":{\"const\":\"member\"}}},"
    "\"example\":{\"id\":\"01939d6e-1a2b-7c3d-8e4f-5a6b7c8d9e0f\","
    "\"email\":\"alex@example.org\",\"role\":\"member\"}}},"
    "\"problems\":{\"400\":\"INVALID_CODE, DOES_NOT_EXIST, INACTIVE, "
    "CODE_EXPIRED: the partner access code\",\"409\":\"EMAIL_TAKEN, or the "
    "code is in use\",\"422\":\"validation failed: one entry per field\","
    "\"429\":\"too many partner access codes tried, or too many "
    "registrations refused EMAIL_TAKEN (or failed logins) for the address "
    "or from the client (Retry-After)\"}}";
static const char api_login[] =
    "{\"example\":{\"email\":\"alex@example.org\",\"password\":"
    "\"correct horse battery staple\"},\"codes\":{\"401\":[\"INVALID_CREDENTIALS\"]},\"body\":{\"type\":\"object\","
    "\"required\":[\"email\",\"password\"],\"properties\":{\"email\":{"
    "\"type\":\"string\",\"maxLength\":320},\"password\":{\"type\":"
    "\"string\",\"writeOnly\":true}}},\"parameters\":[{\"name\":"
    "\"X-Carebase-Client\",\"in\":\"header\",\"required\":false,"
    "\"description\":\"web: the browser's sign-in; the token is not "
    "answered but set as the HttpOnly cookie carebase_session, with "
    "carebase_csrf (readable by script, sent back as X-CSRF-Token on "
    "writes); both Path=/, Secure, SameSite=Strict, Max-Age the "
    "session's absolute lifetime\",\"schema\":{\"type\":\"string\","
    "\"enum\":[\"web\"]}}],\"answers\":{\"200\":{\"description\":"
    "\"an auth session: send the token as Authorization: Bearer (or, "
    "for X-Carebase-Client: web, the cookies do)\","
    "\"schema\":" API_TOKEN ",\"example\":{\"token\":"
    "\"cb_7QxK2mVh9rT4pW8sN3yL6dF1gJ5cZ0bA\",\"token_type\":\"Bearer\","
    "\"expires_at\":\"2026-03-09T08:14:55Z\",\"idle_timeout_s\":1800,"
    "\"user\":" API_ME_EXAMPLE
    "}}},\"problems\":{\"401\":\"INVALID_CREDENTIALS "
    "(unknown account, wrong password or inactive, alike)\",\"422\":\"a "
    "member missing or of the wrong type\",\"429\":\"too many attempts "
    "(Retry-After)\"}}";
static const char api_logout[] =
    "{\"answers\":{\"204\":{\"description\":\"the session is ended (by "
    "cookie: both cookies cleared, Max-Age=0)\"}}}";
/* clang-format off */
#define API_SESSION_NOW	"{\"type\":\"object\",\"required\":[\"user_id\",\"role\"," \
			"\"session_id\",\"authenticated_by\",\"expires_at\"," \
			"\"idle_timeout_s\",\"csrf_token\"],\"properties\":{" \
			"\"user_id\":{\"type\":\"string\",\"format\":\"uuid\"}," \
			"\"role\":{\"type\":\"string\"},\"session_id\":{\"type\":" \
			"\"string\",\"format\":\"uuid\"},\"authenticated_by\":{" \
			"\"enum\":[\"cookie\",\"bearer\"]},\"expires_at\":{\"type\":" \
			"\"string\",\"format\":\"date-time\"},\"idle_timeout_s\":{" \
			"\"type\":\"integer\"},\"csrf_token\":{\"type\":[\"string\"," \
			"\"null\"],\"description\":\"the value X-CSRF-Token carries " \
			"(by cookie; null by bearer)\"}}}"
/* clang-format on */
static const char api_session_now[] =
    "{\"answers\":{\"200\":{\"description\":\"the caller is signed in: "
    "their session; by cookie, the carebase_csrf cookie is set again\","
    "\"schema\":" API_SESSION_NOW "}}}";
static const char api_csrf[] =
    "{\"answers\":{\"200\":{\"description\":\"the session's CSRF "
    "value; by cookie, the carebase_csrf cookie is set again\",\"schema\":"
    "{\"type\":\"object\",\"required\":[\"csrf_token\"],\"properties\":"
    "{\"csrf_token\":{\"type\":\"string\"}}}}}}";
static const char api_reset[] =
    "{\"body\":{\"type\":\"object\","
    "\"required\":[\"email\"],\"properties\":{\"email\":{\"type\":"
    "\"string\",\"maxLength\":320}}},\"answers\":{\"202\":{\"description\":"
    "\"the same whether or not the address has an account\",\"schema\":{"
    "\"type\":\"object\",\"properties\":{\"status\":{\"const\":"
    "\"accepted\"},\"detail\":{\"type\":\"string\"}}}}},\"problems\":{"
    "\"422\":\"email missing or too long\",\"429\":\"too many requests "
    "(Retry-After)\"}}";
static const char api_confirm[] =
    "{\"codes\":{\"422\":[\"INVALID_TOKEN\"]},\"body\":{\"type\":\"object\","
    "\"required\":[\"token\",\"new_password\"],\"properties\":{\"token\":{"
    "\"type\":\"string\",\"maxLength\":128},\"new_password\":" API_PASSWORD
    "}},\"answers\":{\"204\":{\"description\":\"the password is set and "
    "every session ended\"}},\"problems\":{\"422\":\"INVALID_TOKEN (unknown, "
    "used or expired), or the new password is not accepted\"}}";
static const char api_me_get[] = "{\"answers\":{\"200\":{\"description\":"
				 "\"the caller's account\",\"schema\":" API_ME
				 ",\"example\":" API_ME_EXAMPLE "}}}";
static const char api_me_patch[] =
    "{\"codes\":{\"409\":[\"EMAIL_TAKEN\"],\"403\":[\"CURRENT_PASSWORD_REQUIRED\",\"INVALID_CURRENT_PASSWORD\"],\"503\":[\"FIELD_UNAVAILABLE\"]},\"body\":{\"type\":\"object\","
    "\"description\":\"the members of users_update the caller may change; "
    "current_password too when email changes. A changed email is unproven "
    "until the link mailed to it is used; every mailed link ends, and the "
    "old address, if proven, gets a notice without one. A taken email is "
    "counted as a refused registration is (its owner told, at most once "
    "an hour)\",\"properties\":{"
    "\"current_password\":{\"type\":\"string\",\"writeOnly\":true}}},"
    "\"answers\":{\"200\":{\"description\":\"the changed account\","
    "\"schema\":" API_ME "}},\"problems\":{\"403\":"
    "\"INVALID_CURRENT_PASSWORD, or a member the caller may not change\","
    "\"409\":\"the email is taken\",\"412\":\"If-Match does not match\","
    "\"422\":\"validation failed: one entry per field\",\"429\":\"too "
    "many taken addresses tried or failed logins (Retry-After)\",\"503\":"
    "\"FIELD_UNAVAILABLE: a member named whose migration is pending "
    "(time_zone before 0053)\"}}";
static const char api_me_erase[] =
    "{\"codes\":{\"422\":[\"UNKNOWN_FIELD\"],\"409\":[\"LAST_ADMIN\",\"CONFLICT\"],\"403\":[\"WRONG_PASSWORD\"],\"503\":[\"MIGRATIONS_PENDING\"]},\"body\":{\"type\":\"object\","
    "\"required\":[\"password\"],\"properties\":{\"password\":{\"type\":"
    "\"string\",\"writeOnly\":true}},\"additionalProperties\":false},"
    "\"answers\":{\"204\":{\"description\":\"erased: the data key is "
    "destroyed, every session ended\"},\"202\":{\"description\":\"the "
    "erasure did not complete now (its commit failed after it was "
    "journalled, and could not be withdrawn): the erasure journal holds "
    "it, and carebase completes it when it next starts\",\"schema\":{"
    "\"type\":\"object\",\"properties\":{\"status\":{\"const\":"
    "\"pending\"},\"detail\":{\"type\":\"string\"}}}}},"
    "\"problems\":{\"403\":\"WRONG_PASSWORD\",\"422\":\"password "
    "missing, or another member\",\"503\":\"the slow pool is full: "
    "try again after Retry-After; or MIGRATIONS_PENDING: a migration is "
    "being applied (Retry-After); nothing changed\"}}";
static const char api_me_password[] =
    "{\"codes\":{\"403\":[\"INVALID_CURRENT_PASSWORD\"]},\"body\":{\"type\":\"object\","
    "\"required\":[\"current_password\",\"new_password\"],\"properties\":{"
    "\"current_password\":{\"type\":\"string\",\"writeOnly\":true},"
    "\"new_password\":" API_PASSWORD "}},\"answers\":{\"204\":{"
    "\"description\":\"changed; every other session ended\"}},\"problems\":{"
    "\"403\":\"INVALID_CURRENT_PASSWORD\",\"422\":\"the new password is not "
    "accepted\"}}";
/* The GDPR export (gdpr.c): the person's own row, the rows they own by
 * table, the audit records about them; links to what is too large. The
 * parts made of the declarations are the resource layer's components
 * (src/resource/openapi.c, export_schemas): users_exported (the users
 * resource's exported adds audit_ref), the account's own tables
 * (export_tables) beside the members named here, and export_records. */
/* clang-format off */
#define API_EXPORT(who)							\
	"{\"answers\":{\"200\":{\"description\":\"everything carebase "	\
	"holds about " who ", by table\",\"schema\":{\"type\":\"object\","	\
	"\"required\":[\"exported_at\",\"export_id\",\"links_expire_at\","	\
	"\"user\",\"relationships\",\"audit_log\",\"records\","		\
	"\"truncated\"],\"properties\":{\"exported_at\":{\"type\":"	\
	"\"string\",\"format\":\"date-time\"},\"export_id\":{\"type\":"	\
	"\"string\",\"description\":\"the id the links of this export "	\
	"carry (records.recording_points)\"},\"links_expire_at\":{"	\
	"\"type\":[\"string\",\"null\"],\"format\":\"date-time\","	\
	"\"description\":\"the end of the session that made the export: "	\
	"its links stop then at the latest (signing out or idling ends "	\
	"them sooner)\"},\"user\":{\"description\":"		\
	"\"the users row as its owner may have it (every field but the "	\
	"hidden ones: resource_export_row) and its audit_ref\","	\
	"\"$ref\":\"#/components/schemas/users_exported\"},"		\
	"\"relationships\":{\"type\":\"array\",\"description\":\"those "	\
	"they follow and those they lead, but an invitation of theirs not "	\
	"answered\",\"items\":{\"$ref\":\"#/components/schemas/"		\
	"relationships\"}},\"audit_log\":{"					\
	"\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/"	\
	"audit_record\"}},\"records\":{\"$ref\":\"#/components/schemas/"	\
	"export_records\"},\"truncated\":{\"type\":\"boolean\","		\
	"\"description\":\"a section (a table's rows, a GDPR hook's, "	\
	"the relationships or the audit log) was cut at its bound\"}},"		\
	"\"allOf\":[{\"$ref\":\"#/components/schemas/export_tables\"}],"	\
	"\"unevaluatedProperties\":false}}}"
/* clang-format on */
static const char api_me_export[] = API_EXPORT("the caller") "}";
static const char api_user_export[] = API_EXPORT(
    "a user") ",\"problems\":{\"403\":\"admins only\",\"404\":\"no such user\"}}";
static const char api_user_erase[] =
    "{\"codes\":{\"409\":[\"LAST_ADMIN\"],\"503\":[\"MIGRATIONS_PENDING\"]},\"answers\":{\"204\":{\"description\":\"erased: the data key is "
    "destroyed, every session ended\"},\"202\":{\"description\":\"the "
    "erasure did not complete now: the erasure journal holds it\","
    "\"schema\":{\"type\":\"object\",\"properties\":{\"status\":{"
    "\"const\":\"pending\"},\"detail\":{\"type\":\"string\"}}}}},"
    "\"problems\":{\"403\":\"admins only\",\"404\":\"no such user\","
    "\"409\":\"erased already\",\"503\":\"MIGRATIONS_PENDING: a "
    "migration is being applied (Retry-After); nothing changed\"}}";

/* clang-format off */
#define API_ROLE	"{\"type\":\"object\",\"required\":[\"name\",\"description\"," \
			"\"is_staff\",\"permissions\"],\"properties\":{\"name\":{" \
			"\"type\":\"string\"},\"description\":{\"type\":\"string\"}," \
			"\"is_staff\":{\"type\":\"boolean\"},\"permissions\":{\"type\":" \
			"\"array\",\"items\":{\"type\":\"string\"},\"description\":" \
			"\"the permissions the role grants, by name, sorted\"}}}"
#define API_SESSION	"{\"type\":\"object\",\"required\":[\"id\",\"current\",\"ip\"," \
			"\"user_agent\",\"device_fingerprint\",\"created_at\"," \
			"\"last_activity_at\",\"expires_at\"],\"properties\":{\"id\":{" \
			"\"type\":\"string\",\"format\":\"uuid\"},\"current\":{\"type\":" \
			"\"boolean\",\"description\":\"the session making this request\"}," \
			"\"ip\":{\"type\":[\"string\",\"null\"],\"description\":\"the " \
			"address it signed in from\"},\"user_agent\":{\"type\":[\"string\"," \
			"\"null\"]},\"device_fingerprint\":{\"type\":[\"string\",\"null\"]}," \
			"\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"," \
			"\"description\":\"signed in\"},\"last_activity_at\":{\"type\":" \
			"\"string\",\"format\":\"date-time\",\"description\":\"last used, " \
			"to within a minute\"},\"expires_at\":{\"type\":\"string\"," \
			"\"format\":\"date-time\",\"description\":\"ends then at the " \
			"latest (sooner when idle)\"}}}"
#define API_SESSIONS	"{\"codes\":{" RESOURCE_API_PAGE_CODES "},\"parameters\":[" RESOURCE_API_PAGE_PARAMS "],\"answers\":{\"200\":{\"description\":\"live sessions, newest " \
			"first (?limit 1-200, ?cursor: the next_cursor of the page " \
			"before)\",\"schema\":{\"type\":\"object\",\"required\":[\"data\"," \
			"\"next_cursor\"],\"properties\":{\"data\":{\"type\":\"array\"," \
			"\"items\":" API_SESSION "},\"next_cursor\":{\"type\":[\"string\"," \
			"\"null\"]}}}}},\"problems\":{\"403\":\"no auth_sessions:read " \
			"permission\",\"404\":\"no such user (or not one you may see)\"}}"
#define API_SESSION_END	"{\"answers\":{\"204\":{\"description\":\"ended: its token is " \
			"refused from now on (401)\"}},\"problems\":{\"403\":\"no " \
			"auth_sessions:delete permission\",\"404\":\"no such live session " \
			"of the user (or a user you may not see)\"}}"
#define API_SESSIONS_END "{\"answers\":{\"200\":{\"description\":\"how many sessions " \
			"were ended (never the one making this request)\",\"schema\":{" \
			"\"type\":\"object\",\"required\":[\"ended\"],\"properties\":{" \
			"\"ended\":{\"type\":\"integer\"}}}}},\"problems\":{\"403\":\"no " \
			"auth_sessions:delete permission\",\"404\":\"no such user (or not " \
			"one you may see)\"}}"
/* clang-format on */

static const char api_roles[] =
    "{\"answers\":{\"200\":{\"description\":\"every role with its "
    "permissions, by name\",\"schema\":{\"type\":\"object\",\"required\":["
    "\"data\"],\"properties\":{\"data\":{\"type\":\"array\",\"items\":" API_ROLE
    "}}}}},\"problems\":{\"403\":\"no roles:read:all "
    "permission\"}}";
static const char api_role[] =
    "{\"answers\":{\"200\":{\"description\":\"the role with its "
    "permissions, and its ETag (for If-Match)\",\"schema\":" API_ROLE "}},"
    "\"problems\":{\"403\":\"no roles:read:all permission\",\"404\":\"no "
    "such role\"}}";
static const char api_role_put[] =
    "{\"codes\":{\"503\":[\"MIGRATIONS_PENDING\"],\"422\":[\"PERMISSION_NOT_GRANTABLE\",\"UNKNOWN_PERMISSION\"],\"409\":[\"ADMIN_LOCKOUT\"]},\"body\":{\"type\":\"object\",\"required\":[\"permissions\"],"
    "\"additionalProperties\":false,\"properties\":{\"permissions\":{"
    "\"type\":\"array\",\"maxItems\":2000,\"items\":{\"type\":\"string\","
    "\"minLength\":1,\"maxLength\":128},\"description\":\"the role's whole "
    "new set (GET /v1/permissions lists the names); a name twice counts "
    "once\"}}},\"answers\":{\"200\":{\"description\":\"the role as it is "
    "now, with its ETag; signed-in sessions hold the new set from their "
    "next request\",\"schema\":" API_ROLE "}},\"problems\":{\"403\":\"no "
    "roles:update:all permission\",\"404\":\"no such role\",\"409\":"
    "\"ADMIN_LOCKOUT: the admin role keeps roles:update:all\",\"412\":"
    "\"If-Match names no current ETag of the role\",\"422\":"
    "\"VALIDATION_FAILED: not {\\\"permissions\\\": [names]}; "
    "UNKNOWN_PERMISSION: an entry per name that is no permission\"}}";
static const char api_permissions[] =
    "{\"answers\":{\"200\":{\"description\":\"every permission a role may "
    "be granted, by name\",\"schema\":{\"type\":\"object\",\"required\":["
    "\"data\"],\"properties\":{\"data\":{\"type\":\"array\",\"items\":{"
    "\"type\":\"object\",\"required\":[\"name\",\"description\"],"
    "\"properties\":{\"name\":{\"type\":\"string\",\"description\":"
    "\"<resource>:<action>:<scope>\"},\"description\":{\"type\":"
    "\"string\"}}}}}}}},\"problems\":{\"403\":\"no roles:read:all "
    "permission\"}}";

static const char api_family_invite[] =
    "{\"codes\":{\"503\":[\"MIGRATIONS_PENDING\"],\"403\":[\"DATE_OF_BIRTH_REQUIRED\",\"ADULT_REQUIRED\"],\"429\":[\"TOO_MANY_INVITATIONS\"]},\"body\":{\"type\":\"object\",\"required\":[\"email\"],"
    "\"additionalProperties\":false,\"properties\":{\"email\":{\"type\":"
    "\"string\",\"maxLength\":320,\"description\":\"the child's sign-in "
    "address\"},\"kind\":{\"const\":\"guardian_of\"}}},\"answers\":{"
    "\"202\":{\"description\":\"the same whether or not the address has "
    "an account: if it has, a pending guardian_of relationship led by the "
    "caller is made and the account mailed; the caller sees it once it is "
    "answered\",\"schema\":{\"type\":\"object\",\"properties\":{"
    "\"status\":{\"const\":\"accepted\"},\"id\":{\"type\":\"string\","
    "\"format\":\"uuid\",\"description\":\"the invitation, to withdraw "
    "it (made whether or not the address has an account)\"},\"detail\":{"
    "\"type\":\"string\"}}}}},\"problems\":{\"403\":\"DATE_OF_BIRTH_REQUIRED or "
    "ADULT_REQUIRED: the caller is not known to be over the digital-consent "
    "age\",\"422\":\"email missing or not an address; kind other than "
    "guardian_of; another member\",\"429\":\"TOO_MANY_INVITATIONS "
    "(family_invites_max open; Retry-After)\",\"503\":"
    "\"MIGRATIONS_PENDING (migration 0030 not applied)\"}}";
static const char api_family_child[] =
    "{\"codes\":{\"503\":[\"MIGRATIONS_PENDING\"],\"422\":[\"OVER_CONSENT_AGE\"],\"409\":[\"EMAIL_TAKEN\"],\"403\":[\"DATE_OF_BIRTH_REQUIRED\",\"ADULT_REQUIRED\"],\"429\":[\"TOO_MANY_INVITATIONS\"]},\"body\":{\"type\":\"object\",\"required\":[\"first_name\","
    "\"date_of_birth\"],\"additionalProperties\":false,\"properties\":{"
    "\"first_name\":{\"type\":\"string\",\"maxLength\":100},"
    "\"last_name\":{\"type\":\"string\",\"maxLength\":100},"
    "\"date_of_birth\":{\"type\":\"string\",\"format\":\"date\","
    "\"description\":\"must put the child under the digital-consent age of "
    "their country\"},\"country\":{\"type\":\"string\",\"minLength\":2,"
    "\"maxLength\":2,\"description\":\"default: the guardian's\"},"
    "\"locale\":{\"type\":\"string\"},\"email\":{\"type\":\"string\","
    "\"format\":\"email\",\"maxLength\":320,\"description\":\"if given, "
    "the child is mailed a link to set their password\"}}},\"answers\":{"
    "\"201\":{\"description\":\"the child's account and the active "
    "guardian_of relationship, the caller's consent recorded (in_app)\","
    "\"schema\":{\"type\":\"object\",\"required\":[\"user\","
    "\"relationship\"],\"properties\":{\"user\":{\"$ref\":"
    "\"#/components/schemas/users\"},\"relationship\":{\"$ref\":"
    "\"#/components/schemas/relationships\"}}}}},\"problems\":{\"403\":"
    "\"DATE_OF_BIRTH_REQUIRED or ADULT_REQUIRED\",\"409\":\"EMAIL_TAKEN "
    "(invite that account instead; counted against family_invites_max as "
    "an account made)\",\"422\":\"OVER_CONSENT_AGE (the "
    "child consents themselves: invite their account), or validation "
    "failed: one entry per field (a country that is no ISO 3166-1 code "
    "among them)\",\"429\":\"TOO_MANY_INVITATIONS "
    "(Retry-After)\",\"503\":\"MIGRATIONS_PENDING (migration 0030 not "
    "applied)\"}}";

static const char api_family_withdraw[] =
    "{\"codes\":{\"503\":[\"MIGRATIONS_PENDING\"],\"409\":[\"NOT_AN_INVITATION\"]},\"answers\":{\"204\":{\"description\":\"withdrawn (or it was "
    "already, or was answered): if the address has an account and nobody "
    "answered yet, the invitation ends; it still counts against "
    "family_invites_max until family_invite_ttl_s\"}},\"problems\":{"
    "\"404\":\"no invitation of the caller's by that id\",\"409\":"
    "\"NOT_AN_INVITATION: a child's account made (end its relationship)\","
    "\"503\":\"MIGRATIONS_PENDING\"}}";
static const char api_family_refuse[] =
    "{\"codes\":{\"503\":[\"MIGRATIONS_PENDING\"],\"422\":[\"INVALID_TOKEN\"]},\"body\":{\"type\":\"object\",\"required\":[\"token\"],"
    "\"additionalProperties\":false,\"properties\":{\"token\":{\"type\":"
    "\"string\",\"maxLength\":128,\"description\":\"from the \\\"this "
    "is not me\\\" link of a child's welcome mail\"}}},\"answers\":{\"204\":{"
    "\"description\":\"the address is taken off the child's account (its "
    "password and reset links with it) and the guardian is told\"}},"
    "\"problems\":{\"422\":\"INVALID_TOKEN: not a live link (used, expired "
    "after family_invite_ttl_s, or none)\",\"503\":\"MIGRATIONS_PENDING\"}}";

static const char api_verify_email[] =
    "{\"codes\":{\"422\":[\"INVALID_TOKEN\"]},\"body\":{\"type\":\"object\",\"required\":[\"token\"],"
    "\"properties\":{\"token\":{\"type\":\"string\",\"maxLength\":128,"
    "\"description\":\"from the link of the verification mail\"}}},"
    "\"answers\":{\"204\":{\"description\":\"the address is verified and "
    "the welcome mail queued\"}},\"problems\":{\"422\":\"INVALID_TOKEN "
    "(unknown, used or expired)\"}}";
static const char api_verify_resend[] =
    "{\"codes\":{\"409\":[\"ALREADY_VERIFIED\"],\"429\":[\"RESEND_TOO_SOON\"]},\"answers\":{\"202\":{\"description\":\"a new verification link "
    "is on its way; the earlier ones no longer work\",\"schema\":{"
    "\"type\":\"object\",\"required\":[\"status\"],\"properties\":{"
    "\"status\":{\"const\":\"accepted\"}}}}},\"problems\":{"
    "\"409\":\"ALREADY_VERIFIED\",\"429\":\"RESEND_TOO_SOON (Retry-After; "
    "config email_verify_resend_s)\"}}";
static const char api_set_password[] =
    "{\"codes\":{\"422\":[\"INVALID_TOKEN\"]},\"body\":{\"type\":\"object\","
    "\"required\":[\"token\",\"password\"],\"properties\":{\"token\":{"
    "\"type\":\"string\",\"maxLength\":128},\"password\":" API_PASSWORD
    "}},\"answers\":{\"204\":{\"description\":\"the password is set; "
    "sign in with it\"}},\"problems\":{\"422\":\"INVALID_TOKEN (unknown, "
    "used or expired), or the password is not accepted\"}}";

static const struct route people_routes[] = {
	{ HTTP_POST, "/v1/auth/register", people_auth_register,
	    ROUTE_JSON_BODY | ROUTE_SMALL_BODY | ROUTE_SLOW | ROUTE_PUBLIC,
	    "create a member account (terms acceptance required)", NULL,
	    api_register },
	{ HTTP_POST, "/v1/auth/login", people_auth_login,
	    ROUTE_JSON_BODY | ROUTE_SMALL_BODY | ROUTE_SLOW | ROUTE_PUBLIC,
	    "start an auth session: returns the bearer token and its expiry",
	    NULL, api_login },
	{ HTTP_POST, "/v1/auth/logout", people_auth_logout, 0,
	    "end the caller's auth session", NULL, api_logout },
	{ HTTP_GET, "/v1/auth/session", people_auth_session_get, 0,
	    "the caller's auth session: signed in or not (401), until when, "
	    "and its CSRF value",
	    NULL, api_session_now },
	{ HTTP_GET, "/v1/auth/csrf", people_auth_csrf_get, 0,
	    "the CSRF value of the caller's session (sets the carebase_csrf "
	    "cookie again)",
	    NULL, api_csrf },
	{ HTTP_POST, "/v1/auth/password-reset", people_auth_reset,
	    ROUTE_JSON_BODY | ROUTE_SMALL_BODY | ROUTE_PUBLIC,
	    "mail a password reset link (always 202)", NULL, api_reset },
	{ HTTP_POST, "/v1/auth/password-reset/confirm",
	    people_auth_reset_confirm,
	    ROUTE_JSON_BODY | ROUTE_SMALL_BODY | ROUTE_SLOW | ROUTE_PUBLIC,
	    "set a new password with a reset token; ends every session", NULL,
	    api_confirm },
	{ HTTP_POST, "/v1/auth/verify-email", people_auth_verify_email,
	    ROUTE_JSON_BODY | ROUTE_SMALL_BODY | ROUTE_PUBLIC,
	    "verify the address of a new account with the mailed token; the "
	    "welcome mail follows",
	    NULL, api_verify_email },
	{ HTTP_POST, "/v1/auth/verify-email/resend", people_auth_verify_resend,
	    0,
	    "mail the caller a new verification link (at most one per "
	    "email_verify_resend_s)",
	    NULL, api_verify_resend },
	{ HTTP_POST, "/v1/auth/set-password", people_auth_set_password,
	    ROUTE_JSON_BODY | ROUTE_SMALL_BODY | ROUTE_SLOW | ROUTE_PUBLIC,
	    "set the first password with a staff invitation's token", NULL,
	    api_set_password },
	{ HTTP_POST, "/v1/auth/family-welcome/refuse", people_family_refuse,
	    ROUTE_JSON_BODY | ROUTE_SMALL_BODY | ROUTE_PUBLIC,
	    "\"this is not me\": take an address off the child's account a "
	    "guardian made with it (the welcome mail's token)",
	    NULL, api_family_refuse },
	{ HTTP_GET, "/v1/me", people_me_get, 0, "the caller's own account",
	    NULL, api_me_get },
	{ HTTP_PATCH, "/v1/me", people_me_patch, ROUTE_JSON_BODY | ROUTE_SLOW,
	    "change the caller's account (email needs current_password)", NULL,
	    api_me_patch },
	{ HTTP_DELETE, "/v1/me", people_me_erase, ROUTE_JSON_BODY | ROUTE_SLOW,
	    "erase the caller (GDPR): data key destroyed, sessions ended", NULL,
	    api_me_erase },
	{ HTTP_POST, "/v1/me/password", people_me_password,
	    ROUTE_JSON_BODY | ROUTE_SLOW,
	    "change password (current needed); ends every other session", NULL,
	    api_me_password },
	{ HTTP_GET, "/v1/me/export", people_me_export, ROUTE_SLOW,
	    "everything carebase holds about the caller (GDPR)", NULL,
	    api_me_export },
	{ HTTP_GET, "/v1/users/{id}/export", people_user_export, ROUTE_SLOW,
	    "everything carebase holds about a user (admins)", NULL,
	    api_user_export },
	{ HTTP_POST, "/v1/users/{id}/erase", people_user_erase, ROUTE_SLOW,
	    "erase a user (admins)", NULL, api_user_erase },
	{ HTTP_POST, "/v1/me/family/invite", people_family_invite,
	    ROUTE_JSON_BODY | ROUTE_SMALL_BODY,
	    "invite an account as the caller's child (adults; always 202)",
	    NULL, api_family_invite },
	{ HTTP_POST, "/v1/me/family/children", people_family_child,
	    ROUTE_JSON_BODY | ROUTE_SMALL_BODY,
	    "make the account of the caller's child under the consent age, "
	    "the caller's consent recorded",
	    NULL, api_family_child },
	{ HTTP_POST, "/v1/me/family/invites/{id}/withdraw",
	    people_family_withdraw, 0,
	    "withdraw a family invitation the caller sent (its id from the "
	    "invitation's answer)",
	    NULL, api_family_withdraw },
	{ HTTP_GET, "/v1/me/sessions", people_my_sessions_list, 0,
	    "the caller's live auth sessions, the current one marked", NULL,
	    API_SESSIONS },
	{ HTTP_DELETE, "/v1/me/sessions/{id}", people_my_session_end, 0,
	    "end one of the caller's sessions (its token fails at once)", NULL,
	    API_SESSION_END },
	{ HTTP_POST, "/v1/me/sessions/end-others",
	    people_my_sessions_end_others, 0,
	    "end every session of the caller but this one", NULL,
	    API_SESSIONS_END },
	{ HTTP_GET, "/v1/users/{id}/sessions", people_user_sessions_list, 0,
	    "a user's live auth sessions (admins)", NULL, API_SESSIONS },
	{ HTTP_DELETE, "/v1/users/{id}/sessions/{session_id}",
	    people_user_session_end, 0, "end one of a user's sessions (admins)",
	    NULL, API_SESSION_END },
	{ HTTP_POST, "/v1/users/{id}/sessions/end-all",
	    people_user_sessions_end_all, 0,
	    "end every session of a user (admins; never the caller's own "
	    "current one)",
	    NULL, API_SESSIONS_END },
	{ HTTP_GET, "/v1/roles", people_roles_list, 0,
	    "every role with its permissions (admins)", NULL, api_roles },
	{ HTTP_GET, "/v1/roles/{name}", people_role_get, 0,
	    "one role with its permissions and ETag (admins)", NULL, api_role },
	{ HTTP_PUT, "/v1/roles/{name}/permissions", people_role_permissions_put,
	    ROUTE_JSON_BODY,
	    "replace a role's permissions (admins; audited; held at once by "
	    "signed-in sessions)",
	    NULL, api_role_put },
	{ HTTP_GET, "/v1/permissions", people_permissions_list, 0,
	    "every permission a role may be granted (admins)", NULL,
	    api_permissions },
};

static const struct resource *const people_resources[] = {
	&users_resource,
	&relationships_resource,
	&auth_sessions_resource,
	&password_resets_resource,
	&family_invites_resource,
	&email_tokens_resource,
};

/*
 * The account's mail, text and HTML; the layout (ops/mail_job.c) frames
 * and brands them. Every link is a page of core/pages.h.
 */
static const struct mail_template password_reset_template = {
	"password_reset",
	"Reset your {{brand_name}} password",
	"Someone asked to reset the password of your {{brand_name}} "
	"account.\n\n"
	"To choose a new password, open this link within {{minutes}} minutes:\n"
	"{{link}}\n\n"
	"If it was not you, ignore this message: your password stays as it "
	"is.\n",
	"<p>Someone asked to reset the password of your {{brand_name}} "
	"account.</p>"
	"<p>To choose a new password, open <a href=\"{{link}}\">this link</a> "
	"within {{minutes}} minutes.</p>"
	"<p>If it was not you, ignore this message: your password stays as it "
	"is.</p>",
	"{\"link\":\"/reset-password?token=SAMPLE\","
	"\"minutes\":30}",
};

static const struct mail_template password_changed_template = {
	"password_changed",
	"Your {{brand_name}} password was changed",
	"The password of your {{brand_name}} account was changed at {{time}} "
	"(UTC),\nand every other session was ended.\n\n"
	"If you did not do this, reset your password at once at "
	"{{public_url}}/account\n"
	"and tell us.\n",
	"<p>The password of your {{brand_name}} account was changed at "
	"{{time}} (UTC), and every other session was ended.</p>"
	"<p>If you did not do this, <a href=\"{{public_url}}/account\">reset your "
	"password</a> at once and tell us.</p>",
	"{\"time\":\"2031-03-04T09:00:00Z\"}",
};

static const struct mail_template family_invitation_template = {
	"family_invitation",
	"{{inviter}} asks to be your guardian on {{brand_name}}",
	"{{inviter}} asked to be recorded as your guardian on "
	"{{brand_name}}.\n\n"
	"Sign in at {{public_url}}/account and look at your relationships to accept "
	"or\ndecline it; it stays open for {{days}} days. Once accepted, they "
	"see your\ndata there. If you do not know them, decline it.\n",
	"<p>{{inviter}} asked to be recorded as your guardian on "
	"{{brand_name}}.</p><p><a href=\"{{public_url}}/account\">Sign in</a> and "
	"look at your relationships to accept or decline it; it stays open "
	"for {{days}} days. Once accepted, they see your data there. If you "
	"do not know them, decline it.</p>",
	"{\"inviter\":\"Alex Doe\",\"days\":14}",
};

static const struct mail_template family_welcome_template = {
	"family_welcome",
	"{{guardian}} made you a {{brand_name}} account",
	"{{guardian}} made you a {{brand_name}} account, as your guardian, "
	"with this\naddress.\n\n"
	"To choose your password, open this link within {{minutes}} "
	"minutes:\n{{link}}\n\n"
	"If it runs out, ask for a new one with \"forgot password\".\n\n"
	"This is not you? If {{guardian}} is not your guardian, open this "
	"link\nwithin {{refuse_days}} days: your address is taken off the "
	"account, and\n{{guardian}} is told. You can then use it for an "
	"account of your own.\n{{refuse_link}}\n",
	"<p>{{guardian}} made you a {{brand_name}} account, as your guardian, "
	"with this address.</p><p>To choose your password, open "
	"<a href=\"{{link}}\">this link</a> within {{minutes}} minutes. If it "
	"runs out, ask for a new one with &quot;forgot password&quot;.</p>"
	"<p>This is not you? If {{guardian}} is not your guardian, open "
	"<a href=\"{{refuse_link}}\">this link</a> within {{refuse_days}} "
	"days: your address is taken off the account, and {{guardian}} is "
	"told. You can then use it for an account of your own.</p>",
	"{\"guardian\":\"Alex Doe\",\"minutes\":30,\"refuse_days\":14,"
	"\"link\":\"/reset-password?token=SAMPLE\","
	"\"refuse_link\":\"/not-me?token=SAMPLE\"}",
};

static const struct mail_template family_email_refused_template = {
	"family_email_refused",
	"The address you gave for {{child}} was refused",
	"The owner of the address you gave for {{child}}'s {{brand_name}} "
	"account says\nit is not theirs. It is taken off the account, which "
	"has no sign-in\nnow. Give the child's own address, or none, at "
	"{{public_url}}/account\n",
	"<p>The owner of the address you gave for {{child}}'s {{brand_name}} "
	"account says it is not theirs. It is taken off the account, which "
	"has no sign-in now. Give the child's own address, or none, at "
	"<a href=\"{{public_url}}/account\">your account</a>.</p>",
	"{\"child\":\"Robin\"}",
};

static const struct job_kind people_jobs[] = {
	{ "people.password_reset", people_reset_job, 0 },
	{ "people.family_invite", people_family_invite_job, 0 },
	{ "people.family_expire", people_family_expire_job, 0 },
	{ "audit.anchor", people_audit_anchor_job, 0 },
};

/* The audit log's head, into the log every hour: ship the log elsewhere
 * and `carebase audit verify --anchor=SEQ:HASH` can prove no row was cut
 * off or rewritten since. */
static const struct job_schedule people_schedules[] = {
	{ "audit.anchor", "7 * * * *", "audit.anchor", NULL },
	/* Nightly: family invitations past family_invite_ttl_s end
	 * (family_close.c). */
	{ "people.family_expire", "25 0 * * *", "people.family_expire", NULL },
};

const struct module people_module = {
	"people",
	people_routes,
	NELEM(people_routes),
	people_jobs,
	NELEM(people_jobs),
	people_schedules,
	NELEM(people_schedules),
	people_resources,
	NELEM(people_resources),
	people_init,
	people_seed,
	people_stop,
	people_session_cache_metrics,
};

static int
people_init(struct store *db)
{
	int rc;

	http_set_authenticator(people_authenticate);
	resource_set_consent(people_health_consent_answer);
	if ((rc = mail_template_register(&password_reset_template)) != OK &&
	    rc != ERR_CONFLICT)
		return (rc);
	if ((rc = mail_template_register(&password_changed_template)) != OK &&
	    rc != ERR_CONFLICT)
		return (rc);
	if ((rc = mail_template_register(&family_invitation_template)) != OK &&
	    rc != ERR_CONFLICT)
		return (rc);
	if ((rc = mail_template_register(&family_welcome_template)) != OK &&
	    rc != ERR_CONFLICT)
		return (rc);
	if ((rc = mail_template_register(&family_email_refused_template)) !=
		OK &&
	    rc != ERR_CONFLICT)
		return (rc);
	if ((rc = people_email_templates_init()) != OK)
		return (rc);
	/* Sessions migration 0033 carried over in clear are sealed now. */
	if ((rc = people_sessions_seal_legacy(db)) != OK)
		return (rc);
	if ((rc = people_relationships_init(db)) != OK)
		return (rc);
	return (people_profile_init());
}

/* The session cache's listener ends before the database closes. */
static void
people_stop(void)
{
	people_session_cache_stop();
}

/*
 * Demo accounts, each with the same printed password (the one place a
 * password is printed), skipping those that exist; the guardian is linked
 * to the child with consent recorded, the therapist to the member. Every
 * adult has a birth date, so the demo member may hold health data (an
 * account an earlier seed made without one gets it now); the child is 12.
 * The ids go to accounts, for the other modules' seeds.
 */
static int
people_seed(struct store *db, struct seed_accounts *accounts)
{
	struct demo demos[] = {
		{ "admin", "admin", "Ada", "Admin", "1979-03-08",
		    accounts->admin, "", "" },
		{ "therapist", "therapist", "Theo", "Therapist", "1982-11-20",
		    accounts->therapist, "", "" },
		{ "guardian", "member", "Grace", "Guardian", "1984-06-02",
		    accounts->guardian, "", "" },
		{ "child", "member", "Charlie", "Child", NULL, accounts->child,
		    "", "" },
		{ "member", "member", "Morgan", "Member", "1991-04-17",
		    accounts->member, "", "" },
		{ "instructor", "instructor", "Ira", "Instructor", "1987-09-30",
		    accounts->instructor, "", "" },
		/* Demo Partner's admin (partners/seed.c links them). */
		{ "partner", "partner_admin", "Pat", "Partner", "1980-02-14",
		    accounts->partner_admin, "", "" },
	};
	struct demo_link links[] = {
		{ "guardian", "child", "guardian_of" },
		{ "therapist", "member", "practitioner_of" },
	};
	size_t i;
	int    rc;

	for (i = 0; i < NELEM(demos); i++)
		if ((rc = demo_add(db, &demos[i])) != OK)
			return (rc);
	for (i = 0; i < NELEM(links); i++) {
		const char *lead =
		    demo_get(demos, NELEM(demos), links[i].lead)->id;
		const char *follower =
		    demo_get(demos, NELEM(demos), links[i].follower)->id;
		/* A guardian consents for the child; a client for themselves. */
		const char *ids[4] = { lead, follower, links[i].kind,
			strcmp(links[i].kind, "guardian_of") == 0 ? lead
								  : follower };
		if ((rc = store_run(db, STORE_TX_WRITE, demo_link_tx, ids)) !=
		    OK)
			return (rc);
	}
	printf("demo accounts (password for each: %s)\n", DEMO_PASSWORD);
	printf("  %-13s %-32s %-8s %s\n", "role", "email", "status", "id");
	for (i = 0; i < NELEM(demos); i++)
		printf("  %-13s %-32s %-8s %s\n", demos[i].role, demos[i].email,
		    demos[i].status, demos[i].id);
	printf("  the guardian is guardian_of the child (12, GB) with consent; "
	       "the therapist is practitioner_of the member (born %s)\n",
	    demo_get(demos, NELEM(demos), "member")->born);
	return (OK);
}

static struct demo *
demo_get(struct demo *d, size_t n, const char *who)
{
	size_t i;

	for (i = 0; i + 1 < n; i++)
		if (strcmp(d[i].who, who) == 0)
			break;
	return (&d[i]);
}

static int
demo_add(struct store *db, struct demo *d)
{
	struct people_new_user nu;
	struct tm	       tm;
	time_t		       now = time(NULL);
	const char	      *why = NULL;
	char		      *email = d->email, dob[32];
	int		       rc;

	snprintf(email, sizeof(d->email), "%s%s", d->who, DEMO_DOMAIN);
	memset(&nu, 0, sizeof(nu));
	nu.email = email;
	nu.role = d->role;
	nu.first_name = d->first_name;
	nu.last_name = d->last_name;
	nu.country = "GB";
	nu.locale = "en-GB";
	nu.signup_language = "en";
	nu.terms_accepted = nu.privacy_accepted = d->born != NULL;
	if (d->born == NULL) {
		gmtime_r(&now, &tm);
		snprintf(
		    dob, sizeof(dob), "%04d-01-01", tm.tm_year + 1900 - 12);
		nu.date_of_birth = dob;
	} else
		nu.date_of_birth = d->born;
	rc = people_user_add_full(db, &nu, DEMO_PASSWORD, d->id, &why);
	d->status = "created";
	if (rc == ERR_CONFLICT) {
		d->status = "existed";
		if ((rc = demo_find(db, email, d->id)) == OK)
			rc = store_run(db, STORE_TX_WRITE, demo_born_tx, d);
	}
	if (rc != OK)
		fprintf(stderr, "carebase: demo account %s: %s\n", email,
		    why != NULL ? why : err_code(rc));
	return (rc);
}

/* An account an earlier seed made without a birth date gets one. */
static int
demo_born_tx(struct tx *tx, void *arg)
{
	struct demo	   *d = arg;
	struct resource_ctx ctx;
	struct stmt	   *st;
	json_t		   *body;
	int		    rc;

	if (d->born == NULL)
		return (OK);
	st = store_prepare(
	    tx, "SELECT 1 FROM users WHERE id = ? AND date_of_birth IS NULL");
	store_bind_text(st, 1, d->id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_ROW)
		return (rc == STORE_DONE ? OK : rc);
	memset(&ctx, 0, sizeof(ctx));
	ctx.tx = tx;
	ctx.res = &users_resource;
	ctx.scope = SCOPE_ALL;
	if ((body = json_pack("{s:s}", "date_of_birth", d->born)) == NULL)
		return (ERR_NOMEM);
	rc = resource_update(&ctx, d->id, body);
	json_decref(body);
	if (rc == OK)
		d->status = "updated";
	return (rc);
}

static int
demo_find(struct store *db, const char *email, char *id)
{
	struct tx   *tx;
	struct stmt *st;
	char	     index[65];
	int	     rc, step;

	keyring_email_index(email, index);
	if ((rc = store_tx_begin(db, STORE_TX_READ, &tx)) != OK)
		return (rc);
	st = store_prepare(tx, "SELECT id FROM users WHERE email_index = ?");
	store_bind_text(st, 1, index);
	if ((step = store_step(st)) == STORE_ROW)
		strlcpy_cb(id, store_col_text(st, 0), 37);
	store_finalize(st);
	store_tx_rollback(tx);
	return (step == STORE_ROW
		? OK
		: (step == STORE_DONE ? ERR_NOT_FOUND : ERR_DB));
}

static int
demo_link_tx(struct tx *tx, void *arg)
{
	const char **ids = arg;
	struct stmt *st;
	char	     id[UUID_STR_LEN];
	json_t	    *changes;
	int64_t	     now = time_now_ms(), n;
	int	     rc, step;

	st = store_prepare(tx,
	    "INSERT INTO relationships (id, lead_id, "
	    "follower_id, kind, status, consent_at, consent_by, "
	    "consent_method, "
	    "created_at, updated_at) VALUES (?, ?, ?, ?, 'active', ?, ?, "
	    "'signed_form', ?, ?) ON CONFLICT (lead_id, follower_id, kind) "
	    "DO NOTHING");
	store_bind_text(st, 1, uuid_v7(id));
	store_bind_text(st, 2, ids[0]);
	store_bind_text(st, 3, ids[1]);
	store_bind_text(st, 4, ids[2]);
	store_bind_int64(st, 5, now);
	store_bind_text(st, 6, ids[3]);
	store_bind_int64(st, 7, now);
	store_bind_int64(st, 8, now);
	step = store_step(st);
	n = store_changes(st);
	store_finalize(st);
	if (step != STORE_DONE)
		return (step == ERR_BUSY ? ERR_BUSY : ERR_DB);
	if (n == 0)
		return (OK); /* linked already */
	/* Made by the seed, not by a person: no actor. */
	changes = json_pack("{s:[s,s,s,s,s,s,s],s:s,s:s,s:s,s:s,s:s}", "fields",
	    "lead_id", "follower_id", "kind", "status", "consent_at",
	    "consent_by", "consent_method", "lead_id", ids[0], "follower_id",
	    ids[1], "kind", ids[2], "status", "active", "consent_method",
	    "signed_form");
	if (changes == NULL)
		return (ERR_NOMEM);
	rc = audit_append(tx, NULL, NULL, "relationships.create",
	    "relationships", id, changes);
	json_decref(changes);
	return (rc);
}
