/*
 * Chat profile sync (issue 6, part 6): when a user's partners, features,
 * therapy counts or course progress change (resource/hooks.h: the
 * modules say so, and add their parts of the profile), their profile is
 * pushed to the chat provider (the shape of Crisp's people data API) by
 * the job chat.profile_sync. See chatsync.c for the profile, the HTTP
 * exchange and how changes coalesce.
 *
 * When a user's email changes, the next push deletes the profile under
 * the old address first; erasure (people's GDPR hook) queues the job
 * chat.profile_delete for the addresses the provider may hold.
 *
 * With chat_sync_url empty the sync is off: nothing is queued or pushed;
 * a change for a person who has a sync row marks it for a recheck, done
 * at the next start-up with the sync on. A deleted account's profile is
 * erased as a person's without chat access is.
 */
#ifndef OPS_CHATSYNC_H
#define OPS_CHATSYNC_H

struct module;

extern const struct module chatsync_module;

#endif
