/*
 * Private to src/reports. reports.c holds the module (routes, jobs),
 * the catalogue and GET /v1/reports[/{name}]; make.c makes a report's
 * answer; args.c parses its parameters (pure, for the fuzz target);
 * report_runs.c the routes of the report runs, run_jobs.c their jobs.
 */
#ifndef REPORTS_REPORTS_INT_H
#define REPORTS_REPORTS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct job;
struct principal;
struct request;
struct store;
struct tx;
struct resource;

/*
 * Reports: aggregates over a date range [from, to) of at most
 * REPORT_RANGE_MAX_MS, grouped by day, week (starting Monday) or month
 * in UTC; at most config report_max_rows rows.
 */
#define REPORT_RANGE_MAX_MS (5LL * 366 * 24 * 3600 * 1000)
#define REPORT_NAME_MAX	    64 /* bytes of a report's name */
#define REPORT_RUN_KIND	    "report_runs.make"

/* reports.c: the catalogue (training_reports.c: the training module's) */
#define MEASURES_MAX 8

/* What a measure counts, and how a table shows it. */
enum measure_type {
	MEASURE_COUNT = 0, /* an integer */
	MEASURE_MONEY,	   /* minor units of the row's currency */
	MEASURE_RATIO	   /* derived: a ratio, null when its divisor is 0 */
};

struct measure {
	const char *name; /* column of the answer */
	const char *doc;
	/*
	 * SELECT group id, group name, bucket, value[, currency] ... :from
	 * ... :to (the bucket as the report's enum report_bucket says; the
	 * currency when the report is REPORT_CURRENCY). NULL for a measure
	 * derived from others (of).
	 */
	const char *sql;
	/*
	 * SELECT count ... :from ... :to: the total over the range, when a
	 * subject can be in more than one row (a member with accesses from
	 * two partners); NULL: the rows part the subjects, so their sum.
	 */
	const char *total;
	int	    type; /* enum measure_type */
	/*
	 * Derived from the measures before it, row by row and for the
	 * totals: "a-b-c" (a difference, money) or "a/b" (a ratio).
	 */
	const char *of;
	/*
	 * The same measure over one partner's people only, :partner bound to
	 * its id (a partner admin's, or the partner an admin asks for); a
	 * report whose every measure with sql has one is open to partners
	 * (report_for_partners). partner_total is total's twin (NULL: the
	 * rows' sum).
	 */
	const char *partner;
	const char *partner_total;
};

/*
 * What a measure's third column is. UTC_DAY: days since 1970-01-01 in
 * UTC (ms / 86400000). LONDON_HOUR: hours since the epoch (ms /
 * 3600000), folded here into London's days (its offset changes on the
 * hour, so an hour is in one London day). DATE: a calendar date as
 * text, "YYYY-MM-DD" (a certificate's expiry date).
 */
enum report_bucket {
	REPORT_BUCKET_UTC_DAY = 0,
	REPORT_BUCKET_LONDON_HOUR,
	REPORT_BUCKET_DATE
};

/* Report flags */
#define REPORT_CURRENCY 0x01 /* rows by currency too (money measures) */
/* Not told to partner admins though its measures have their partner SQL:
 * an admin may ask for one partner's figures (which courses a partner's
 * people take is health-adjacent: an employer is not told it, even
 * counted, as withheld small counts can be given back by asking for
 * other periods or ranges). */
#define REPORT_NOT_FOR_PARTNER_ADMINS 0x02

struct report {
	const char    *name;
	const char    *title;
	const char    *doc;
	const char    *group; /* "partner", "course", "schedule", "trainer" */
	struct measure measures[MEASURES_MAX];
	/* The group's name column (NULL: group): "course" for a schedule. */
	const char *label;
	int	    bucket; /* enum report_bucket */
	int	    flags;  /* REPORT_* */
};

/*
 * Days of a report whose bucket is not UTC_DAY are London's (the
 * business's): its periods are London days, weeks and months, and a
 * date without a time in its from or to is London's midnight.
 */
#define REPORT_LONDON(rep) ((rep)->bucket != REPORT_BUCKET_UTC_DAY)

/* The training module's reports (training_reports.c), and how many. */
extern const struct report training_reports[];
extern const size_t	   training_reports_n;

void reports_list(struct request *);
void reports_run(struct request *);
/* 401 without a caller, 403 without reports:read:all (answered); OK
 * with the caller in *who (may be NULL). */
int reports_caller_admin(struct request *, struct principal **who);
/* 1 if rep is open to partners: every measure it reads has its partner
 * SQL (an admin's ?partner_id=). */
int report_for_partners(const struct report *);
/* 1 if a partner admin may run rep (their own partner's figures): open
 * to partners and not REPORT_NOT_FOR_PARTNER_ADMINS. */
int report_for_partner_admins(const struct report *);
/* The report of the catalogue named name, or NULL (borrowed). */
const struct report *report_find(const char *name);
/* 1 if name is a report of the catalogue. */
int report_known(const char *name);
/*
 * The names of the catalogue's reports, NULL-terminated: the values a
 * schedule's report takes, which the OpenAPI document states as its enum.
 * Filled by report_names_fill (the module's init) from the catalogue
 * report_find reads, so the two cannot differ.
 */
#define REPORT_NAMES_MAX 128
extern const char *report_names[REPORT_NAMES_MAX + 1];
void		   report_names_fill(void);
/* Measures of rep. */
size_t report_measures(const struct report *);
/*
 * Its columns: ["period", "period_start"? (London's reports: the
 * period's first day, a date in tables), gid, "<label>", "currency"?,
 * measures...].
 */
json_t *report_columns(const struct report *, const char *gid);
/* Its label column's name: label, or group. */
const char *report_label(const struct report *);
/* "count", "money" or "ratio". */
const char *report_measure_type(const struct measure *);

/* make.c */
/* One report to make: a GET's query, or a queued run's row. */
struct report_query {
	const char *name;     /* borrowed */
	int64_t	    from, to; /* ms, as report_args_parse checks */
	int	    period;   /* enum report_period */
	int	    format;   /* enum report_format */
	/* One partner's figures (the measures' partner SQL), or NULL: every
	 * partner's. Borrowed. */
	const char *partner;
	/* 0 or 1: every count shown; else counts under it (above 0) are
	 * withheld, with the totals they could be recomputed from (a
	 * partner admin's: report_partner_min_count). */
	int64_t min_count;
	/* 1: asked by a partner admin, to whom a day not over yet is
	 * withheld whatever min_count (make.c's open_rows); 0: every day
	 * as it is now. */
	int partner_admin;
};
struct report_out {
	char  *data; /* malloc'd; the caller frees it */
	size_t len;
	size_t rows;
	int    too_many_rows; /* ERR_TOO_LARGE: past report_max_rows */
	/* ERR_UNAVAILABLE: a migration its SQL needs is pending. */
	int migrations_pending;
};
/*
 * Make report q: the bytes of the answer GET /v1/reports/{name} gives
 * (compact JSON, or the table of core/table.h as CSV, XLSX or PDF with
 * the totals as its last row, one a currency when by currency), at most
 * max of them, its rows and totals read in one snapshot. ERR_NOT_FOUND: no such report; ERR_TOO_LARGE:
 * past report_max_rows rows (out->too_many_rows) or past max bytes;
 * ERR_UNAVAILABLE with out->migrations_pending: a column its SQL names
 * is not there yet (migration 0056 pending); ERR_BUSY, ERR_DB,
 * ERR_UNAVAILABLE: the database (or the PDF's font);
 * ERR_INTERNAL: an XLSX or PDF library failed.
 */
int report_make(struct store *, const struct report_query *q, size_t max,
    struct report_out *out);
/* 'attachment; filename="<report>_<from>_<to>_<period>.<format>"'. */
#define REPORT_CD_LEN 256
void report_disposition(const struct report_query *, char *out, size_t len);

/* args.c: report parameters ?from= ?to= (required) ?period= ?format=. */
enum report_period {
	REPORT_PERIOD_DAY = 0,
	REPORT_PERIOD_WEEK,
	REPORT_PERIOD_MONTH
};
extern const char *const report_periods[]; /* by enum report_period */
/* An answer's format, a GET's or a queued run's. */
enum report_format {
	REPORT_FORMAT_JSON = 0,
	REPORT_FORMAT_CSV,
	REPORT_FORMAT_XLSX,
	REPORT_FORMAT_PDF
};
extern const char *const report_formats[]; /* by enum report_format */
/* The media type of an answer in format f. */
const char *report_content_type(int f);
/* The enum report_period named s, or -1. */
int report_period_index(const char *s);
/* The enum report_format named s, or -1. */
int report_format_index(const char *s);
struct report_args {
	int64_t from, to; /* ms, 0 <= from < to <= from + RANGE_MAX */
	int	period;	  /* enum report_period; month by default */
	int	format;	  /* enum report_format; json by default */
};
/* OK, or ERR_INVALID with an entry in errs per bad parameter. Any of
 * the strings may be NULL (not sent). */
int report_args_parse(const char *from, const char *to, const char *period,
    const char *format, struct report_args *, json_t *errs);
/*
 * The same for a report whose days are London's (london 1, REPORT_LONDON):
 * a from or to that is a date without a time ("2026-06-01") is the
 * instant London's day begins (2026-05-31T23:00:00Z in summer).
 */
int report_args_parse_in(const char *from, const char *to, const char *period,
    const char *format, int london, struct report_args *, json_t *errs);

/*
 * A partner admin's range is whole periods (reports.c's args): OK when
 * a's from and to are each where a period of a's period begins, in the
 * report's days (London's when london, else UTC's: a midnight, a
 * Monday's midnight, the first of a month's midnight); else ERR_INVALID
 * with an entry "not_aligned" in errs for each that is not. Pure.
 */
int report_range_aligned(const struct report_args *, int london, json_t *errs);

/* London's calendar date ("YYYY-MM-DD", 11 bytes) of instant ms. */
void report_london_date(int64_t ms, char *out);

/* report_runs.c: reports made by the job queue, kept for a while. */
void report_runs_create(struct request *);
void report_runs_list(struct request *);
void report_runs_get(struct request *);
void report_runs_result(struct request *);
/* run_jobs.c: the report_runs.make and report_runs.prune jobs. */
int report_runs_make_job(struct store *, const struct job *, char *err);
int report_runs_prune_job(struct store *, const struct job *, char *err);

/*
 * schedules.c: report schedules (the report_schedules resource), the
 * report_schedules.due job that makes their runs, and the mail that
 * tells their recipients a run is done.
 */
#define REPORT_FREQUENCIES_N 3
extern const char *const     report_frequencies[]; /* daily, weekly, monthly */
extern const struct resource report_schedules_resource;
int report_schedules_due_job(struct store *, const struct job *, char *err);
/* The index of frequency s in report_frequencies, or -1. */
int report_frequency_index(const char *s);
/*
 * Periods of frequency freq (its index) in London: the first boundary
 * (London's midnight: the next day's, Monday's, the first of the month's)
 * strictly after instant ms; and the start of the period that ends at
 * boundary end. Pure.
 */
int64_t report_schedule_next(int freq, int64_t ms);
int64_t report_schedule_start(int freq, int64_t end);
int	report_schedules_init(struct store *);
/* A scheduled run that ended, as the job that made it knows it. */
struct report_run_end {
	const char *run_id;
	const char *report;
	const char *schedule_id;
	const char *frequency;
	int64_t	    from, to;
	int	    format;
	int	    succeeded;
	size_t	    rows;
	const char *error_code; /* failed */
};
/*
 * Inside the transaction that records the end of a scheduled run: queue
 * a mail to each of its schedule's recipients who may still read
 * reports (a link to the result, or why it failed). Nothing when the
 * schedule is gone.
 */
int report_run_tell(struct tx *, const struct report_run_end *);

#endif
