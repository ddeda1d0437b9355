#include "core/err.h"

static const struct {
	int	    http;
	const char *code;
	const char *title;
} err_table[STATUS_COUNT] = {
	[OK] = { 200, "OK", "OK" },
	[ERR_NOMEM] = { 500, "INTERNAL", "Internal Server Error" },
	[ERR_INVALID] = { 422, "VALIDATION_FAILED", "Validation Failed" },
	[ERR_MALFORMED] = { 400, "MALFORMED_REQUEST", "Bad Request" },
	[ERR_UNAUTHORIZED] = { 401, "UNAUTHORIZED", "Unauthorized" },
	[ERR_FORBIDDEN] = { 403, "FORBIDDEN", "Forbidden" },
	[ERR_NOT_FOUND] = { 404, "NOT_FOUND", "Not Found" },
	[ERR_METHOD] = { 405, "METHOD_NOT_ALLOWED", "Method Not Allowed" },
	[ERR_CONFLICT] = { 409, "CONFLICT", "Conflict" },
	[ERR_PRECONDITION] = { 412, "PRECONDITION_FAILED",
	    "Precondition Failed" },
	[ERR_TOO_LARGE] = { 413, "PAYLOAD_TOO_LARGE", "Payload Too Large" },
	[ERR_HEAD_TOO_LARGE] = { 431, "HEADERS_TOO_LARGE",
	    "Request Header Fields Too Large" },
	[ERR_MEDIA_TYPE] = { 415, "UNSUPPORTED_MEDIA_TYPE",
	    "Unsupported Media Type" },
	[ERR_RATE_LIMIT] = { 429, "RATE_LIMITED", "Too Many Requests" },
	[ERR_BUSY] = { 503, "BUSY", "Service Busy" },
	[ERR_DB] = { 500, "INTERNAL", "Internal Server Error" },
	[ERR_IO] = { 500, "INTERNAL", "Internal Server Error" },
	[ERR_CONFIG] = { 500, "INTERNAL", "Internal Server Error" },
	[ERR_UNAVAILABLE] = { 503, "UNAVAILABLE", "Service Unavailable" },
	[ERR_INTERNAL] = { 500, "INTERNAL", "Internal Server Error" },
	[ERR_PRECONDITION_REQUIRED] = { 428, "PRECONDITION_REQUIRED",
	    "Precondition Required" },
	[ERR_BAD_GATEWAY] = { 502, "BAD_GATEWAY", "Bad Gateway" },
	[ERR_USAGE] = { 400, "USAGE", "Bad Command Line" },
};

int
err_http_status(int rc)
{
	if (rc < 0 || rc >= STATUS_COUNT)
		return (500);
	return (err_table[rc].http);
}

const char *
err_code(int rc)
{
	if (rc < 0 || rc >= STATUS_COUNT)
		return ("INTERNAL");
	return (err_table[rc].code);
}

const char *
err_title(int rc)
{
	if (rc < 0 || rc >= STATUS_COUNT)
		return ("Internal Server Error");
	return (err_table[rc].title);
}
