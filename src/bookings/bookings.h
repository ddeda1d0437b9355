/*
 * The bookings module: therapy bookings from the booking system
 * (Simplybook), each spending a session of a partner access. See
 * bookings_int.h for how the files divide it.
 */
#ifndef BOOKINGS_BOOKINGS_H
#define BOOKINGS_BOOKINGS_H

struct module;

extern const struct module bookings_module;

#endif
