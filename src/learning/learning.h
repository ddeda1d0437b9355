/*
 * The learning module (seeds 000 and 002): self-guided courses and their
 * course sessions, copied from the CMS (Storyblok) by its webhook through
 * the webhook inbox, and each user's enrolments and progress. See
 * learning_int.h for how the files divide it.
 */
#ifndef LEARNING_LEARNING_H
#define LEARNING_LEARNING_H

struct module;

extern const struct module	learning_module;

#endif
