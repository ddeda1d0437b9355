/*
 * Chat profile sync (issue 6, part 6): when a user's partners, features,
 * therapy counts or course progress change, their profile is pushed to
 * the chat provider (the shape of Crisp's people data API) by the job
 * chat.profile_sync. See chatsync.c for the profile, the HTTP exchange
 * and how changes coalesce.
 *
 * When a user's email changes, the next push deletes the profile under
 * the old address first; erasure (people's GDPR hook) queues the job
 * chat.profile_delete for the addresses the provider may hold.
 *
 * With chat_sync_url empty the sync is off: every function here is a
 * no-op that returns OK, and nothing is queued or stored.
 */
#ifndef OPS_CHATSYNC_H
#define OPS_CHATSYNC_H

struct module;
struct tx;

extern const struct module chatsync_module;

/*
 * Something in user_id's profile changed inside tx: make sure one
 * chat.profile_sync job will push it (queued inside tx, so only if tx
 * commits; run chat_sync_delay_ms later, so a burst of changes makes one
 * push). Call it last in the transaction: it takes the user's sync row
 * lock until the commit. user_id NULL is accepted (nothing to do).
 */
int chat_profile_touch(struct tx *, const char *user_id);

/* The same for every user who holds an access of partner_id (a partner
 * deactivated or renamed), in user id order. */
int chat_profile_touch_partner(struct tx *, const char *partner_id);

#endif
