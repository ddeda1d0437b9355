/*
 * The reports module (seed 002, "Reporting"): a catalogue of report
 * definitions, each a few measures written as SQL with the named
 * date-range parameters :from and :to (inclusive, exclusive; ms). SQL
 * text lives here (and, for the training business's reports, in
 * training_reports.c) and only there: a request names a report, never
 * SQL.
 *
 *	GET /v1/reports			the catalogue
 *	GET /v1/reports/{name}?from=&to=&period=day|week|month
 *	    &format=json|csv|xlsx|pdf
 *
 * and the report runs of report_runs.c (routes) and run_jobs.c (jobs),
 * and the report schedules of schedules.c (a declared resource, its due
 * job and its mail). make.c makes a report's answer; args.c parses its
 * parameters.
 *
 * Admins (permission reports:read:all); partner admins
 * (reports:read:related) the reports open to partners (each measure with
 * its partner SQL, :partner bound), over the partner they administer
 * only, read from partner_admins and never from the request (asker_load,
 * partner_pick): their people's activity while their access was active
 * (MEMBER_OF, ACCESS_END: by when it was, not by is_active now), counts
 * under report_partner_min_count withheld at the day (make.c's
 * withhold), a range of report_partner_max_days at most and of whole
 * periods (args: so that no two answers differ by a withheld count). course_progress
 * is not theirs (REPORT_NOT_FOR_PARTNER_ADMINS): an admin may ask it of
 * one partner (in the courses that partner sees, COURSE_SEEN), an
 * employer is not told which courses its people take, even counted. Every measure answers
 * aggregates, never a row about a person: (group id, group name, day,
 * count) with day = ms / 86400000 (the training reports: an hour or a
 * date, London's days, and money; reports_int.h), and the totals of the
 * range with each subject counted once (a member with accesses from two
 * partners is in both partners' rows and once in the total), the same
 * integer arithmetic on SQLite and PostgreSQL. A range is at most REPORT_RANGE_MAX_MS long
 * and an answer at most report_max_rows rows (422 REPORT_TOO_LARGE past
 * it: narrow the range or widen the period) and report_run_max_bytes
 * bytes, whatever the format (422 RESULT_TOO_LARGE), the bound a queued run keeps
 * its answer in, so the two routes answer or refuse the same reports.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "partners/partners.h"
#include "reports/reports.h"
#include "reports/reports_int.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"

/* Who asks for a report: an admin, or a partner admin and their partner. */
struct asker {
	int  scope; /* SCOPE_ALL: an admin; SCOPE_RELATED: a partner admin */
	char partner[UUID_STR_LEN]; /* SCOPE_RELATED: the one they administer */
};

/* asker_partner's argument: who asks, and where their partner goes. */
struct asker_arg {
	const char   *user_id;
	struct asker *a;
};

static int  asker_load(struct request *, struct asker *);
static int  asker_partner(struct tx *, void *);
static int  partner_pick(struct request *, const struct report *,
     const struct asker *, const char **, json_t *);
static int  partner_exists(struct tx *, void *);
static void args(
    struct request *, const struct asker *, struct report_query *, json_t *);
static json_t *report_entry(const struct report *);

/* What the OpenAPI document says of the report runs (report_runs.c). */
/* clang-format off */
#define API_RUN	"{\"type\":\"object\",\"required\":[\"id\",\"report\"," \
	"\"from\",\"to\",\"period\",\"format\",\"status\",\"attempts\"]," \
	"\"properties\":{\"id\":{\"type\":\"string\",\"format\":\"uuid\"}," \
	"\"report\":{\"type\":\"string\"},\"from\":{\"type\":\"string\"," \
	"\"format\":\"date-time\"},\"to\":{\"type\":\"string\",\"format\":" \
	"\"date-time\"},\"period\":{\"enum\":[\"day\",\"week\",\"month\"]}," \
	"\"format\":{\"enum\":[\"json\",\"csv\",\"xlsx\",\"pdf\"]}," \
	"\"status\":{\"enum\":[" \
	"\"queued\",\"running\",\"succeeded\",\"failed\"]},\"attempts\":{" \
	"\"type\":\"integer\"},\"error_code\":{\"type\":[\"string\"," \
	"\"null\"],\"description\":\"REPORT_TOO_LARGE, RESULT_TOO_LARGE, " \
	"REPORT_FAILED, DATABASE_ERROR (retried while queued) or JOB_FAILED\"}," \
	"\"error\":{\"type\":[\"string\",\"null\"]},\"result_bytes\":{" \
	"\"type\":[\"integer\",\"null\"]},\"rows\":{\"type\":[\"integer\"," \
	"\"null\"]},\"requested_by\":{\"type\":[\"string\",\"null\"]}," \
	"\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"}," \
	"\"started_at\":{\"type\":[\"string\",\"null\"],\"format\":" \
	"\"date-time\"},\"finished_at\":{\"type\":[\"string\",\"null\"]," \
	"\"format\":\"date-time\"},\"is_scheduled\":{\"type\":" \
	"\"boolean\",\"description\":\"made by a report schedule\"}," \
	"\"schedule_frequency\":{\"enum\":[\"daily\",\"weekly\"," \
	"\"monthly\",null]},\"schedule_id\":{\"type\":[\"string\"," \
	"\"null\"],\"description\":\"the report schedule that made it " \
	"(it may be deleted since)\"}}}"
/* clang-format on */
#define API_RUN_ADMIN "\"403\":\"not an admin\""

static const char api_run_create[] =
    "{\"codes\":{\"404\":[\"REPORT_NOT_FOUND\"],\"429\":[\"RUNS_PENDING\"]},\"body\":{\"type\":\"object\","
    "\"required\":[\"report\",\"from\",\"to\"],\"properties\":{"
    "\"report\":{\"$ref\":\"#/components/schemas/report_schedules_create/"
    "properties/report\",\"description\":\"a name from GET "
    "/v1/reports\"},\"from\":{\"type\":\"string\",\"description\":\"ISO "
    "8601 date or date-time, inclusive\",\"examples\":[\"2026-01-01\"]},"
    "\"to\":{\"type\":\"string\","
    "\"description\":\"ISO 8601 date or date-time, exclusive; at most 5 "
    "years after from\",\"examples\":[\"2026-02-01\"]},\"period\":{\"enum\":[\"day\",\"week\","
    "\"month\"],\"default\":\"month\"},\"format\":{\"enum\":[\"json\","
    "\"csv\",\"xlsx\",\"pdf\"],\"default\":\"json\",\"description\":"
    "\"the result's format, as GET /v1/reports/{name}'s\"}},"
    "\"additionalProperties\":false},"
    "\"answers\":{\"202\":{\"description\":\"queued (Location names the "
    "run)\",\"schema\":" API_RUN "}},\"problems\":{" API_RUN_ADMIN ","
    "\"404\":\"REPORT_NOT_FOUND\",\"422\":\"a member missing, unknown or "
    "bad (VALIDATION_FAILED, one entry each)\",\"429\":\"RUNS_PENDING: "
    "too many runs wait already\"}}";
static const char api_run_list[] =
    "{\"codes\":{" RESOURCE_API_PAGE_CODES
    "},\"parameters\":[" RESOURCE_API_PAGE_PARAMS
    "],\"answers\":{\"200\":{\"description\":"
    "\"a page of runs, newest first\",\"schema\":{\"type\":\"object\","
    "\"required\":[\"data\",\"next_cursor\"],\"properties\":{\"data\":{\"type\":\"array\",\"items\":" API_RUN
    "},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}}},"
    "\"problems\":{" API_RUN_ADMIN "}}";
static const char api_run_get[] =
    "{\"answers\":{\"200\":{\"description\":"
    "\"the run\",\"schema\":" API_RUN "}},\"problems\":{" API_RUN_ADMIN
    ",\"404\":\"no such run\"}}";
/*
 * A report's answer in its four formats, GET /v1/reports/{name}'s and a
 * run's result alike: media type to schema.
 */
/* clang-format off */
/* A cell of a row or a total, keyed by its column: a period, a group's id
 * or label, a currency, a count or money in minor units (null when
 * withheld, or a money total over several currencies). */
#define API_CELL "{\"type\":[\"string\",\"integer\",\"number\"," \
	"\"null\"]}"
#define API_ANSWER "{\"application/json\":{\"type\":\"object\"," \
	"\"required\":[\"report\",\"columns\",\"rows\",\"totals\"]," \
	"\"properties\":{\"report\":{\"type\":\"string\"},\"title\":{" \
	"\"type\":\"string\"},\"from\":{\"type\":\"string\",\"format\":" \
	"\"date-time\"},\"to\":{\"type\":\"string\",\"format\":" \
	"\"date-time\"},\"time_zone\":{\"enum\":[\"UTC\"," \
	"\"Europe/London\"],\"description\":\"whose days the periods " \
	"are\"},\"period\":{\"type\":\"string\"},\"columns\":{" \
	"\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"rows\":{" \
	"\"type\":\"array\",\"items\":{\"type\":\"object\"," \
	"\"description\":\"a period (and group): one member per " \
	"column, named in columns\",\"additionalProperties\":" \
	API_CELL "}},\"totals\":{\"type\":\"object\",\"description\":" \
	"\"each measure's total over the range (and the currency)\"," \
	"\"additionalProperties\":" API_CELL "},\"totals_by_currency\":{" \
	"\"type\":\"object\",\"description\":\"reports with money: " \
	"each currency's money totals (minor units), by its code\"," \
	"\"propertyNames\":{\"pattern\":\"^[A-Z]{3}$\"}," \
	"\"additionalProperties\":{\"type\":\"object\"," \
	"\"additionalProperties\":" API_CELL "}},\"withheld_below\":{" \
	"\"type\":\"integer\",\"description\":\"a partner admin's answer: " \
	"counts above 0 and under it are null, and so are a week's or " \
	"month's count with such a day in it and the total of a column " \
	"with one (report_partner_min_count)\"},\"open_period\":{" \
	"\"type\":\"string\",\"description\":\"a partner admin's answer " \
	"whose range reaches a day not over yet: the period holding it " \
	"(for a range wholly after now, the range's first period), as " \
	"rows name it (2026-07-06, 2026-07), whose counts are null " \
	"whatever they are, as are the totals\"}}}," \
	"\"text/csv\":{\"type\":\"string\"}," \
	"\"application/vnd.openxmlformats-officedocument.spreadsheetml." \
	"sheet\":{\"type\":\"string\",\"contentMediaType\":\"application/" \
	"vnd.openxmlformats-officedocument.spreadsheetml.sheet\"}," \
	"\"application/pdf\":{\"type\":\"string\",\"contentMediaType\":" \
	"\"application/pdf\"}}"
/* clang-format on */

static const char api_run_result[] =
    "{\"codes\":{\"409\":[\"RUN_NOT_READY\",\"RUN_FAILED\"]},\"answers\":{\"200\":{"
    "\"description\":\"the answer GET /v1/reports/{name} gives for the "
    "run's parameters, in its format (JSON, CSV, XLSX or PDF), with "
    "Content-Disposition\",\"content\":" API_ANSWER
    "}},\"problems\":{" API_RUN_ADMIN
    ",\"404\":\"no such run\",\"409\":\"RUN_NOT_READY "
    "(queued or running) or RUN_FAILED\"}}";

/* A report's name: the catalogue's, declared once (the report schedules'
 * field, schedules.c, whose values are report_names). */
#define API_REPORT_NAME                                                        \
	"{\"$ref\":\"#/components/schemas/report_schedules_create/"            \
	"properties/report\"}"
/* GET /v1/reports/{name}: its query and its answer in four formats. */
#define API_QUERY(n, req, schema, doc)                                         \
	"{\"name\":\"" n "\",\"in\":\"query\",\"required\":" req               \
	",\"schema\":" schema ",\"description\":\"" doc "\"}"
/* clang-format off */
static const char api_run[] =
    "{\"codes\":{\"422\":[\"REPORT_TOO_LARGE\",\"RESULT_TOO_LARGE\"],"
    "\"404\":[\"REPORT_NOT_FOUND\"],\"403\":[\"NOT_A_PARTNER_ADMIN\","
    "\"REPORT_NOT_FOR_PARTNERS\",\"NOT_YOUR_PARTNER\"],\"503\":["
    "\"MIGRATIONS_PENDING\"]},\"parameters\":["
    "{\"name\":\"name\",\"in\":\"path\",\"required\":true,\"schema\":"
    API_REPORT_NAME ",\"description\":\"a name from GET /v1/reports "
    "(another is 404 REPORT_NOT_FOUND)\"},"
    API_QUERY("from", "true", "{\"type\":\"string\"}",
	"ISO 8601 date or date-time, inclusive; a partner admin's is a "
	"period's start in the report's days (time_zone): a midnight (day), "
	"a Monday's midnight (week), the 1st's midnight (month), else 422 "
	"not_aligned") ","
    API_QUERY("to", "true", "{\"type\":\"string\"}",
	"ISO 8601 date or date-time, exclusive; at most 5 years after from "
	"(a partner admin: report_partner_max_days, 400 days by default, "
	"and a period's start as from is)") ","
    API_QUERY("period", "false",
	"{\"enum\":[\"day\",\"week\",\"month\"],\"default\":\"month\"}",
	"the rows' period, in UTC (a week starts on Monday)") ","
    API_QUERY("format", "false",
	"{\"enum\":[\"json\",\"csv\",\"xlsx\",\"pdf\"],\"default\":\"json\"}",
	"json; csv (UTF-8 with a byte-order mark, formulas defused), xlsx "
	"(typed cells) or pdf (A4 landscape), each with the totals as its "
	"last row (one a currency when by currency) and a "
	"Content-Disposition filename") ","
    API_QUERY("partner_id", "false",
	"{\"type\":\"string\",\"format\":\"uuid\"}",
	"one partner's figures, of a report open to partners (for_partners), "
	"or course_progress for an admin (not told to partner admins: which "
	"courses an employer's people take): "
	"an admin names any partner (422 unknown_partner when none has the "
	"id); a partner admin always gets their own partner's (naming another "
	"is 403 NOT_YOUR_PARTNER), with each count above 0 and under "
	"report_partner_min_count (5 by default) withheld: null (an empty "
	"cell), its column's total null too, and withheld_below in the JSON "
	"(a note in CSV, XLSX and PDF); a week's or month's count is withheld "
	"when a day of it is, and a day not over yet (with the week or month "
	"holding it and the total) whatever its count and whatever "
	"report_partner_min_count")
    "],\"answers\":{\"200\":{\"description\":\"the report: rows by period "
    "and group, and the totals of the range\",\"content\":" API_ANSWER
    "}},\"problems\":{\"403\":\"neither an admin nor a partner admin; "
    "NOT_A_PARTNER_ADMIN (no active partner of theirs), "
    "REPORT_NOT_FOR_PARTNERS (a partner admin, a report not open to "
    "partners) or NOT_YOUR_PARTNER (a partner admin naming another "
    "partner)\",\"404\":\"REPORT_NOT_FOUND\",\"422\":\"a bad parameter "
    "(VALIDATION_FAILED, one entry each, among them partner_id "
    "unknown_partner and a partner admin's from or to not_aligned), "
    "REPORT_TOO_LARGE (past report_max_rows rows) or "
    "RESULT_TOO_LARGE (past report_run_max_bytes bytes)\",\"503\":"
    "\"the slow pool is full: try again after Retry-After; or "
    "MIGRATIONS_PENDING: a partner's sign-ups or course progress wait "
    "for migration 0056\"}}";
/* clang-format on */

/* GET /v1/reports: the catalogue (report_entry). */
static const char api_list[] =
    "{\"answers\":{\"200\":{\"description\":\"every report, with its "
    "measures, columns and parameters\",\"schema\":{\"type\":\"object\","
    "\"required\":[\"data\"],\"properties\":{\"data\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"object\",\"required\":[\"name\","
    "\"title\",\"description\",\"group\",\"time_zone\",\"measures\","
    "\"columns\",\"parameters\",\"for_partners\"],\"properties\":{\"name\":" API_REPORT_NAME
    ",\"for_partners\":{\"type\":\"boolean\",\"description\":"
    "\"open to partner admins, each answered their own partner's figures "
    "only (partner_id)\"},\"title\":{\"type\":\"string\"},\"description\":{"
    "\"type\":\"string\"},\"group\":{\"type\":\"string\"},"
    "\"time_zone\":{\"enum\":[\"UTC\",\"Europe/London\"]},"
    "\"measures\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
    "\"required\":[\"name\",\"type\",\"description\"],\"properties\":{"
    "\"name\":{\"type\":\"string\"},\"type\":{\"type\":\"string\"},"
    "\"description\":{\"type\":\"string\"}}}},\"columns\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"string\"},\"description\":"
    "\"the members of its rows, in order\"},\"parameters\":{\"type\":\"object\",\"required\":["
    "\"from\",\"to\",\"period\",\"format\"],\"additionalProperties\":"
    "false,\"description\":\"GET /v1/reports/{name}'s query: what from "
    "and to take, the periods and formats\",\"properties\":{\"from\":{"
    "\"type\":\"string\"},\"to\":{\"type\":\"string\"},\"period\":{"
    "\"type\":\"array\",\"items\":{\"enum\":[\"day\",\"week\","
    "\"month\"]}},\"format\":{\"type\":\"array\",\"items\":{\"enum\":["
    "\"json\",\"csv\",\"xlsx\",\"pdf\"]}}}}}}}}}}},\"codes\":{\"403\":["
    "\"NOT_A_PARTNER_ADMIN\"]},\"problems\":{"
    "\"403\":\"neither an admin nor a partner admin, or "
    "NOT_A_PARTNER_ADMIN (no active partner of theirs)\"}}";

static const struct route reports_routes[] = {
	{ HTTP_GET, "/v1/reports", reports_list, 0,
	    "the report catalogue (admins; a partner admin: the reports open "
	    "to partners)",
	    NULL, api_list },
	{ HTTP_GET, "/v1/reports/{name}", reports_run, ROUTE_SLOW,
	    "run a report: from, to (exclusive), period day|week|month, "
	    "format json|csv|xlsx|pdf, partner_id (admins; a partner admin: "
	    "their own partner's figures only)",
	    NULL, api_run },
	{ HTTP_POST, "/v1/report-runs", report_runs_create, ROUTE_JSON_BODY,
	    "queue a report run: a job makes the report and keeps its answer "
	    "(admins)",
	    NULL, api_run_create },
	{ HTTP_GET, "/v1/report-runs", report_runs_list, 0,
	    "report runs, newest first (limit, cursor; admins)", NULL,
	    api_run_list },
	{ HTTP_GET, "/v1/report-runs/{id}", report_runs_get, 0,
	    "one report run: status, attempts, error (admins)", NULL,
	    api_run_get },
	{ HTTP_GET, "/v1/report-runs/{id}/result", report_runs_result,
	    ROUTE_SLOW,
	    "a report run's answer, JSON, CSV, XLSX or PDF, once "
	    "it succeeded (admins)",
	    NULL, api_run_result },
};

static const struct job_kind reports_jobs[] = {
	{ REPORT_RUN_KIND, report_runs_make_job, 0 },
	{ "report_runs.prune", report_runs_prune_job, 0 },
	{ "report_schedules.due", report_schedules_due_job, 0 },
};

static const struct job_schedule reports_schedules[] = {
	/* report_run_retention_days */
	{ "report_runs.prune", "37 * * * *", "report_runs.prune", NULL },
	/* Report schedules due: their runs, each made once (schedules.c). */
	{ "report_schedules.due", "* * * * *", "report_schedules.due", NULL },
};

static const struct resource *const reports_resources[] = {
	&report_schedules_resource,
};

const struct module reports_module = {
	.name = "reports",
	.routes = reports_routes,
	.nroutes = NELEM(reports_routes),
	.jobs = reports_jobs,
	.njobs = NELEM(reports_jobs),
	.schedules = reports_schedules,
	.nschedules = NELEM(reports_schedules),
	.resources = reports_resources,
	.nresources = NELEM(reports_resources),
	.init = report_schedules_init,
};

/*
 * SQL: when access a stopped being active: switched off (deactivated_at)
 * or deleted, or NULL while it is active. Counts go by it, never by
 * is_active now: switching one member's access off (and on again) must
 * not change a past period's count, which would tell a partner admin
 * that member's part of it.
 */
#define ACCESS_END(a) "COALESCE(" a ".deactivated_at, " a ".deleted_at)"

/*
 * SQL: the user of rows t held an access of partner :partner at the
 * row's time column tm: redeemed at or before it and not ended by it
 * (ACCESS_END), so a partner's course figures count its own people only,
 * and only what they did while its access was theirs; a subject with two
 * accesses of one partner is counted once (EXISTS, not a join).
 */
/* clang-format off */
#define MEMBER_OF(t, tm)						\
	"EXISTS (SELECT 1 FROM partner_access pa WHERE pa.user_id = " t	\
	".user_id AND pa.partner_id = :partner AND pa.activated_at IS NOT "	\
	"NULL AND " t "." tm " >= pa.activated_at AND (" ACCESS_END("pa")	\
	" IS NULL OR " t "." tm " < " ACCESS_END("pa") "))"
/* clang-format on */

/*
 * What the description of a report open to partner admins says of their
 * answers (args, make.c's withhold).
 */
#define PARTNER_ADMINS_DOC                                                     \
	" A partner admin's: their own partner's, over whole periods (from "   \
	"and to each a period's start, in UTC: a midnight, a Monday's, the "   \
	"1st's); a count from 1 to report_partner_min_count - 1 is withheld "  \
	"(null), and so is a week's or month's count with such a day in it, "  \
	"and a total with one, so that no two answers differ by a withheld "   \
	"count; and so is a day not over yet (over 60 s after its end; its "   \
	"row there all the same), whatever report_partner_min_count, with "    \
	"the week or month holding it and the total, so that the counts "      \
	"cannot be differenced, asked again and again, into the day or time "  \
	"a member joined (the members list, GET /v1/partner-access, shows a "  \
	"partner admin their members and when each redeemed)."

/*
 * signups_by_partner over one partner: each member once, on the day they
 * joined it: the later of their sign-up and the redeeming of their first
 * access of it that had not ended by then (ACCESS_END). Not their own
 * sign-up day: a person who had an account long before and redeems a
 * code today would add one to a past day today, and asking before and
 * after would tell that one person's sign-up date. So a past count never
 * changes: not when someone redeems, nor when an access is switched off
 * or deleted.
 */
/* clang-format off */
#define JOINED_AT(a, u)							\
	"CASE WHEN COALESCE(" a ".activated_at, " a ".created_at) > "	\
	u ".created_at THEN COALESCE(" a ".activated_at, " a		\
	".created_at) ELSE " u ".created_at END"
#define SIGNUPS_OF_PARTNER \
	"SELECT p.id, p.name, j.joined / 86400000, COUNT(*) FROM (" \
	"SELECT a.user_id, a.partner_id, MIN(" JOINED_AT("a", "u") \
	") AS joined FROM partner_access a JOIN users u ON u.id = " \
	"a.user_id WHERE a.partner_id = :partner AND u.role = 'member' " \
	"AND (" ACCESS_END("a") " IS NULL OR " JOINED_AT("a", "u") " < " \
	ACCESS_END("a") ") GROUP BY a.user_id, a.partner_id) j JOIN " \
	"partners p ON p.id = j.partner_id WHERE j.joined >= :from AND " \
	"j.joined < :to GROUP BY p.id, p.name, j.joined / 86400000"
/* clang-format on */

/*
 * SQL: the row id of a partner list table (tbl, keyed by col) is visible
 * to partner :partner: no rows (everyone's), a 'public' row, or one with
 * the partner's name key (learning's rule, LEARNING_PARTNERS_OK, for one
 * partner instead of a user's), so one partner never reads another's
 * courses.
 */
/* clang-format off */
#define SEEN_BY_PARTNER(tbl, col, id)					\
	"(NOT EXISTS (SELECT 1 FROM " tbl " lp WHERE lp." col " = " id	\
	") OR EXISTS (SELECT 1 FROM " tbl " lp JOIN partners lpp ON "	\
	"lpp.id = :partner WHERE lp." col " = " id " AND (lp.partner_name "	\
	"= 'public' OR lp.partner_name = lpp.name_key)))"
#define COURSE_SEEN	SEEN_BY_PARTNER("course_partners", "course_id", "c.id")
#define SESSION_SEEN							\
	COURSE_SEEN " AND " SEEN_BY_PARTNER("course_session_partners",	\
	"session_id", "s.id")
/* clang-format on */

/*
 * course_progress over one partner (a partner admin's, or the partner an
 * admin asks for): its members' activity while their access was theirs
 * (MEMBER_OF), in courses and sessions it sees (COURSE_SEEN,
 * SESSION_SEEN); the totals count each member once.
 */
/* clang-format off */
#define PROGRESS_STARTED \
	"SELECT c.id, c.name, e.started_at / 86400000, COUNT(*) " \
	"FROM course_enrolments e JOIN courses c ON c.id = " \
	"e.course_id WHERE " \
	MEMBER_OF("e", "started_at") " AND " COURSE_SEEN \
	" AND e.started_at >= :from AND e.started_at < :to GROUP " \
	"BY c.id, c.name, e.started_at / 86400000"
#define PROGRESS_STARTED_TOTAL \
	"SELECT COUNT(DISTINCT e.user_id) FROM course_enrolments e " \
	"JOIN courses c ON c.id = e.course_id WHERE " \
	MEMBER_OF("e", "started_at") " AND " COURSE_SEEN \
	" AND e.started_at >= :from AND e.started_at < :to"
#define PROGRESS_COMPLETED \
	"SELECT c.id, c.name, e.completed_at / 86400000, COUNT(*) " \
	"FROM course_enrolments e JOIN courses c ON c.id = " \
	"e.course_id WHERE " \
	MEMBER_OF("e", "completed_at") " AND " COURSE_SEEN \
	" AND e.completed = 1 AND e.completed_at >= :from AND " \
	"e.completed_at < :to GROUP BY c.id, c.name, " \
	"e.completed_at / 86400000"
#define PROGRESS_COMPLETED_TOTAL \
	"SELECT COUNT(DISTINCT e.user_id) FROM course_enrolments e " \
	"JOIN courses c ON c.id = e.course_id WHERE " \
	MEMBER_OF("e", "completed_at") " AND " COURSE_SEEN \
	" AND e.completed = 1 AND e.completed_at >= :from AND " \
	"e.completed_at < :to"
#define PROGRESS_SESSIONS_STARTED \
	"SELECT c.id, c.name, sp.started_at / 86400000, COUNT(*) " \
	"FROM course_session_progress sp JOIN course_sessions s ON " \
	"s.id = sp.session_id JOIN courses c ON c.id = s.course_id " \
	"WHERE " \
	MEMBER_OF("sp", "started_at") " AND " SESSION_SEEN \
	" AND sp.started_at >= :from AND sp.started_at < :to GROUP " \
	"BY c.id, c.name, sp.started_at / 86400000"
#define PROGRESS_SESSIONS_COMPLETED \
	"SELECT c.id, c.name, sp.completed_at / 86400000, COUNT(*) " \
	"FROM course_session_progress sp JOIN course_sessions s ON " \
	"s.id = sp.session_id JOIN courses c ON c.id = s.course_id " \
	"WHERE " \
	MEMBER_OF("sp", "completed_at") " AND " SESSION_SEEN \
	" AND sp.completed = 1 AND sp.completed_at >= :from AND " \
	"sp.completed_at < :to GROUP BY c.id, c.name, " \
	"sp.completed_at / 86400000"
/* clang-format on */

static const struct report catalogue[] = {
	{ "signups_by_partner", "Sign-ups by partner",
	    "Members who signed up (users.created_at) in each period, by the "
	    "partners they hold access from (an access switched off or "
	    "deleted since still counts: it was theirs then); partner null: "
	    "none. A partner admin's count each member once, on the day they "
	    "joined the partner (the later of their sign-up and their first "
	    "redeeming), so that no past day changes when someone "
	    "redeems." PARTNER_ADMINS_DOC,
	    "partner",
	    {
		{ "signups",
		    "members who signed up, under each partner "
		    "they hold access from (total: each member once)",
		    "SELECT p.id, p.name, u.created_at / 86400000, "
		    "COUNT(DISTINCT u.id) FROM users u LEFT JOIN "
		    "partner_access "
		    "a ON a.user_id = u.id AND a.deleted_at IS NULL LEFT JOIN "
		    "partners p ON p.id = a.partner_id WHERE u.role = 'member' "
		    "AND u.created_at >= :from AND u.created_at < :to "
		    "GROUP BY p.id, p.name, u.created_at / 86400000",
		    "SELECT COUNT(*) FROM users u WHERE u.role = 'member' AND "
		    "u.created_at >= :from AND u.created_at < :to",
		    .partner = SIGNUPS_OF_PARTNER },
	    } },
	{ "access_codes_by_partner", "Access codes created and redeemed",
	    "Partner access codes created (created_at) and redeemed "
	    "(activated_at) in each period, by partner." PARTNER_ADMINS_DOC,
	    "partner",
	    {
		{ "created", "codes created",
		    "SELECT p.id, p.name, a.created_at / 86400000, COUNT(*) "
		    "FROM partner_access a JOIN partners p ON p.id = "
		    "a.partner_id WHERE a.code_hash IS NOT NULL AND "
		    "a.created_at >= :from AND a.created_at < :to "
		    "GROUP BY p.id, p.name, a.created_at / 86400000",
		    .partner =
			"SELECT p.id, p.name, a.created_at / 86400000, "
			"COUNT(*) FROM partner_access a JOIN partners p "
			"ON p.id = a.partner_id WHERE a.partner_id = "
			":partner AND a.code_hash IS NOT NULL AND "
			"a.created_at >= :from AND a.created_at < :to "
			"GROUP BY p.id, p.name, a.created_at / 86400000" },
		{ "redeemed", "codes redeemed",
		    "SELECT p.id, p.name, a.activated_at / 86400000, COUNT(*) "
		    "FROM partner_access a JOIN partners p ON p.id = "
		    "a.partner_id WHERE a.code_hash IS NOT NULL AND "
		    "a.user_id IS NOT NULL AND a.activated_at >= :from AND "
		    "a.activated_at < :to "
		    "GROUP BY p.id, p.name, a.activated_at / 86400000",
		    .partner =
			"SELECT p.id, p.name, a.activated_at / 86400000, "
			"COUNT(*) FROM partner_access a JOIN partners p "
			"ON p.id = a.partner_id WHERE a.partner_id = "
			":partner AND a.code_hash IS NOT NULL AND "
			"a.user_id IS NOT NULL AND a.activated_at >= :from "
			"AND a.activated_at < :to GROUP BY p.id, p.name, "
			"a.activated_at / 86400000" },
	    } },
	{ "course_progress", "Course starts and completions",
	    "Courses started (first progress) and completed, and their "
	    "sessions started and completed, in each period, by course.",
	    "course",
	    {
		{ "started",
		    "users who started the course (total: users "
		    "who started any)",
		    "SELECT c.id, c.name, e.started_at / 86400000, COUNT(*) "
		    "FROM course_enrolments e JOIN courses c ON c.id = "
		    "e.course_id WHERE e.started_at >= :from AND "
		    "e.started_at < :to "
		    "GROUP BY c.id, c.name, e.started_at / 86400000",
		    "SELECT COUNT(DISTINCT e.user_id) FROM course_enrolments e "
		    "WHERE e.started_at >= :from AND e.started_at < :to",
		    .partner = PROGRESS_STARTED,
		    .partner_total = PROGRESS_STARTED_TOTAL },
		{ "completed",
		    "users who completed the course (total: "
		    "users who completed any)",
		    "SELECT c.id, c.name, e.completed_at / 86400000, COUNT(*) "
		    "FROM course_enrolments e JOIN courses c ON c.id = "
		    "e.course_id WHERE e.completed = 1 AND e.completed_at >= "
		    ":from AND e.completed_at < :to "
		    "GROUP BY c.id, c.name, e.completed_at / 86400000",
		    "SELECT COUNT(DISTINCT e.user_id) FROM course_enrolments e "
		    "WHERE e.completed = 1 AND e.completed_at >= :from AND "
		    "e.completed_at < :to",
		    .partner = PROGRESS_COMPLETED,
		    .partner_total = PROGRESS_COMPLETED_TOTAL },
		{ "sessions_started", "course sessions started",
		    "SELECT c.id, c.name, sp.started_at / 86400000, COUNT(*) "
		    "FROM course_session_progress sp JOIN course_sessions s ON "
		    "s.id = sp.session_id JOIN courses c ON c.id = s.course_id "
		    "WHERE sp.started_at >= :from AND sp.started_at < :to "
		    "GROUP BY c.id, c.name, sp.started_at / 86400000",
		    .partner = PROGRESS_SESSIONS_STARTED },
		{ "sessions_completed", "course sessions completed",
		    "SELECT c.id, c.name, sp.completed_at / 86400000, "
		    "COUNT(*) FROM course_session_progress sp JOIN "
		    "course_sessions s ON s.id = sp.session_id JOIN courses c "
		    "ON c.id = s.course_id WHERE sp.completed = 1 AND "
		    "sp.completed_at >= :from AND sp.completed_at < :to "
		    "GROUP BY c.id, c.name, sp.completed_at / 86400000",
		    .partner = PROGRESS_SESSIONS_COMPLETED },
	    },
	    .flags = REPORT_NOT_FOR_PARTNER_ADMINS },
	{ "therapy_bookings_by_partner", "Therapy bookings and cancellations",
	    "Therapy sessions booked (created_at) and cancelled "
	    "(cancelled_at) in each period, by the partner whose access paid "
	    "for them." PARTNER_ADMINS_DOC,
	    "partner",
	    {
		{ "booked", "sessions booked",
		    "SELECT p.id, p.name, b.created_at / 86400000, COUNT(*) "
		    "FROM therapy_bookings b LEFT JOIN partners p ON p.id = "
		    "b.partner_id WHERE b.created_at >= :from AND "
		    "b.created_at < :to "
		    "GROUP BY p.id, p.name, b.created_at / 86400000",
		    .partner =
			"SELECT p.id, p.name, b.created_at / 86400000, "
			"COUNT(*) FROM therapy_bookings b JOIN partners p "
			"ON p.id = b.partner_id WHERE b.partner_id = "
			":partner AND b.created_at >= :from AND "
			"b.created_at < :to GROUP BY p.id, p.name, "
			"b.created_at / 86400000" },
		{ "cancelled", "sessions cancelled",
		    "SELECT p.id, p.name, b.cancelled_at / 86400000, COUNT(*) "
		    "FROM therapy_bookings b LEFT JOIN partners p ON p.id = "
		    "b.partner_id WHERE b.cancelled_at >= :from AND "
		    "b.cancelled_at < :to "
		    "GROUP BY p.id, p.name, b.cancelled_at / 86400000",
		    .partner =
			"SELECT p.id, p.name, b.cancelled_at / 86400000, "
			"COUNT(*) FROM therapy_bookings b JOIN partners p "
			"ON p.id = b.partner_id WHERE b.partner_id = "
			":partner AND b.cancelled_at >= :from AND "
			"b.cancelled_at < :to GROUP BY p.id, p.name, "
			"b.cancelled_at / 86400000" },
	    } },
};

/* 401 without a caller, 403 without reports:read:all; OK for admins. */
int
reports_caller_admin(struct request *req, struct principal **out)
{
	struct principal *who;

	who = req->caller;
	if (out != NULL)
		*out = who;
	if (resource_scope(req->db, who, "reports", "read") != SCOPE_ALL) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "Reports are for "
		    "admins.");
		return (ERR_FORBIDDEN);
	}
	return (OK);
}

/*
 * Who the caller is to the reports: an admin (reports:read:all), or a
 * partner admin (reports:read:related) with the partner they administer,
 * read from partner_admins (an active row of an active partner), never
 * from the request. Else answered: 403 FORBIDDEN, or 403
 * NOT_A_PARTNER_ADMIN for a partner admin without an active partner.
 */
static int
asker_load(struct request *req, struct asker *a)
{
	struct asker_arg arg = { req->caller->user_id, a };
	int		 rc;

	memset(a, 0, sizeof(*a));
	a->scope = resource_scope(req->db, req->caller, "reports", "read");
	if (a->scope == SCOPE_ALL)
		return (OK);
	if (a->scope != SCOPE_RELATED) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "Reports are for admins and partner admins.");
		return (ERR_FORBIDDEN);
	}
	rc = store_run(req->db, STORE_TX_READ, asker_partner, &arg);
	if (rc == ERR_NOT_FOUND) {
		http_problem(req, ERR_FORBIDDEN, "NOT_A_PARTNER_ADMIN",
		    "You are not an active partner admin of an active "
		    "partner.");
		return (ERR_FORBIDDEN);
	}
	if (rc != OK)
		http_problem(req, rc, NULL, "The report could not be made.");
	return (rc);
}

/* store_run's: the partner arg's user administers (partners.h). */
static int
asker_partner(struct tx *tx, void *arg)
{
	struct asker_arg *p = arg;

	return (partners_admin_of(tx, p->user_id, p->a->partner));
}

int
report_for_partners(const struct report *rep)
{
	size_t i, n = report_measures(rep);

	for (i = 0; i < n; i++)
		if (rep->measures[i].sql != NULL &&
		    rep->measures[i].partner == NULL)
			return (0);
	return (n > 0);
}

int
report_for_partner_admins(const struct report *rep)
{
	return (report_for_partners(rep) &&
	    !(rep->flags & REPORT_NOT_FOR_PARTNER_ADMINS));
}

/*
 * Whose figures report rep gives the asker, into *partner (NULL: every
 * partner's): a partner admin's own partner's always, whatever
 * ?partner_id= says (naming another is 403 NOT_YOUR_PARTNER), and only
 * of a report open to partners (403 REPORT_NOT_FOR_PARTNERS); an admin's
 * ?partner_id= when given (lower-cased into the request's arena), of such
 * a report: a bad one is an entry of errs. Answered when not OK.
 */
static int
partner_pick(struct request *req, const struct report *rep,
    const struct asker *a, const char **partner, json_t *errs)
{
	const char *want = http_query(req, "partner_id");
	char	   *low;
	size_t	    i;

	*partner = NULL;
	if (a->scope == SCOPE_RELATED) {
		if (!report_for_partner_admins(rep)) {
			http_problem(req, ERR_FORBIDDEN,
			    "REPORT_NOT_FOR_PARTNERS",
			    "This report is not open to partners: GET "
			    "/v1/reports lists those that are.");
			return (ERR_FORBIDDEN);
		}
		if (want != NULL && strcasecmp(want, a->partner) != 0) {
			http_problem(req, ERR_FORBIDDEN, "NOT_YOUR_PARTNER",
			    "You read your own partner's figures only.");
			return (ERR_FORBIDDEN);
		}
		*partner = a->partner;
		return (OK);
	}
	if (want == NULL)
		return (OK);
	if (!report_for_partners(rep))
		resource_field_err(errs, "partner_id", "not_by_partner",
		    "this report is not open to partners");
	else if (!uuid_valid(want))
		resource_field_err(errs, "partner_id", "invalid_uuid",
		    "a partner's id (a UUID)");
	else if ((low = arena_strdup(req->arena, want)) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return (ERR_NOMEM);
	} else {
		/* Ids are stored lower-case: an upper-case one names the
		 * same partner. */
		for (i = 0; low[i] != '\0'; i++)
			low[i] = (char)tolower((unsigned char)low[i]);
		*partner = low;
	}
	return (OK);
}

/* store_run's: OK if partner id arg exists, else ERR_NOT_FOUND. */
static int
partner_exists(struct tx *tx, void *arg)
{
	char id[UUID_STR_LEN];
	int  active;

	return (partners_find(tx, arg, id, NULL, &active));
}

const struct report *
report_find(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < NELEM(catalogue); i++)
		if (strcmp(catalogue[i].name, name) == 0)
			return (&catalogue[i]);
	for (i = 0; name != NULL && i < training_reports_n; i++)
		if (strcmp(training_reports[i].name, name) == 0)
			return (&training_reports[i]);
	return (NULL);
}

const char *
report_label(const struct report *rep)
{
	return (rep->label != NULL ? rep->label : rep->group);
}

const char *
report_measure_type(const struct measure *me)
{
	switch (me->type) {
	case MEASURE_MONEY:
		return ("money");
	case MEASURE_RATIO:
		return ("ratio");
	default:
		return ("count");
	}
}

int
report_known(const char *name)
{
	return (report_find(name) != NULL);
}

const char *report_names[REPORT_NAMES_MAX + 1];

void
report_names_fill(void)
{
	size_t i, n = 0;

	for (i = 0; i < NELEM(catalogue) && n < REPORT_NAMES_MAX; i++)
		report_names[n++] = catalogue[i].name;
	for (i = 0; i < training_reports_n && n < REPORT_NAMES_MAX; i++)
		report_names[n++] = training_reports[i].name;
	report_names[n] = NULL;
}

size_t
report_measures(const struct report *rep)
{
	size_t n = 0;

	while (n < MEASURES_MAX && rep->measures[n].name != NULL)
		n++;
	return (n);
}

/* ["period", "period_start"?, "<group>_id", "<label>", "currency"?,
 * measures...] */
json_t *
report_columns(const struct report *rep, const char *gid)
{
	json_t *c;
	size_t	i, n = report_measures(rep);

	if ((c = json_pack("[s]", "period")) == NULL)
		return (NULL);
	if (REPORT_LONDON(rep))
		json_array_append_new(c, json_string("period_start"));
	json_array_append_new(c, json_string(gid));
	json_array_append_new(c, json_string(report_label(rep)));
	if (rep->flags & REPORT_CURRENCY)
		json_array_append_new(c, json_string("currency"));
	for (i = 0; i < n; i++)
		json_array_append_new(c, json_string(rep->measures[i].name));
	return (c);
}

/* The catalogue's entry for rep. */
static json_t *
report_entry(const struct report *rep)
{
	json_t *ms;
	char	gid[40];
	size_t	j, n;

	snprintf(gid, sizeof(gid), "%s_id", rep->group);
	ms = json_array();
	n = report_measures(rep);
	for (j = 0; j < n; j++)
		json_array_append_new(ms,
		    json_pack("{s:s,s:s,s:s}", "name", rep->measures[j].name,
			"type", report_measure_type(&rep->measures[j]),
			"description", rep->measures[j].doc));
	return (json_pack(
	    "{s:s,s:s,s:s,s:s,s:b,s:s,s:o,s:o,s:{s:s,s:s,s:[s,s,s],"
	    "s:[s,s,s,s]}}",
	    "name", rep->name, "title", rep->title, "description", rep->doc,
	    "group", rep->group, "for_partners", report_for_partner_admins(rep),
	    "time_zone", REPORT_LONDON(rep) ? "Europe/London" : "UTC",
	    "measures", ms, "columns", report_columns(rep, gid), "parameters",
	    "from",
	    REPORT_LONDON(rep)
		? "ISO 8601 date or date-time, inclusive (required); a date "
		  "is London's midnight"
		: report_for_partner_admins(rep)
		? "ISO 8601 date or date-time, inclusive (required); a "
		  "partner admin's is a period's start (a midnight; a "
		  "Monday's for week, the 1st's for month; UTC)"
		: "ISO 8601 date or date-time, inclusive (required)",
	    "to",
	    report_for_partner_admins(rep)
		? "ISO 8601 date or date-time, exclusive (required); at most "
		  "5 years after from (a partner admin: "
		  "report_partner_max_days, and a period's start as from is)"
		: "ISO 8601 date or date-time, exclusive (required); at most 5 "
		  "years after from",
	    "period", "day", "week", "month", "format", "json", "csv", "xlsx",
	    "pdf"));
}

/* GET /v1/reports */
void
reports_list(struct request *req)
{
	struct asker a;
	json_t	    *data;
	size_t	     i;

	if (asker_load(req, &a) != OK)
		return;
	if ((data = json_array()) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	/* A partner admin is shown what they may run. */
	for (i = 0; i < NELEM(catalogue); i++)
		if (a.scope == SCOPE_ALL ||
		    report_for_partner_admins(&catalogue[i]))
			json_array_append_new(
			    data, report_entry(&catalogue[i]));
	for (i = 0; i < training_reports_n; i++)
		if (a.scope == SCOPE_ALL ||
		    report_for_partner_admins(&training_reports[i]))
			json_array_append_new(
			    data, report_entry(&training_reports[i]));
	http_json(req, 200, json_pack("{s:o}", "data", data));
}

/*
 * ?from= ?to= ?period= ?format= (args.c), in the report's days, into q;
 * an entry of errs per bad one, and for a partner admin a range past
 * report_partner_max_days (their reports run slow queries too) or not of
 * whole periods (report_range_aligned).
 *
 * Why whole periods. A partner admin's counts from 1 to min - 1 are
 * withheld (make.c's withhold), and every count they are shown is a sum
 * of whole days' counts each of which is shown too: a range begins and
 * ends at a period's start in the report's days (so at a midnight: no
 * range cuts a day, and no answer holds part of one), and a week's or a
 * month's cell, and a total, is withheld when any day in it is. So
 * whatever ranges and periods they ask, each number they get is a sum
 * of the same public day counts (0, or min and over), and no two of
 * them differ by a withheld count: a month total of 7 and the same
 * month less its last day of 6 cannot both be answered (the month less
 * a day is refused as not aligned; asked by day, the day of 1 is null,
 * and so is the month).
 */
static void
args(struct request *req, const struct asker *as, struct report_query *q,
    json_t *errs)
{
	const struct report *rep = report_find(q->name);
	struct report_args   a;
	char		     why[80];
	int		     ok = 1;

	if (report_args_parse_in(http_query(req, "from"), http_query(req, "to"),
		http_query(req, "period"), http_query(req, "format"),
		REPORT_LONDON(rep), &a, errs) != OK)
		return;
	if (as->scope == SCOPE_RELATED &&
	    a.to - a.from > config.report_partner_max_days * 86400000LL) {
		snprintf(why, sizeof(why),
		    "a partner admin's range is at most %lld days",
		    (long long)config.report_partner_max_days);
		resource_field_err(errs, "to", "out_of_range", why);
		ok = 0;
	}
	if (as->scope == SCOPE_RELATED &&
	    report_range_aligned(&a, REPORT_LONDON(rep), errs) != OK)
		ok = 0;
	if (!ok)
		return;
	q->from = a.from;
	q->to = a.to;
	q->period = a.period;
	q->format = a.format;
}

/* GET /v1/reports/{name} */
void
reports_run(struct request *req)
{
	struct report_query q;
	struct report_out   o;
	struct asker	    a;
	json_t		   *errs;
	char		    cd[REPORT_CD_LEN], *v;
	int		    rc;

	memset(&q, 0, sizeof(q));
	if (asker_load(req, &a) != OK)
		return;
	q.name = http_param(req, "name");
	if (!report_known(q.name)) {
		http_problem(req, ERR_NOT_FOUND, "REPORT_NOT_FOUND",
		    "No such "
		    "report: GET /v1/reports lists them.");
		return;
	}
	/* Every bad parameter in one answer. */
	if ((errs = json_array()) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	if (partner_pick(req, report_find(q.name), &a, &q.partner, errs) !=
	    OK) {
		json_decref(errs);
		return;
	}
	/* An admin's partner_id names a partner: unknown_partner is one of
	 * the errors of the one answer, beside a bad range. */
	if (a.scope == SCOPE_ALL && q.partner != NULL) {
		rc = store_run(req->db, STORE_TX_READ, partner_exists,
		    (void *)(uintptr_t)q.partner);
		if (rc == ERR_NOT_FOUND)
			resource_field_err(errs, "partner_id",
			    "unknown_partner", "no partner has this id");
		else if (rc != OK) {
			json_decref(errs);
			http_problem(
			    req, rc, NULL, "The report could not be made.");
			return;
		}
	}
	args(req, &a, &q, errs);
	if (resource_errs_answer(req, errs, "The report query") != OK)
		return;
	/* A partner admin's small counts, and a day not over yet, are
	 * withheld (make.c). */
	if (a.scope == SCOPE_RELATED) {
		q.min_count = config.report_partner_min_count;
		q.partner_admin = 1;
	}
	if ((rc = report_make(
		 req->db, &q, (size_t)config.report_run_max_bytes, &o)) != OK) {
		if (o.too_many_rows)
			http_problem(req, ERR_INVALID, "REPORT_TOO_LARGE",
			    "The "
			    "report has more than %lld rows: narrow the range "
			    "or "
			    "choose a longer period.",
			    (long long)config.report_max_rows);
		else if (o.migrations_pending)
			http_problem(req, ERR_UNAVAILABLE, "MIGRATIONS_PENDING",
			    "This report cannot be made until the migration "
			    "it needs is applied: run `carebase migrate`.");
		else if (rc == ERR_TOO_LARGE)
			http_problem(req, ERR_INVALID, "RESULT_TOO_LARGE",
			    "The "
			    "answer is over %lld bytes (report_run_max_bytes): "
			    "narrow the range or choose a longer period.",
			    (long long)config.report_run_max_bytes);
		else
			http_problem(req, rc, NULL,
			    "The report could not be "
			    "made.");
		return;
	}
	if (q.format != REPORT_FORMAT_JSON) {
		report_disposition(&q, cd, sizeof(cd));
		if ((v = arena_strdup(req->arena, cd)) != NULL)
			http_header_add(req, "Content-Disposition", v);
	}
	http_send_take(req, 200, report_content_type(q.format), o.data, o.len);
}
