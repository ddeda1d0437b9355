/*
 * The list of modules (modules.h). Compiled with the layers, not with the
 * command line (Makefile: LIB_TOP), so that the unit tests link it too.
 */
#include <stddef.h>

#include "biometrics/biometrics.h"
#include "bookings/bookings.h"
#include "learning/learning.h"
#include "module.h"
#include "modules.h"
#include "ops/chatsync.h"
#include "ops/ops.h"
#include "partners/partners.h"
#include "people/gdpr.h"
#include "people/people.h"
#include "reports/reports.h"
#include "therapy/therapy.h"
#include "training/training.h"
#include "web/web.h"

static const struct module *const modules[] = {
	&ops_module,
	&people_module,
	&people_access_module,
	&therapy_module,
	&partners_module,
	&bookings_module,
	&reports_module,
	&biometrics_module,
	&learning_module,
	&chatsync_module,
	&training_module,
	&web_module,
};

const struct module *const *
modules_all(size_t *n)
{
	*n = NELEM(modules);
	return (modules);
}
