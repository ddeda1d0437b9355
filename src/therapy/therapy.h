/*
 * The therapy module (seed 003): therapists, therapy sessions with sealed
 * shared and private notes, forms with typed fields and scoring (PHQ-9
 * and GAD-7 seeded by migration 0003), form responses, resources and
 * resource assignments. See therapy_int.h for how the files divide it.
 */
#ifndef THERAPY_THERAPY_H
#define THERAPY_THERAPY_H

struct module;

extern const struct module therapy_module;

#endif
