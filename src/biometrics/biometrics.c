/*
 * The biometrics module: data types, exercises and recordings (the seed's
 * biometric Sessions) as resources, the helpers the points routes share,
 * and the demo seed. The finish action and points ingest are in ingest.c,
 * the read routes (points, channels, exports, chart) in query.c, the
 * GDPR export's links to a recording's points in export_links.c, storage
 * in blocks.c.
 *
 * A recording belongs to its user (owner user_id): they, their guardians
 * and their practitioners see it (related scope), nobody else (404). Only
 * the owner (update own) or an admin sends its points and finishes it.
 * Points are health data: storing them for a person under the
 * digital-consent age needs their guardian's recorded consent
 * (people_health_consent_answer), and every read of them is audited.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "biometrics/biometrics.h"
#include "biometrics/biometrics_int.h"
#include "biometrics/points.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "people/people.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/store.h"

#define BIO_TEXT_MAX	 10000 /* descriptions */
#define BIO_FEEDBACK_MAX 4000
#define BIO_DECIMAL_MAX	 32 /* characters of scale, offset_value */
/* What bio_decimal takes, JSON's number grammar, as the fields' pattern
 * (scale's hook refuses 0 besides). */
#define BIO_DECIMAL_PATTERN "^-?(0|[1-9][0-9]*)([.][0-9]+)?([eE][+-]?[0-9]+)?$"

static int types_check(struct resource_ctx *, json_t *);
static int types_before_create(struct resource_ctx *, json_t *);
static int types_before_update(struct resource_ctx *, json_t *);
static int recordings_before_create(struct resource_ctx *, json_t *);
static int recordings_before_update(struct resource_ctx *, json_t *);
static int times_check(struct request *, json_t *, json_t *);
static int bio_init(struct store *);

/* Resources */

static const struct field type_fields[] = {
	{ "name", FIELD_TEXT, FIELD_REQUIRED | FIELD_FILTER | FIELD_SORT, 1, 32,
	    NULL, NULL, NULL, 0, "unique name, e.g. HRV, EEG, ECG, PPG, SpO2" },
	{ "unit", FIELD_TEXT, FIELD_REQUIRED, 1, 16, NULL, NULL, NULL, 0,
	    "physical unit of the samples, e.g. uV, mV, ms, %" },
	{ "channels", FIELD_TEXT_LIST, 0, 0, POINTS_CHANNELS_MAX, NULL, "[]",
	    NULL, 0,
	    "channel names ([a-z0-9_], 1 to 32 characters); empty "
	    "accepts any name" },
	{ "rate_mhz", FIELD_INT, FIELD_NULLABLE, 1, POINTS_RATE_MAX, NULL,
	    "null", NULL, 0,
	    "nominal sample rate in millihertz (360 Hz = "
	    "360000); null for irregular data such as RR intervals" },
	{ "scale", FIELD_TEXT, 0, 1, BIO_DECIMAL_MAX, NULL, "\"1\"", NULL, 0,
	    "decimal text: physical = offset_value + scale * count",
	    .pattern = BIO_DECIMAL_PATTERN },
	{ "offset_value", FIELD_TEXT, 0, 1, BIO_DECIMAL_MAX, NULL, "\"0\"",
	    NULL, 0, "decimal text: the physical value of count 0",
	    .pattern = BIO_DECIMAL_PATTERN },
	{ "meta", FIELD_JSON, 0, 0, 0, NULL, "{}", NULL, 0,
	    "additional metadata" },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource data_types_resource = {
	.name = "data_types",
	.path = "/v1/data-types",
	.table = "data_types",
	.fields = type_fields,
	.nfields = NELEM(type_fields),
	.doc =
	    "Kinds of biometric data (HRV, EEG, ECG, PPG, SpO2 are seeded): "
	    "unit, channel names, nominal rate, and the scale and offset that "
	    "turn stored integer counts into physical values. Admins write; "
	    "every signed-in user reads.",
	.before_create = types_before_create,
	.before_update = types_before_update,
};

static const struct field exercise_fields[] = {
	{ "name", FIELD_TEXT, FIELD_REQUIRED | FIELD_FILTER | FIELD_SORT, 1,
	    200, NULL, NULL, NULL, 0, "name of the exercise" },
	{ "tracks", FIELD_TEXT_LIST, 0, 0, 100, NULL, "[]", NULL, 0,
	    "the tracks (programmes) it belongs to" },
	{ "description", FIELD_TEXT, FIELD_NULLABLE, 0, BIO_TEXT_MAX, NULL,
	    NULL, NULL, 0, "what the person does" },
	{ "is_active", FIELD_BOOL, FIELD_FILTER, 0, 0, NULL, "true", NULL, 0,
	    "offered for new recordings" },
	{ "meta", FIELD_JSON, 0, 0, 0, NULL, "{}", NULL, 0,
	    "additional metadata" },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource exercises_resource = {
	.name = "exercises",
	.path = "/v1/exercises",
	.table = "exercises",
	.fields = exercise_fields,
	.nfields = NELEM(exercise_fields),
	.doc = "Exercises a recording is made during (breathing, meditation, "
	       "...), grouped in tracks. Admins write; every signed-in user "
	       "reads.",
};

static const char *const statuses[] = { "recording", "successful", "failed",
	NULL };

static const struct field recording_fields[] = {
	{ "user_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "users", 0,
	    "the person recorded; owns the row (yourself unless staff)" },
	{ "exercise_id", FIELD_UUID, FIELD_NULLABLE | FIELD_FILTER, 0, 0, NULL,
	    NULL, "exercises", 0, "the exercise done during the recording" },
	{ "data_type_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "data_types", 0, "the kind of data recorded" },
	{ "location", FIELD_TEXT, FIELD_PERSONAL | FIELD_NULLABLE, 0, 200, NULL,
	    NULL, NULL, 0, "where it was recorded (sealed)" },
	{ "started_at", FIELD_TIME, FIELD_SORT, 0, 0, NULL, NULL, NULL, 0,
	    "start (UTC); now when not given" },
	{ "ended_at", FIELD_TIME, FIELD_NULLABLE, 0, 0, NULL, NULL, NULL, 0,
	    "end (UTC); set by finish when not given" },
	{ "feedback", FIELD_TEXT,
	    FIELD_PERSONAL | FIELD_HEALTH | FIELD_NULLABLE, 0, BIO_FEEDBACK_MAX,
	    NULL, NULL, NULL, 0,
	    "how the person is feeling (sealed health data)" },
	{ "status", FIELD_ENUM, FIELD_READONLY | FIELD_FILTER | FIELD_SORT, 0,
	    0, statuses, NULL, NULL, 0,
	    "recording, then successful or failed "
	    "through the finish action" },
	{ "points", FIELD_INT, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    "samples stored, all channels" },
	{ "meta", FIELD_JSON, 0, 0, 0, NULL, "{}", NULL, 0,
	    "additional metadata (device, firmware, ...)" },
	{ "created_at", FIELD_TIME, FIELD_READONLY | FIELD_SORT, 0, 0, NULL,
	    NULL, NULL, 0, NULL },
	{ "updated_at", FIELD_TIME, FIELD_READONLY, 0, 0, NULL, NULL, NULL, 0,
	    NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource recordings_resource = {
	.name = "recordings",
	.path = "/v1/recordings",
	.table = "recordings",
	.fields = recording_fields,
	.nfields = NELEM(recording_fields),
	.owner_column = "user_id",
	.related_kinds = "guardian_of,practitioner_of",
	.doc = "Biometric recordings: one capture by a person of one data "
	       "type, during an exercise. Seen by the person, their guardians "
	       "and their practitioners. Points are sent to /points while the "
	       "status is recording and read back raw, in buckets, as CSV, EDF "
	       "or an SVG chart; finish ends it (failed discards its points). "
	       "Location and feedback are sealed; reads are audited.",
	.before_create = recordings_before_create,
	.before_update = recordings_before_update,
	.codes = "{\"403\":[\"CONSENT_REQUIRED\",\"DATE_OF_BIRTH_REQUIRED\"]}",
};

/* What the OpenAPI document says of the points routes (struct route's
 * api); the formats are docs/POINTS_FORMAT.md. */
/* clang-format off */
#define API_BATCH	"{\"type\":\"object\",\"required\":[\"recording_id\"," \
			"\"seq\",\"points\",\"channels\",\"duplicate\"]," \
			"\"properties\":{\"recording_id\":{\"type\":\"string\"," \
			"\"format\":\"uuid\"},\"seq\":{\"type\":\"integer\"}," \
			"\"points\":{\"type\":\"integer\"},\"channels\":{" \
			"\"type\":\"integer\"},\"duplicate\":{\"type\":" \
			"\"boolean\"}}}"
/* clang-format on */
static const char api_points_post[] =
    "{\"codes\":{\"403\":[\"CONSENT_REQUIRED\",\"FORBIDDEN\"],\"422\":[\"POINTS_INVALID\",\"UNKNOWN_CHANNEL\",\"TOO_MANY_CHANNELS\"],\"413\":[\"BATCH_TOO_LARGE\"],\"409\":[\"BATCH_CONFLICT\",\"RECORDING_CLOSED\"],\"400\":[\"POINTS_MALFORMED\"]},"
    /* a text/csv batch's own numbers (ingest.c csv_args) */
    "\"parameters\":[{\"name\":\"seq\",\"in\":\"query\",\"description\":"
    "\"text/csv only, and required there: the batch number\",\"schema\":{"
    "\"type\":\"integer\",\"minimum\":0}},{\"name\":\"rate\",\"in\":"
    "\"query\",\"description\":\"text/csv only: the sample rate in Hz (up "
    "to 3 decimals); absent or 0: a first column of times\",\"schema\":{"
    "\"type\":\"number\",\"minimum\":0}},{\"name\":\"t0\",\"in\":"
    "\"query\",\"description\":\"text/csv with a rate: the time of the "
    "first row (ISO 8601 or ms)\",\"schema\":{\"type\":\"string\"}}],"
    "\"content\":{"
    "\"application/vnd.carebase.points\":{\"type\":\"string\","
    "\"contentMediaType\":\"application/vnd.carebase.points\","
    "\"description\":\"the binary batch format (CBP1, CRC-32C)\"},"
    "\"application/json\":{\"type\":\"object\",\"required\":[\"seq\","
    "\"channels\"],\"properties\":{\"seq\":{\"type\":\"integer\","
    "\"minimum\":0},\"channels\":{\"type\":\"array\",\"minItems\":1,"
    "\"maxItems\":64,\"items\":{\"type\":\"object\",\"required\":["
    "\"name\",\"samples\"],\"properties\":{\"name\":{\"type\":"
    "\"string\"},\"t0\":{\"type\":[\"string\",\"integer\"]},\"rate\":{"
    "\"type\":\"number\",\"exclusiveMinimum\":0,\"maximum\":100000},"
    "\"timestamps\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"integer\"}},\"samples\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"integer\"}}},\"additionalProperties\":false}}},"
    "\"additionalProperties\":false},\"text/csv\":{\"type\":\"string\","
    "\"description\":\"one row a sample, with ?seq=&rate=&t0=\"}},"
    "\"answers\":{\"201\":{\"description\":\"stored\",\"schema\":" API_BATCH
    "},\"200\":{\"description\":\"this seq was stored already "
    "with the same points: nothing stored\",\"schema\":" API_BATCH "}},"
    "\"problems\":{\"400\":"
    "\"POINTS_MALFORMED: not the format\",\"404\":\"no such recording, or "
    "not yours\",\"409\":\"BATCH_CONFLICT (this seq with other points) or "
    "RECORDING_CLOSED\",\"413\":\"the batch is over large_body_limit\","
    "\"415\":\"not one of the three types\",\"422\":\"POINTS_INVALID, "
    "UNKNOWN_CHANNEL or TOO_MANY_CHANNELS\"}}";
/* clang-format off */
#define API_WINDOW	"{\"name\":\"channel\",\"in\":\"query\",\"schema\":{" \
			"\"type\":\"string\"}},{\"name\":\"from\",\"in\":" \
			"\"query\",\"description\":\"ms since the epoch or " \
			"RFC 3339\",\"schema\":{\"type\":\"string\"}},{\"name\":" \
			"\"to\",\"in\":\"query\",\"description\":\"ms since " \
			"the epoch or RFC 3339 (exclusive)\",\"schema\":{" \
			"\"type\":\"string\"}}"
/* clang-format on */
/* clang-format off */
#define API_POINTS_HEAD							\
	"\"recording_id\":{\"type\":\"string\",\"format\":\"uuid\"},"	\
	"\"channel\":{\"type\":\"string\"},\"data_type\":{\"type\":["	\
	"\"string\",\"null\"]},\"unit\":{\"type\":[\"string\",\"null\"]},"	\
	"\"scale\":{\"type\":\"number\"},\"offset\":{\"type\":"		\
	"\"number\"},\"from\":{\"type\":\"integer\"},\"to\":{\"type\":"	\
	"\"integer\"},\"t\":{\"type\":\"array\",\"items\":{\"type\":"	\
	"\"number\"}}"
#define API_NUMBERS	"{\"type\":\"array\",\"items\":{\"type\":[\"number\"," \
			"\"null\"]}}"
/* clang-format on */
static const char api_points_get[] =
    "{\"codes\":{\"400\":[\"UNKNOWN_PARAMETER\",\"INVALID_PARAMETER\"],\"422\":[\"CHANNEL_REQUIRED\",\"TOO_MANY_POINTS\"],\"404\":[\"CHANNEL_NOT_FOUND\"]},\"parameters\":[" API_WINDOW
    ",{\"name\":\"buckets\",\"in\":"
    "\"query\",\"schema\":{\"type\":\"integer\",\"minimum\":1}}],"
    "\"answers\":{\"200\":{"
    "\"description\":\"the points: raw {t, v}, or with buckets=N one "
    "entry per bucket\",\"schema\":{\"type\":\"object\",\"required\":["
    "\"recording_id\",\"channel\",\"from\",\"to\",\"t\"],"
    "\"anyOf\":[{\"required\":[\"count\",\"v\"]},{\"required\":["
    "\"buckets\",\"bucket_ms\",\"count\",\"min\",\"max\",\"mean\"]}],"
    "\"properties\":{" API_POINTS_HEAD ",\"count\":{\"type\":["
    "\"integer\",\"array\"],\"items\":{\"type\":\"integer\"}},"
    "\"rate\":{\"type\":[\"number\",\"null\"]},\"t0\":{\"type\":["
    "\"number\",\"string\",\"null\"]},\"v\":" API_NUMBERS ","
    "\"buckets\":{\"type\":\"integer\"},\"bucket_ms\":{\"type\":"
    "\"number\"},\"min\":" API_NUMBERS ",\"max\":" API_NUMBERS ","
    "\"mean\":" API_NUMBERS "}}}},"
    "\"problems\":{\"400\":\"a bad parameter\",\"404\":\"no such "
    "recording or channel, or not yours\",\"422\":\"TOO_MANY_POINTS: "
    "the window holds too many; ask for buckets\"}}";

static const char api_export_points[] =
    "{\"codes\":{\"403\":[\"FORBIDDEN\"]},\"parameters\":[{\"name\":"
    "\"cursor\",\"in\":\"query\",\"description\":\"the page after: "
    "as the Link rel=next of the page before names it\",\"schema\":{"
    "\"type\":\"string\"}}],\"answers\":{\"200\":{"
    "\"description\":\"a page of the recording's points: channel, t_ms, "
    "count, value; Link rel=next names the next page while there is "
    "one\",\"type\":\"text/csv\",\"schema\":{\"type\":\"string\"}}},"
    "\"problems\":{\"404\":\"no such recording in an export made "
    "through this session\",\"422\":\"a cursor that is not one\"}}";

static const char api_channels[] =
    "{\"codes\":{\"400\":[\"UNKNOWN_PARAMETER\",\"INVALID_PARAMETER\"]},\"answers\":{\"200\":{\"description\":\"the channels stored\","
    "\"schema\":{\"type\":\"object\",\"required\":[\"recording_id\","
    "\"data_type\",\"unit\",\"scale\",\"offset\",\"channels\"],"
    "\"properties\":{\"recording_id\":{\"type\":\"string\",\"format\":"
    "\"uuid\"},\"data_type\":{\"type\":[\"string\",\"null\"]},\"unit\":{"
    "\"type\":[\"string\",\"null\"]},\"scale\":{\"type\":\"number\"},"
    "\"offset\":{\"type\":\"number\"},\"channels\":{\"type\":\"array\","
    "\"items\":{\"type\":\"object\",\"required\":[\"name\",\"count\","
    "\"blocks\",\"from\",\"to\",\"rate\",\"regular\",\"min\",\"max\"],"
    "\"properties\":{\"name\":{\"type\":\"string\"},\"count\":{\"type\":"
    "\"integer\"},\"blocks\":{\"type\":\"integer\"},\"from\":{\"type\":"
    "\"integer\"},\"to\":{\"type\":\"integer\"},\"rate\":{\"type\":["
    "\"number\",\"null\"]},\"regular\":{\"type\":\"boolean\"},\"min\":{"
    "\"type\":\"integer\"},\"max\":{\"type\":\"integer\"}}}}}}}},"
    "\"problems\":{\"404\":\"no such recording, or not yours\"}}";
static const char api_finish[] =
    "{\"codes\":{\"409\":[\"RECORDING_CLOSED\"],\"403\":[\"FORBIDDEN\"]},\"body\":{\"type\":\"object\",\"required\":[\"status\"],"
    "\"properties\":{\"status\":{\"enum\":[\"successful\",\"failed\"]}},"
    "\"additionalProperties\":false},\"answers\":{\"200\":{"
    "\"description\":\"the recording, finished\",\"schema\":{\"$ref\":"
    "\"#/components/schemas/recordings\"}}},\"problems\":{\"404\":\"no "
    "such recording, or not yours\",\"409\":\"not recording any more\","
    "\"422\":\"the body is not {status}\"}}";
static const char api_export_csv[] =
    "{\"codes\":{\"404\":[\"CHANNEL_NOT_FOUND\"],\"400\":[\"UNKNOWN_PARAMETER\",\"INVALID_PARAMETER\"],\"422\":[\"CHANNEL_REQUIRED\",\"TOO_MANY_POINTS\"]},\"parameters\":[" API_WINDOW
    "],\"answers\":{\"200\":{"
    "\"description\":\"channel, t_ms, count, value: one row a point\","
    "\"type\":\"text/csv\",\"schema\":{\"type\":\"string\"}}},"
    "\"problems\":{\"404\":\"no such recording or channel, or not yours\","
    "\"422\":\"a bad parameter, or TOO_MANY_POINTS\"}}";
static const char api_export_edf[] =
    "{\"codes\":{\"404\":[\"CHANNEL_NOT_FOUND\"],\"400\":[\"UNKNOWN_PARAMETER\",\"INVALID_PARAMETER\"],\"422\":[\"EDF_OVERLAPPING_SAMPLES\",\"NO_REGULAR_CHANNELS\",\"EDF_UNSUPPORTED\",\"MIXED_RATES\",\"CHANNEL_REQUIRED\",\"TOO_MANY_POINTS\"]},\"parameters\":[" API_WINDOW
    "],\"answers\":{\"200\":{"
    "\"description\":\"the regular channels as an EDF+ file\","
    "\"type\":\"application/octet-stream\",\"schema\":{\"type\":"
    "\"string\",\"contentMediaType\":\"application/octet-stream\","
    "\"contentEncoding\":\"binary\"}}},\"problems\":{\"404\":\"no such "
    "recording or channel, or not yours\",\"422\":\"a bad parameter, "
    "TOO_MANY_POINTS or EDF_UNSUPPORTED\"}}";
static const char api_chart_svg[] =
    "{\"codes\":{\"404\":[\"CHANNEL_NOT_FOUND\"],\"400\":[\"UNKNOWN_PARAMETER\",\"INVALID_PARAMETER\"],\"422\":[\"CHANNEL_REQUIRED\",\"TOO_MANY_POINTS\"]},\"parameters\":[" API_WINDOW
    ",{\"name\":\"buckets\",\"in\":"
    "\"query\",\"schema\":{\"type\":\"integer\",\"minimum\":1}}],"
    "\"answers\":{\"200\":{\"description\":\"one channel as a line "
    "chart\",\"type\":\"image/svg+xml\",\"schema\":{\"type\":"
    "\"string\"}}},\"problems\":{\"404\":\"no such recording or channel, "
    "or not yours\",\"422\":\"a bad parameter, or TOO_MANY_POINTS\"}}";

static const struct route biometrics_routes[] = {
	{ HTTP_POST, "/v1/recordings/{id}/points", bio_points_post,
	    ROUTE_RAW_BODY | ROUTE_LARGE_BODY | ROUTE_SLOW,
	    "append a batch of points "
	    "(binary, JSON or CSV); idempotent per batch seq",
	    NULL, api_points_post, bio_points_admit },
	{ HTTP_GET, "/v1/recordings/{id}/points", bio_points_get, 0,
	    "one channel's points in [from, to): raw, or min/max/mean in "
	    "buckets=N",
	    NULL, api_points_get },
	{ HTTP_GET, "/v1/recordings/{id}/channels", bio_channels_get, 0,
	    "the channels stored: samples, time range, rate, min and max", NULL,
	    api_channels },
	{ HTTP_POST, "/v1/recordings/{id}/finish", bio_finish, ROUTE_JSON_BODY,
	    "recording -> successful | failed (failed discards the points)",
	    NULL, api_finish },
	{ HTTP_GET, "/v1/recordings/{id}/export.csv", bio_export_csv,
	    ROUTE_SLOW, "points as CSV: channel, t_ms, count, value", NULL,
	    api_export_csv },
	{ HTTP_GET, "/v1/recordings/{id}/export.edf", bio_export_edf,
	    ROUTE_SLOW, "regular channels as EDF (European Data Format)", NULL,
	    api_export_edf },
	{ HTTP_GET, "/v1/recordings/{id}/chart.svg", bio_chart_svg, ROUTE_SLOW,
	    "one channel drawn as an SVG line chart", NULL, api_chart_svg },
	{ HTTP_GET, "/v1/exports/{export_id}/recordings/{id}/points.csv",
	    bio_export_points, ROUTE_SLOW,
	    "all the points of a recording, linked from a GDPR export, for "
	    "the session that made it: CSV pages, Link rel=next",
	    NULL, api_export_points },
};

static const struct resource *const biometrics_resources[] = {
	&data_types_resource,
	&exercises_resource,
	&recordings_resource,
};

const struct module biometrics_module = {
	"biometrics",
	biometrics_routes,
	NELEM(biometrics_routes),
	NULL,
	0,
	NULL,
	0,
	biometrics_resources,
	NELEM(biometrics_resources),
	bio_init,
	bio_seed,
};

/* A person's export links their recordings' points (export_links.c). */
static int
bio_init(struct store *db)
{
	int rc;

	(void)db;
	if ((rc = hooks_gdpr_register(&bio_gdpr_hook)) != OK &&
	    rc != ERR_CONFLICT)
		return (rc);
	return (OK);
}

/* Data types */

int
bio_decimal(const char *s, double *out)
{
	const char *p = s;
	char	   *end;
	double	    d;

	/* JSON number grammar, so the text is a valid JSON number as is. */
	if (s == NULL || strlen(s) > BIO_DECIMAL_MAX)
		return (ERR_INVALID);
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return (ERR_INVALID);
	if (*p == '.') {
		if (!(*++p >= '0' && *p <= '9'))
			return (ERR_INVALID);
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return (ERR_INVALID);
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p != '\0')
		return (ERR_INVALID);
	d = strtod(s, &end);
	if (*end != '\0' || !isfinite(d))
		return (ERR_INVALID);
	if (out != NULL)
		*out = d;
	return (OK);
}

int
bio_channel_name_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > POINTS_NAME_MAX)
		return (0);
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ||
			(s[i] >= '0' && s[i] <= '9')))
			return (0);
	return (1);
}

static int
types_check(struct resource_ctx *ctx, json_t *body)
{
	json_t	   *errs = json_array(), *v, *item, *item2;
	const char *s;
	double	    d;
	size_t	    i, j, n;

	if ((v = json_object_get(body, "scale")) != NULL) {
		s = json_string_value(v);
		if (bio_decimal(s, &d) != OK || d == 0)
			bio_err(errs, "scale", "invalid_format",
			    "a decimal "
			    "number other than 0, e.g. \"0.005\"");
	}
	if ((v = json_object_get(body, "offset_value")) != NULL &&
	    bio_decimal(json_string_value(v), NULL) != OK)
		bio_err(errs, "offset_value", "invalid_format",
		    "a decimal "
		    "number, e.g. \"-5.12\"");
	if ((v = json_object_get(body, "channels")) != NULL) {
		n = json_array_size(v);
		json_array_foreach(v, i, item) {
			if (!bio_channel_name_ok(json_string_value(item))) {
				bio_err(errs, "channels", "invalid_format",
				    "channel names are 1 to 32 of a-z, 0-9 "
				    "and _");
				break;
			}
			for (j = i + 1; j < n; j++) {
				item2 = json_array_get(v, j);
				if (json_equal(item, item2))
					break;
			}
			if (j < n) {
				bio_err(errs, "channels", "duplicate",
				    "channel names must differ");
				break;
			}
		}
	}
	return (bio_errs_answer(ctx->req, errs, "The data type"));
}

static int
types_before_create(struct resource_ctx *ctx, json_t *body)
{
	return (types_check(ctx, body));
}

static int
types_before_update(struct resource_ctx *ctx, json_t *body)
{
	return (types_check(ctx, body));
}

/* Recordings */

int
bio_consent(struct request *req, struct tx *tx, const char *user_id)
{
	return (people_health_consent_answer(req, tx, user_id));
}

/* started_at and ended_at (either may be NULL: not given). */
static int
times_check(struct request *req, json_t *start, json_t *end)
{
	int64_t s, e;

	if (start == NULL || end == NULL || json_is_null(end) ||
	    time_parse_iso(json_string_value(start), &s) != 0 ||
	    time_parse_iso(json_string_value(end), &e) != 0 || e >= s)
		return (OK);
	http_problem_ext(req, ERR_INVALID, NULL,
	    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field", "ended_at",
		"code", "before_start", "detail",
		"must not be before started_at"),
	    "The recording ends before it starts.");
	return (ERR_INVALID);
}

static int
recordings_before_create(struct resource_ctx *ctx, json_t *body)
{
	struct stmt *st;
	const char  *ex;
	char	     iso[ISO_TIME_LEN];
	int	     rc;

	if (json_object_get(body, "started_at") == NULL ||
	    json_is_null(json_object_get(body, "started_at")))
		json_object_set_new(body, "started_at",
		    json_string(time_format_iso(time_now_ms(), iso)));
	if ((rc = times_check(ctx->req, json_object_get(body, "started_at"),
		 json_object_get(body, "ended_at"))) != OK)
		return (rc);
	if ((ex = json_string_value(json_object_get(body, "exercise_id"))) !=
	    NULL) {
		st = store_prepare(ctx->tx,
		    "SELECT is_active FROM exercises "
		    "WHERE id = ?");
		store_bind_text(st, 1, ex);
		rc = store_step(st);
		if (rc == STORE_ROW)
			rc = store_col_int64(st, 0) != 0 ? OK : ERR_INVALID;
		store_finalize(st);
		if (rc == ERR_INVALID || rc == STORE_DONE) {
			http_problem_ext(ctx->req, ERR_INVALID, NULL,
			    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field",
				"exercise_id", "code", "inactive", "detail",
				"the exercise is not offered any more"),
			    "The recording is not valid.");
			return (ERR_INVALID);
		}
		if (rc != OK)
			return (rc);
	}
	/* A recording exists to hold health data. */
	return (bio_consent(ctx->req, ctx->tx,
	    json_string_value(json_object_get(body, "user_id"))));
}

static int
recordings_before_update(struct resource_ctx *ctx, json_t *body)
{
	return (times_check(ctx->req,
	    json_object_get(body, "started_at") != NULL
		? json_object_get(body, "started_at")
		: json_object_get(ctx->old, "started_at"),
	    json_object_get(body, "ended_at")));
}

/* Helpers shared with ingest.c and query.c */

int
bio_recording_id(struct request *req, const char **id)
{
	*id = http_param(req, "id");
	if (*id == NULL || !uuid_valid(*id)) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such recording.");
		return (ERR_NOT_FOUND);
	}
	return (OK);
}

/* A time argument: ISO 8601, or integer ms since the epoch. */
int
bio_time_arg(const char *s, int64_t *ms)
{
	if (s == NULL)
		return (ERR_NOT_FOUND);
	if (parse_int64(s, -(1LL << 50), 1LL << 50, ms) == 0 ||
	    time_parse_iso(s, ms) == 0)
		return (OK);
	return (ERR_INVALID);
}

int
bio_rec_load(struct tx *tx, const char *id, struct bio_rec *r)
{
	struct stmt *st;
	const char  *s;
	int	     rc;

	memset(r, 0, sizeof(*r));
	st = store_prepare(tx,
	    "SELECT r.user_id, r.status, d.name, d.unit, "
	    "d.scale, d.offset_value, d.channels, d.rate_mhz FROM recordings r "
	    "JOIN data_types d ON d.id = r.data_type_id WHERE r.id = ?");
	store_bind_text(st, 1, id);
	switch ((rc = store_step(st))) {
	case STORE_ROW:
		strlcpy_cb(r->id, id, sizeof(r->id));
		strlcpy_cb(
		    r->user_id, store_col_text(st, 0), sizeof(r->user_id));
		strlcpy_cb(r->status, store_col_text(st, 1), sizeof(r->status));
		strlcpy_cb(
		    r->data_type, store_col_text(st, 2), sizeof(r->data_type));
		strlcpy_cb(r->unit, store_col_text(st, 3), sizeof(r->unit));
		strlcpy_cb(r->scale_text, store_col_text(st, 4),
		    sizeof(r->scale_text));
		strlcpy_cb(r->offset_text, store_col_text(st, 5),
		    sizeof(r->offset_text));
		/* Validated on the way in; a bad value is the identity. */
		if (bio_decimal(r->scale_text, &r->scale) != OK) {
			strlcpy_cb(r->scale_text, "1", sizeof(r->scale_text));
			r->scale = 1;
		}
		if (bio_decimal(r->offset_text, &r->offset) != OK) {
			strlcpy_cb(r->offset_text, "0", sizeof(r->offset_text));
			r->offset = 0;
		}
		s = store_col_text(st, 6);
		r->channels = json_loads(s != NULL ? s : "[]", 0, NULL);
		r->rate_mhz = store_col_is_null(st, 7)
		    ? 0
		    : (uint32_t)store_col_int64(st, 7);
		rc = OK;
		break;
	case STORE_DONE:
		rc = ERR_NOT_FOUND;
		break;
	}
	store_finalize(st);
	return (rc);
}

void
bio_rec_free(struct bio_rec *r)
{
	json_decref(r->channels);
	r->channels = NULL;
}

/* The resource layer's own test: the owner, or a lead of theirs in an
 * active relationship of the recordings' related kinds. */
int
bio_rec_covers(struct tx *tx, const struct bio_rec *r,
    const struct principal *who, enum scope scope)
{
	int rc;

	rc = resource_covers(tx, &recordings_resource, who, scope, r->user_id);
	return (rc == ERR_FORBIDDEN ? ERR_NOT_FOUND : rc);
}

int
bio_lock(struct tx *tx, const char *recording_id)
{
	struct stmt *st;
	int	     rc;

	if (store_tx_dialect(tx) != STORE_POSTGRES)
		return (OK); /* BEGIN IMMEDIATE: one writer at a time */
	st = store_prepare(tx, "SELECT pg_advisory_xact_lock(hashtext(?))");
	store_bind_text(st, 1, recording_id);
	rc = store_step(st);
	store_finalize(st);
	return (rc == STORE_ROW || rc == STORE_DONE ? OK : rc);
}

/* Seed */

#define SEED_RECORDING "00000000-0000-7000-8000-0000000000f1"
#define SEED_BEATS     300

struct bio_seed_arg {
	const char *member; /* "": none */
	int	    made[2];
};

/* Demo exercises, and a finished HRV recording of the demo member. */
static int
seed_tx(struct tx *tx, void *arg)
{
	static const struct {
		const char *id, *name, *tracks, *description;
	} ex[] = {
		{ "00000000-0000-7000-8000-0000000000e1", "Box breathing",
		    "[\"breathing\",\"calm\"]",
		    "Breathe in for 4 s, hold 4 s, "
		    "out 4 s, hold 4 s; ten rounds, seated." },
		{ "00000000-0000-7000-8000-0000000000e2", "Body scan",
		    "[\"mindfulness\"]",
		    "Ten minutes lying down, attention "
		    "moving slowly from feet to head." },
	};
	struct points_channel ch;
	struct bio_seed_arg  *a = arg;
	int		     *made = a->made;
	struct stmt	     *st;
	int32_t		      rr[SEED_BEATS];
	int64_t		      ts[SEED_BEATS], now = time_now_ms(), t;
	uint8_t		      digest[BLOCKS_DIGEST_LEN];
	size_t		      i;
	int		      rc;

	made[0] = made[1] = 0;
	for (i = 0; i < NELEM(ex); i++) {
		st = store_prepare(tx,
		    "INSERT INTO exercises (id, name, "
		    "tracks, description, is_active, meta, created_at, "
		    "updated_at) VALUES (?, ?, ?, ?, 1, '{\"seed\":true}', ?, "
		    "?) ON CONFLICT (id) DO NOTHING");
		store_bind_text(st, 1, ex[i].id);
		store_bind_text(st, 2, ex[i].name);
		store_bind_text(st, 3, ex[i].tracks);
		store_bind_text(st, 4, ex[i].description);
		store_bind_int64(st, 5, now);
		store_bind_int64(st, 6, now);
		rc = store_step(st);
		made[0] += rc == STORE_DONE && store_changes(st) == 1;
		store_finalize(st);
		if (rc != STORE_DONE)
			return (rc);
	}
	if (a->member[0] == '\0')
		return (OK); /* no demo member */
	/* Ten minutes of box breathing: RR intervals swaying with breath. */
	t = now - 11 * 60 * 1000;
	for (i = 0; i < SEED_BEATS; i++) {
		rr[i] = 850 + (int32_t)(60 * sin((double)i * 0.42)) +
		    (int32_t)(i * 7919 % 23) - 11;
		t += rr[i];
		ts[i] = t;
	}
	st = store_prepare(tx,
	    "INSERT INTO recordings (id, user_id, "
	    "exercise_id, data_type_id, started_at, ended_at, status, points, "
	    "meta, created_at, updated_at) VALUES (?, ?, "
	    "'00000000-0000-7000-8000-0000000000e1', "
	    "'00000000-0000-7000-8000-0000000000d1', ?, ?, 'successful', ?, "
	    "'{\"seed\":true}', ?, ?) ON CONFLICT (id) DO NOTHING");
	store_bind_text(st, 1, SEED_RECORDING);
	store_bind_text(st, 2, a->member);
	store_bind_int64(st, 3, ts[0] - rr[0]);
	store_bind_int64(st, 4, ts[SEED_BEATS - 1]);
	store_bind_int64(st, 5, SEED_BEATS);
	store_bind_int64(st, 6, now);
	store_bind_int64(st, 7, now);
	rc = store_step(st);
	made[1] = rc == STORE_DONE && store_changes(st) == 1;
	store_finalize(st);
	if (rc != STORE_DONE || !made[1])
		return (rc == STORE_DONE ? OK : rc);
	memset(&ch, 0, sizeof(ch));
	strlcpy_cb(ch.name, "rr", sizeof(ch.name));
	ch.count = SEED_BEATS;
	ch.samples = rr;
	ch.ts_ms = ts;
	memset(digest, 0, sizeof(digest));
	if ((rc = blocks_append(tx, SEED_RECORDING, &ch)) != OK)
		return (rc);
	return (
	    blocks_batch_add(tx, SEED_RECORDING, 0, digest, SEED_BEATS, now));
}

int
bio_seed(struct store *db, struct seed_accounts *accounts)
{
	struct bio_seed_arg a;
	int		    rc;

	memset(&a, 0, sizeof(a));
	a.member = accounts->member;
	if ((rc = store_run(db, STORE_TX_WRITE, seed_tx, &a)) != OK)
		return (rc);
	printf("biometrics: %d demo exercise%s added%s (data types HRV, EEG, "
	       "ECG, PPG, SpO2 come with the migration)\n",
	    a.made[0], a.made[0] == 1 ? "" : "s",
	    a.made[1] ? "; the member has a finished "
			"HRV recording of 300 beats"
		      : "");
	return (OK);
}
