/*
 * The learning module (seeds 000 and 002): self-guided courses and their
 * course sessions, copied from the CMS (Storyblok) by its webhook through
 * the webhook inbox, and each user's enrolments and progress. See
 * learning_int.h for how the files divide it.
 */
#ifndef LEARNING_LEARNING_H
#define LEARNING_LEARNING_H

struct module;
struct tx;

extern const struct module learning_module;

/*
 * Course completion counts the sessions included for the user, so it
 * follows their partner accesses (learning_int.h has the rule). Call one
 * of these inside the transaction that changed the accesses, before the
 * chat profile touches (it takes course locks; the chat profiles are the
 * caller's to touch, as they are for any access change).
 *
 * learning_access_changed: user_id gained or lost an access (redeemed,
 * made, activated, deactivated, deleted). NULL is accepted (nothing).
 * learning_partner_changed: partner_id was renamed, deactivated or
 * reactivated; every holder of one of its accesses is recomputed.
 */
int learning_access_changed(struct tx *, const char *user_id);
int learning_partner_changed(struct tx *, const char *partner_id);

#endif
