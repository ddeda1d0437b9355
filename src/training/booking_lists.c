/*
 * Training bookings as lists: the caller's own (GET
 * /v1/me/training-bookings) and a schedule's with their attendees (GET
 * /v1/course-schedules/{id}/bookings), each as the caller's read scope
 * on training_bookings sees them (bookings.c declares who sees what).
 */
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/resource.h"
#include "store/store.h"
#include "training/training_int.h"

void
training_bookings_mine(struct request *req)
{
	resource_list(req, &training_bookings_resource, SCOPE_OWN);
}

struct of_schedule {
	struct principal *who;
	enum scope	  scope;
	const char	 *id;
	json_t		 *data;
	int		  truncated;
};

static int
of_schedule_tx(struct tx *tx, void *arg)
{
	struct of_schedule *o = arg;
	json_t		   *row;
	size_t		    i;
	int		    rc;

	json_array_clear(o->data);
	if ((rc = training_schedule_exists(tx,
		 "SELECT 1 FROM course_schedules WHERE id = ? AND "
		 "capacity > ?",
		 o->id, 0)) != OK)
		return (rc);
	if ((rc = resource_rows(tx, &training_bookings_resource, o->who,
		 o->scope, "schedule_id", o->id, o->data, &o->truncated)) != OK)
		return (rc);
	json_array_foreach(o->data, i, row) {
		if ((rc = training_attendees_add(tx, o->who, o->scope, row)) !=
		    OK)
			return (rc);
	}
	return (OK);
}

void
training_schedule_bookings(struct request *req)
{
	struct of_schedule o;
	int		   rc;

	memset(&o, 0, sizeof(o));
	o.who = req->caller;
	o.id = http_param(req, "id");
	o.scope = resource_scope(req->db, o.who, "training_bookings", "read");
	if (o.id == NULL || !uuid_valid(o.id) || o.scope == SCOPE_NONE) {
		http_problem(req, ERR_NOT_FOUND, NULL, "No such schedule.");
		return;
	}
	if ((o.data = json_array()) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	rc = store_run(req->db, STORE_TX_READ, of_schedule_tx, &o);
	if (rc != OK) {
		json_decref(o.data);
		http_problem(req, rc, NULL,
		    rc == ERR_NOT_FOUND ? "No such schedule."
					: "The bookings could not be read.");
		return;
	}
	/* A schedule's bookings are bounded by its seats, but expired holds
	 * add up: past RESOURCE_EXPORT_MAX rows the list says it is cut. */
	http_json(req, 200,
	    json_pack("{s:o,s:b}", "data", o.data, "truncated", o.truncated));
}
