/*
 * The training business's reports (seed 004, issue 17 item 8), in the
 * catalogue beside reports.c's and made the same way (make.c): bookings,
 * revenue, attendance and pass rates, refunds, certificates expiring and
 * trainer load, each by period and by course, schedule or trainer over a
 * range [from, to). Their days are London's (REPORT_LONDON): each SQL
 * gives the hour of its instant (ms / 3600000), which make.c folds into
 * London's day, or a date; a date sent as from or to is London's
 * midnight. Counts and money only: no row about a person.
 *
 * Money is minor units with its currency (rows by currency too): a
 * booking's list price (subtotal_minor) and discount, and what went back
 * of a refund (amount_minor less the processing fee kept). Revenue is
 * counted when a booking was paid (confirmed_at: by Stripe or offline;
 * one that cost nothing after its discount too), a refund when it
 * completed; refunds of payments that paid no booking (late_payment,
 * duplicate_payment, payment_mismatch) were never revenue and are left
 * out of it (the refunds report has them).
 *
 * Every range is read through an index on the instant or date it is
 * over: course_schedules (start_time), certificates (status,
 * expiry_date), and the ones migration 0036 adds on training_bookings
 * (created_at, confirmed_at, cancelled_at) and refunds (requested_at,
 * completed_at, rejected_at); tests/unit/test_reports.c asks SQLite's
 * planner.
 */
#include <stddef.h>

#include "module.h"
#include "reports/reports_int.h"

/* clang-format off */
/* A booking's course, and its instant's hour. */
#define BOOKING_COURSE							\
	"FROM training_bookings b JOIN course_schedules s ON s.id = "	\
	"b.schedule_id JOIN training_courses c ON c.id = s.course_id "
#define BOOKINGS_AT(col, value)						\
	"SELECT c.id, c.name, b." col " / 3600000, " value " "		\
	BOOKING_COURSE "WHERE b." col " >= :from AND b." col " < :to "	\
	"GROUP BY c.id, c.name, b." col " / 3600000"
/* Bookings paid (by Stripe, or offline), refunded since or not. */
#define PAID_AT(value)							\
	"SELECT c.id, c.name, b.confirmed_at / 3600000, " value ", "	\
	"b.currency " BOOKING_COURSE "WHERE b.confirmed_at >= :from AND "	\
	"b.confirmed_at < :to AND b.payment_status IN ('paid', "	\
	"'partially_refunded', 'refunded') GROUP BY c.id, c.name, "	\
	"b.confirmed_at / 3600000, b.currency"
/* A refund's course, by the instant col, where cond. */
#define REFUNDS_AT(col, value, cond)					\
	"SELECT c.id, c.name, r." col " / 3600000, " value ", "		\
	"r.currency FROM refunds r JOIN training_bookings b ON b.id = "	\
	"r.booking_id JOIN course_schedules s ON s.id = b.schedule_id "	\
	"JOIN training_courses c ON c.id = s.course_id WHERE r." col	\
	" >= :from AND r." col " < :to" cond " GROUP BY c.id, c.name, "	\
	"r." col " / 3600000, r.currency"
/* Refunds of a payment that paid no booking: never revenue. */
#define NOT_REVENUE							\
	"('late_payment', 'duplicate_payment', 'payment_mismatch')"
/* Schedules that start in the range and are not cancelled. */
#define SCHEDULES_IN							\
	"s.start_time >= :from AND s.start_time < :to AND s.status <> "	\
	"'cancelled'"
/*
 * The attendees of schedule s's bookings that hold seats: one value a
 * schedule, summed by make.c (a join grouped by schedule had SQLite scan
 * every schedule in id order to group them).
 */
#define ATTENDEES							\
	"(SELECT COUNT(*) FROM training_bookings b JOIN "		\
	"training_booking_attendees a ON a.booking_id = b.id WHERE "	\
	"b.schedule_id = s.id AND b.status IN ('confirmed', "		\
	"'completed', 'no_show'))"
#define BY_SCHEDULE " GROUP BY s.id, c.name, s.start_time / 3600000"
#define MARKED(value, cond)						\
	"SELECT s.id, c.name, s.start_time / 3600000, " value " FROM "	\
	"course_schedules s JOIN training_courses c ON c.id = "		\
	"s.course_id JOIN attendance_records ar ON ar.schedule_id = "	\
	"s.id WHERE " SCHEDULES_IN " AND " cond BY_SCHEDULE
#define ATTENDED "ar.status IN ('present', 'late', 'partial')"
#define EXPIRING(cond)							\
	"SELECT c.id, c.name, ce.expiry_date, COUNT(*) FROM "		\
	"certificates ce JOIN training_courses c ON c.id = ce.course_id "	\
	"WHERE ce.status IN " cond " AND ce.expiry_date >= :from_date "	\
	"AND ce.expiry_date < :to_date GROUP BY c.id, c.name, "		\
	"ce.expiry_date"
#define TAUGHT(value, cond)						\
	"SELECT t.id, t.trainer_code, s.start_time / 3600000, " value	\
	" FROM course_schedules s JOIN trainers t ON t.id = "		\
	"s.trainer_id JOIN training_courses c ON c.id = s.course_id "	\
	"WHERE s.start_time >= :from AND s.start_time < :to AND " cond	\
	" GROUP BY t.id, t.trainer_code, s.start_time / 3600000"
/* clang-format on */

const struct report training_reports[] = {
	{ "training_bookings", "Training bookings",
	    "Training bookings made (created_at), with their seats, paid "
	    "or confirmed (confirmed_at) and cancelled (cancelled_at, holds "
	    "that expired too) in each London period, by course.",
	    "course",
	    {
		{ "made", "bookings made (a hold of seats, paid or not)",
		    BOOKINGS_AT("created_at", "COUNT(*)") },
		{ "seats", "seats the bookings made hold",
		    BOOKINGS_AT("created_at", "SUM(b.seats)") },
		{ "confirmed", "bookings paid or confirmed offline",
		    BOOKINGS_AT("confirmed_at", "COUNT(*)") },
		{ "cancelled",
		    "bookings cancelled (by the booker, staff, "
		    "their schedule's cancellation or their hold's expiry)",
		    BOOKINGS_AT("cancelled_at", "COUNT(*)") },
	    },
	    NULL, REPORT_BUCKET_LONDON_HOUR, 0 },
	{ "training_revenue", "Training revenue",
	    "Revenue of the bookings paid (confirmed_at) in each London "
	    "period, by course and currency: gross (list price), discounts, "
	    "refunds completed (completed_at; what went back, the fee kept "
	    "is not) and net, in minor units.",
	    "course",
	    {
		{ "bookings", "bookings paid (by Stripe or offline)",
		    PAID_AT("COUNT(*)") },
		{ "gross_minor", "list price of the seats of bookings paid",
		    PAID_AT("SUM(b.subtotal_minor)"), NULL, MEASURE_MONEY },
		{ "discounts_minor", "discount codes' discounts of them",
		    PAID_AT("SUM(b.discount_minor)"), NULL, MEASURE_MONEY },
		{ "refunds_minor",
		    "refunds completed, less the processing fees "
		    "kept (not those of payments that paid no booking)",
		    REFUNDS_AT("completed_at",
			"SUM(r.amount_minor - r.processing_fee_minor)",
			" AND r.status = 'completed' AND r.cause NOT IN "
			"" NOT_REVENUE),
		    NULL, MEASURE_MONEY },
		{ "net_minor", "gross less discounts less refunds", NULL, NULL,
		    MEASURE_MONEY,
		    "gross_minor-discounts_minor-refunds_minor" },
	    },
	    NULL, REPORT_BUCKET_LONDON_HOUR, REPORT_CURRENCY },
	{ "training_attendance", "Training attendance and pass rates",
	    "Course schedules starting in each London period (not "
	    "cancelled), one row each: learners booked, attended (present, "
	    "late or partial), absent (or excused), passed the assessment, "
	    "certificates issued (not revoked), and the attendance and pass "
	    "rates.",
	    "schedule",
	    {
		{ "attendees",
		    "learners of its confirmed, completed or no-show "
		    "bookings",
		    "SELECT s.id, c.name, s.start_time / 3600000, " ATTENDEES
		    " FROM course_schedules s JOIN training_courses c ON c.id "
		    "= s.course_id WHERE " SCHEDULES_IN },
		{ "attended", "marked present, late or partial",
		    MARKED("COUNT(*)", ATTENDED) },
		{ "absent", "marked absent or excused",
		    MARKED("COUNT(*)", "ar.status IN ('absent', 'excused')") },
		{ "passed", "attended and passed the assessment",
		    MARKED("COUNT(*)",
			ATTENDED " AND ar.passed_assessment = "
				 "1") },
		{ "certificates", "certificates issued, not revoked",
		    "SELECT s.id, c.name, s.start_time / 3600000, COUNT(*) "
		    "FROM course_schedules s JOIN training_courses c ON c.id = "
		    "s.course_id JOIN certificates ce ON ce.schedule_id = s.id "
		    "WHERE " SCHEDULES_IN " AND ce.status <> "
		    "'revoked'" BY_SCHEDULE },
		{ "attendance_rate", "attended of attendees", NULL, NULL,
		    MEASURE_RATIO, "attended/attendees" },
		{ "pass_rate", "passed of attended", NULL, NULL, MEASURE_RATIO,
		    "passed/attended" },
	    },
	    "course", REPORT_BUCKET_LONDON_HOUR, 0 },
	{ "training_refunds", "Training refunds",
	    "Refunds asked for or made (requested_at), completed "
	    "(completed_at) and rejected (rejected_at) in each London "
	    "period, by course and currency, whatever their cause; amounts "
	    "in minor units.",
	    "course",
	    {
		{ "requested", "refunds asked for or made",
		    REFUNDS_AT("requested_at", "COUNT(*)", "") },
		{ "requested_minor", "their amounts, fees included",
		    REFUNDS_AT("requested_at", "SUM(r.amount_minor)", ""), NULL,
		    MEASURE_MONEY },
		{ "completed", "refunds completed (money gone back)",
		    REFUNDS_AT("completed_at", "COUNT(*)",
			" AND r.status = 'completed'") },
		{ "refunded_minor", "what went back: amounts less fees",
		    REFUNDS_AT("completed_at",
			"SUM(r.amount_minor - r.processing_fee_minor)",
			" AND r.status = 'completed'"),
		    NULL, MEASURE_MONEY },
		{ "fees_minor", "processing fees kept of them",
		    REFUNDS_AT("completed_at", "SUM(r.processing_fee_minor)",
			" AND r.status = 'completed'"),
		    NULL, MEASURE_MONEY },
		{ "rejected", "refund requests rejected",
		    REFUNDS_AT("rejected_at", "COUNT(*)",
			" AND r.status = 'rejected'") },
	    },
	    NULL, REPORT_BUCKET_LONDON_HOUR, REPORT_CURRENCY },
	{ "training_certificates_expiring", "Training certificates expiring",
	    "Certificates (not revoked) whose expiry date is in the window "
	    "[from, to), London's dates, by expiry period and course: "
	    "holders to invite to requalify.",
	    "course",
	    {
		{ "expiring", "certificates expiring (not revoked)",
		    EXPIRING("('active', 'expired')") },
		{ "expired", "of them, expired already",
		    EXPIRING("('expired')") },
	    },
	    NULL, REPORT_BUCKET_DATE, 0 },
	{ "training_trainer_load", "Trainer load",
	    "What each trainer (by trainer code) teaches in each London "
	    "period: course schedules starting then (not cancelled), their "
	    "course days and hours and learners booked; and schedules of "
	    "theirs cancelled.",
	    "trainer",
	    {
		{ "schedules", "schedules taught (not cancelled)",
		    TAUGHT("COUNT(*)", "s.status <> 'cancelled'") },
		{ "course_days", "their courses' days",
		    TAUGHT("SUM(c.duration_days)", "s.status <> 'cancelled'") },
		{ "course_hours", "their courses' hours",
		    TAUGHT(
			"SUM(c.duration_hours)", "s.status <> 'cancelled'") },
		{ "learners",
		    "learners booked on them (one row a schedule, "
		    "summed)",
		    "SELECT t.id, t.trainer_code, s.start_time / 3600000, "
		    "" ATTENDEES " FROM course_schedules s JOIN trainers t ON "
		    "t.id = s.trainer_id WHERE " SCHEDULES_IN },
		{ "cancelled", "schedules of theirs cancelled",
		    TAUGHT("COUNT(*)", "s.status = 'cancelled'") },
	    },
	    "trainer_code", REPORT_BUCKET_LONDON_HOUR, 0 },
};

const size_t training_reports_n = NELEM(training_reports);
