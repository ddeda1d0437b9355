/*
 * The learning module (seeds 000 and 002): self-guided courses and their
 * course sessions, copied from the CMS (Storyblok) by its webhook through
 * the webhook inbox, and each user's enrolments and progress. See
 * learning_int.h for how the files divide it. Completions follow the
 * partner accesses through the change hook (resource/hooks.h: it listens
 * to CHANGE_ACCESS, CHANGE_PARTNER and CHANGE_PARTNER_GRANTS).
 */
#ifndef LEARNING_LEARNING_H
#define LEARNING_LEARNING_H

struct module;

extern const struct module learning_module;

#endif
