/*
 * The partners module (seeds 000 and 002): partner organisations and
 * their branding, the features they switch on, their admins, and partner
 * access: one grant of features (live chat, therapy sessions) to one
 * user, redeemed once with a 6-character code or made at registration.
 * See partners_int.h for how the files divide it.
 */
#ifndef PARTNERS_PARTNERS_H
#define PARTNERS_PARTNERS_H

struct module;

extern const struct module partners_module;

#endif
