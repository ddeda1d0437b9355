/*
 * Course materials (seed 004): what a course's learners read, watch or
 * take (pdf, video, presentation, document, link, quiz, assessment), at an
 * http or https URL. Admins write them.
 *
 * Who reads them: staff with course_materials:read (admins, instructors)
 * every one; anyone else with a token only the public materials of active
 * courses that do not require completion. A material that is not public
 * stays staff-only. Materials that require completion will be served to
 * the learners who completed the course once attendance is recorded
 * (issue 16 part 2); until then they are staff-only too.
 */
#include <jansson.h>

#include "module.h"
#include "resource/resource.h"
#include "training/training_int.h"

/* clang-format off */
#define MATERIAL_FOR_ANYONE						\
	"is_public = 1 AND requires_completion = 0 AND course_id IN "		\
	"(SELECT c.id FROM training_courses c WHERE c.is_active = 1)"
/* clang-format on */

static const char *const material_types[] = { "pdf", "video", "presentation",
	"document", "link", "quiz", "assessment", NULL };

static const struct field material_fields[] = {
	{ "course_id", FIELD_UUID,
	    FIELD_REQUIRED | FIELD_CREATE_ONLY | FIELD_FILTER, 0, 0, NULL, NULL,
	    "training_courses", 0, "the training course" },
	{ "title", FIELD_TEXT, FIELD_REQUIRED | FIELD_SORT, 1,
	    TRAINING_NAME_MAX, NULL, NULL, NULL, 0, NULL },
	{ "description", FIELD_TEXT, FIELD_NULLABLE, 0, TRAINING_TEXT_MAX, NULL,
	    NULL, NULL, 0, NULL },
	{ "material_type", FIELD_ENUM, FIELD_REQUIRED | FIELD_FILTER, 0, 0,
	    material_types, NULL, NULL, 0,
	    "pdf, video, presentation, document, link, quiz or assessment" },
	{ "file_url", FIELD_URL, FIELD_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	    "an http or https URL" },
	{ "is_public", FIELD_BOOL, FIELD_FILTER, 0, 0, NULL, "false", NULL, 0,
	    "readable by anyone with a token; otherwise staff only" },
	{ "requires_completion", FIELD_BOOL, 0, 0, 0, NULL, "false", NULL, 0,
	    "only for learners who completed the course (staff only until "
	    "attendance is recorded)" },
	{ "display_order", FIELD_INT, FIELD_SORT, 0, 10000, NULL, "0", NULL, 0,
	    "ascending" },
	{ "version", FIELD_INT, 0, 1, 1000000, NULL, "1", NULL, 0, NULL },
	{ "created_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
	{ "updated_by", FIELD_UUID, FIELD_READONLY | FIELD_NULLABLE, 0, 0, NULL,
	    NULL, NULL, SEE_ALL, NULL },
};

const struct resource course_materials_resource = {
	.name = "course_materials",
	.path = "/v1/course-materials",
	.table = "course_materials",
	.fields = material_fields,
	.nfields = NELEM(material_fields),
	.scope_where = { [SCOPE_NONE] = MATERIAL_FOR_ANYONE },
	.doc = "Materials of a training course (seed 004): type, http(s) URL, "
	       "order, version. Staff read every one; anyone else with a token "
	       "the public materials of active courses that do not require "
	       "completion (those that do come with attendance, issue 16 "
	       "part 2). Admins write them.",
};
