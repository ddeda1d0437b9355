/*
 * Private to src/training. training.c holds the module (routes,
 * resources), the helpers below and the free seats of a schedule;
 * courses.c training courses and the rule of their type and duration;
 * venues.c venues; trainers.c trainers; materials.c course materials;
 * schedules.c course schedules, their rules and status actions.
 *
 * Writes are staff's (admins); the public reads without a token active
 * courses, active venues and upcoming schedules (RESOURCE_PUBLIC_READ).
 */
#ifndef TRAINING_TRAINING_INT_H
#define TRAINING_TRAINING_INT_H

#include <stdint.h>

#include <jansson.h>

#include "resource/resource.h"

struct request;
struct tx;

#define TRAINING_NAME_MAX 200	/* names, titles, codes */
#define TRAINING_TEXT_MAX 10000 /* descriptions, bio */
#define TRAINING_URL_MAX  2048
/* First-aid courses are taught at most 12 learners to one trainer. */
#define TRAINING_LEARNERS_PER_TRAINER 12

/* A schedule is live, holding its trainer's time and its seats, until it
 * is completed or cancelled. */
#define TRAINING_LIVE "('scheduled', 'confirmed', 'in_progress')"

/*
 * The free seats of a schedule, as an SQL expression over a
 * course_schedules row: the schedules' free_seats field and
 * training_free_seats both read it. For now the capacity itself; bookings
 * (part 1b) take their held seats off here.
 */
#define TRAINING_FREE_SEATS_SQL "course_schedules.capacity"

/* courses.c */
extern const struct resource training_courses_resource;
/*
 * Check a course as it would be (type, hours, days, currency) and append
 * one entry per bad field to errs: EFAW is 6 hours in one day, FAW 18
 * over three days, Paediatric 12 over two (UK practice); requalification
 * and refresher courses have no fixed length. Pure, for unit tests too.
 */
void training_course_check(json_t *course, json_t *errs);

/* venues.c */
extern const struct resource venues_resource;

/* trainers.c */
extern const struct resource trainers_resource;

/* materials.c */
extern const struct resource course_materials_resource;
/* 1 if s is an absolute http or https URL with a host, no space or
 * control byte in it. Pure. */
int training_url_ok(const char *s);

/* schedules.c */
extern const struct resource course_schedules_resource;
/* POST /v1/course-schedules/{id}/<verb>: the route's arg names the
 * transition. */
void training_schedule_action(struct request *);
struct training_transition {
	const char *verb;    /* "confirm" */
	const char *to;	     /* "confirmed" */
	const char *from[3]; /* NULL-terminated */
};
extern const struct training_transition training_transitions[];

/* training.c: shared helpers */
/* 1 if s is three upper-case letters (an ISO 4217 code's form). Pure. */
int training_currency_ok(const char *s);
/*
 * Serialise writers of one row's rules until the transaction ends: kind
 * "course", "venue" or "trainer" and its id (PostgreSQL: an advisory
 * transaction lock; SQLite: the write transaction already does). Taken in
 * that order by whoever takes more than one.
 */
int training_lock(struct tx *, const char *kind, const char *id);
/*
 * Refuse with a problem of status rc and code (NULL: the status's own)
 * whose errors hold one entry {field, fcode, detail}. Returns rc.
 */
int training_refuse(struct request *, int rc, const char *code,
    const char *field, const char *fcode, const char *detail);
/* The member of body named name, else old's (update: the row as it would
 * be); borrowed, NULL when neither has it. */
json_t *training_pick(json_t *body, json_t *old, const char *name);
/*
 * Is there a live schedule for which sql (a fixed statement of the
 * caller's, "SELECT 1 FROM course_schedules WHERE ... = ? AND ... > ?")
 * holds with id and v bound? OK when there is, ERR_NOT_FOUND when not.
 */
int training_schedule_exists(
    struct tx *, const char *sql, const char *id, int64_t v);
/* The free seats of schedule id into *out (TRAINING_FREE_SEATS_SQL);
 * ERR_NOT_FOUND. */
int training_free_seats(struct tx *, const char *schedule_id, int64_t *out);

#endif
