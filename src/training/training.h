/*
 * The training module (seed 004): the business that sells in-person
 * first-aid courses. Part 1, the catalogue: training courses, venues,
 * trainers, course materials and course schedules (one dated run of a
 * course at a venue by a trainer), with their rules and the schedules'
 * status actions. See training_int.h for how the files divide it.
 */
#ifndef TRAINING_TRAINING_H
#define TRAINING_TRAINING_H

struct module;

extern const struct module training_module;

#endif
