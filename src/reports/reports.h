/*
 * The reports module (seed 002, "Reporting"): a catalogue of reports
 * (aggregates by partner or course over a date range, never a row about
 * a person) answered at once or made by the job queue and kept for a
 * while (report runs). See reports_int.h for how the files divide it.
 */
#ifndef REPORTS_REPORTS_H
#define REPORTS_REPORTS_H

struct module;

extern const struct module reports_module;

#endif
