/*
 * Mail: template rendering, message building, address validation, and a
 * real SMTP exchange with tests/smtp_sink.py (Debian's python3-aiosmtpd).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mail.h"

#define PYTHON "/usr/bin/python3"

static const struct mail_template welcome = {
	"welcome",
	"Welcome, {{ name }}",
	"Hello {{name}},\nyou have {{ count }} new items ({{flag}}).\n",
	"<p>Hello {{ name }}, {{ user.city }}</p>",
};
static const struct mail_template typo = {
	"typo",
	"Hi",
	"Hello {{ frist_name }}",
	NULL,
};
static const struct mail_template subj = {
	"subj",
	"Hi {{ name }}",
	"body",
	NULL,
};

static int   free_port(void);
static char *slurp(const char *);
static int   setup(void **);
static int   teardown(void **);
static void  test_render(void **);
static void  test_render_dir(void **);
static void  test_build(void **);
static void  test_address(void **);
static void  test_send_real(void **);
static void  test_send_failures(void **);

static int
setup(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(config_load(0, NULL, err, sizeof(err)), OK);
	log_set_level(LOG_ERROR);
	assert_int_equal(mail_init(), OK);
	return (0);
}

static int
teardown(void **state)
{
	(void)state;
	mail_cleanup();
	config_free();
	return (0);
}

static void
test_render(void **state)
{
	json_t *vars;
	char   *s, *t, *h;

	(void)state;
	assert_int_equal(mail_template_register(&welcome), OK);
	assert_int_equal(mail_template_register(&typo), OK);
	assert_int_equal(mail_template_register(&subj), OK);
	assert_int_equal(mail_template_register(&welcome), ERR_CONFLICT);

	vars = json_pack("{s:s, s:i, s:b, s:{s:s}}", "name", "Ann <&> 'O\"",
	    "count", 3, "flag", 1, "user", "city", "Köln");
	assert_int_equal(mail_render("welcome", vars, &s, &t, &h), OK);
	assert_string_equal(s, "Welcome, Ann <&> 'O\"");
	assert_string_equal(
	    t, "Hello Ann <&> 'O\",\nyou have 3 new items (true).\n");
	assert_string_equal(
	    h, "<p>Hello Ann &lt;&amp;&gt; &#39;O&quot;, Köln</p>");
	free(s);
	free(t);
	free(h);

	/* an unknown variable is an error, never sent as-is */
	assert_int_equal(mail_render("typo", vars, &s, &t, &h), ERR_INVALID);
	assert_null(s);
	assert_null(t);
	assert_int_equal(mail_render("nope", vars, &s, &t, &h), ERR_NOT_FOUND);
	assert_int_equal(mail_render("../etc", vars, &s, &t, &h), ERR_INVALID);
	json_decref(vars);

	/* a value must not smuggle a header line into the subject */
	vars = json_pack("{s:s}", "name", "x\r\nBcc: victim@example.com");
	assert_int_equal(mail_render("subj", vars, &s, &t, &h), ERR_INVALID);
	json_decref(vars);
	vars = json_pack("{s:[]}", "name");
	assert_int_equal(mail_render("subj", vars, &s, &t, &h), ERR_INVALID);
	json_decref(vars);
}

static void
test_render_dir(void **state)
{
	char	dir[] = "/tmp/cb_tpl_XXXXXX", path[256];
	char   *s, *t, *h;
	json_t *vars;
	FILE   *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/welcome.subject", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("Override {{name}}\n", f);
	fclose(f);
	free(config.templates_dir);
	config.templates_dir = strdup(dir);
	vars = json_pack("{s:s, s:i, s:b, s:{s:s}}", "name", "Bo", "count", 1,
	    "flag", 0, "user", "city", "Oslo");
	assert_int_equal(mail_render("welcome", vars, &s, &t, &h), OK);
	assert_string_equal(s, "Override Bo");
	assert_string_equal(t, "Hello Bo,\nyou have 1 new items (false).\n");
	free(s);
	free(t);
	free(h);
	json_decref(vars);
	unlink(path);
	rmdir(dir);
	config.templates_dir[0] = '\0';
}

static void
test_build(void **state)
{
	struct mail_msg m = { "ann@example.com", "Plain subject",
		"line one\nline two with = sign\n.leading dot\n", NULL };
	char	       *msg, *b;
	size_t		len;

	(void)state;
	msg = mail_build(&m, "carebase <no-reply@example.com>", &len);
	assert_non_null(msg);
	assert_int_equal(strlen(msg), len);
	assert_non_null(
	    strstr(msg, "From: carebase <no-reply@example.com>\r\n"));
	assert_non_null(strstr(msg, "\r\nTo: ann@example.com\r\n"));
	assert_non_null(strstr(msg, "\r\nSubject: Plain subject\r\n"));
	assert_non_null(strstr(msg, "\r\nDate: "));
	assert_non_null(strstr(msg, " +0000\r\n"));
	assert_non_null(strstr(msg, "\r\nMessage-ID: <"));
	/* under the sender's domain, not a host name */
	assert_non_null(strstr(msg, "@example.com>\r\n"));
	assert_null(strstr(msg, "@carebase>"));
	assert_non_null(strstr(msg, "\r\nMIME-Version: 1.0\r\n"));
	assert_non_null(
	    strstr(msg, "Content-Type: text/plain; charset=UTF-8\r\n"));
	assert_non_null(strstr(msg, "line two with =3D sign\r\n"));
	assert_non_null(strstr(msg, "\r\n.leading dot\r\n")); /* not stuffed */
	assert_null(strstr(msg, "multipart"));
	for (b = msg; (b = strchr(b, '\n')) != NULL; b++)
		assert_true(b > msg && b[-1] == '\r');
	free(msg);

	m.subject = "Grüße – ok";
	m.html = "<p>Hi</p>";
	msg = mail_build(&m, "carebase <no-reply@example.com>", &len);
	assert_non_null(msg);
	assert_non_null(
	    strstr(msg, "Subject: =?UTF-8?B?R3LDvMOfZSDigJMgb2s=?=\r\n"));
	assert_non_null(b = strstr(msg, "multipart/alternative; boundary=\""));
	{
		char   bd[80], sep[160], *q;
		size_t n;

		b += strlen("multipart/alternative; boundary=\"");
		q = strchr(b, '"');
		n = (size_t)(q - b);
		assert_true(n > 8 && n < sizeof(bd));
		memcpy(bd, b, n);
		bd[n] = '\0';
		snprintf(sep, sizeof(sep),
		    "\r\n--%s\r\nContent-Type: text/plain", bd);
		assert_non_null(q = strstr(msg, sep));
		snprintf(sep, sizeof(sep),
		    "\r\n--%s\r\nContent-Type: text/html", bd);
		assert_non_null(b = strstr(msg, sep));
		assert_true(b > q);
		snprintf(sep, sizeof(sep), "\r\n--%s--\r\n", bd);
		assert_non_null(strstr(msg, sep));
	}
	free(msg);

	/* injection attempts and bad recipients build nothing */
	m.subject = "Hi\r\nBcc: x@example.com";
	assert_null(mail_build(&m, "a <a@example.com>", &len));
	m.subject = "Hi";
	m.to = "ann@example.com\r\nBcc: x@example.com";
	assert_null(mail_build(&m, "a <a@example.com>", &len));
	m.to = "not-an-address";
	assert_null(mail_build(&m, "a <a@example.com>", &len));
}

static void
test_address(void **state)
{
	static const struct {
		const char *s;
		int	    ok;
	} t[] = {
		{ "ann@example.com", 1 },
		{ "a.b+tag@sub.example.org", 1 },
		{ "root@localhost", 1 },
		{ "", 0 },
		{ "ann", 0 },
		{ "@example.com", 0 },
		{ "ann@", 0 },
		{ "ann@@example.com", 0 },
		{ "a@b@example.com", 0 },
		{ "ann@example", 0 },
		{ "ann @example.com", 0 },
		{ "ann@example.com\r\n", 0 },
		{ "ann@exa\nmple.com", 0 },
		{ "<ann@example.com>", 0 },
		{ "ann@example.com,bo@example.com", 0 },
		{ "ann@.example.com", 0 },
		{ "ann@example.com.", 0 },
		{ "ann@example..com", 0 },
		{ "ann\t@example.com", 0 },
	};
	char   longaddr[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (mail_address_valid(t[i].s) != t[i].ok)
			fail_msg("\"%s\" should be %s", t[i].s,
			    t[i].ok ? "valid" : "invalid");
	assert_false(mail_address_valid(NULL));
	memset(longaddr, 'a', sizeof(longaddr));
	memcpy(longaddr + 240, "@example.com", 13); /* 252 long */
	longaddr[0] = 'b';
	assert_false(mail_address_valid(longaddr)); /* local part > 64 */
	memcpy(longaddr + 260, "@example.com", 13); /* 272 long */
	assert_false(mail_address_valid(longaddr));
}

static int
free_port(void)
{
	struct sockaddr_in sa;
	socklen_t	   sl = sizeof(sa);
	int		   fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return (port);
}

static char *
slurp(const char *path)
{
	FILE *f;
	char *p;
	long  n;

	if ((f = fopen(path, "rb")) == NULL)
		return (NULL);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = calloc(1, (size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return (p);
}

static void
test_send_real(void **state)
{
	struct mail_msg m = { "ann@example.com", "Your booking – confirmed",
		"Hello Ann,\n.see you soon\n", "<p>Hello <b>Ann</b></p>" };
	char		dir[] = "/tmp/cb_smtp_XXXXXX", portstr[16], url[64];
	char		path[128], err[256], line[64];
	char	       *msg, *env;
	struct pollfd	pfd;
	pid_t		pid;
	int		pfds[2], port, status, rc;
	ssize_t		n;

	(void)state;
	if (access(PYTHON, X_OK) != 0 ||
	    system(PYTHON " -c 'import aiosmtpd' 2>/dev/null") != 0) {
		print_message("skipped: " PYTHON " with aiosmtpd is missing\n");
		skip();
	}
	assert_non_null(mkdtemp(dir));
	port = free_port();
	snprintf(portstr, sizeof(portstr), "%d", port);
	assert_int_equal(pipe(pfds), 0);
	if ((pid = fork()) == 0) {
		dup2(pfds[1], 1);
		close(pfds[0]);
		execl(PYTHON, PYTHON, "tests/smtp_sink.py", "--port", portstr,
		    "--out", dir, (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	close(pfds[1]);
	pfd.fd = pfds[0];
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	n = read(pfds[0], line, sizeof(line) - 1);
	assert_true(n > 0);
	line[n] = '\0';
	assert_non_null(strstr(line, "ready"));

	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", port);
	free(config.smtp_url);
	config.smtp_url = strdup(url);
	free(config.smtp_tls);
	config.smtp_tls = strdup("none");
	rc = mail_send(&m, err, sizeof(err));
	if (rc != OK)
		print_message("mail_send: %s\n", err);

	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	close(pfds[0]);
	assert_int_equal(rc, OK);

	snprintf(path, sizeof(path), "%s/0001.eml", dir);
	assert_non_null(msg = slurp(path));
	assert_non_null(strstr(msg, "\nTo: ann@example.com\r\n"));
	/* "Your booking – confirmed" as an encoded-word */
	assert_non_null(strstr(msg,
	    "Subject: =?UTF-8?B?WW91ciBib29raW5nIOKAkyBjb25maXJtZWQ=?=\r\n"));
	assert_non_null(strstr(msg, "Content-Type: text/plain; charset=UTF-8"));
	assert_non_null(strstr(msg, "Content-Type: text/html; charset=UTF-8"));
	assert_non_null(strstr(msg, "\r\n.see you soon\r\n"));
	assert_non_null(strstr(msg, "<p>Hello <b>Ann</b></p>"));
	snprintf(path, sizeof(path), "%s/0001.env", dir);
	assert_non_null(env = slurp(path));
	assert_non_null(strstr(env, "MAIL FROM: no-reply@localhost"));
	assert_non_null(strstr(env, "RCPT TO: ann@example.com"));
	free(env);
	free(msg);
	unlink(path);
	snprintf(path, sizeof(path), "%s/0001.eml", dir);
	unlink(path);
	rmdir(dir);
}

static void
test_send_failures(void **state)
{
	struct mail_msg m = { "ann@example.com", "Hi", "Hello", NULL };
	char		url[64], err[256];

	(void)state;
	free(config.smtp_url);
	config.smtp_url = strdup("");
	assert_int_equal(mail_send(&m, err, sizeof(err)), ERR_UNAVAILABLE);
	assert_true(err[0] != '\0');

	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", free_port());
	free(config.smtp_url);
	config.smtp_url = strdup(url);
	free(config.smtp_tls);
	config.smtp_tls = strdup("none");
	free(config.smtp_password);
	config.smtp_password = strdup("s3cret-pw");
	free(config.smtp_user);
	config.smtp_user = strdup("user");
	assert_int_not_equal(mail_send(&m, err, sizeof(err)), OK);
	assert_true(err[0] != '\0');
	assert_null(strstr(err, "s3cret-pw"));

	m.to = "bad\r\n@example.com";
	assert_int_equal(mail_send(&m, err, sizeof(err)), ERR_INVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_dir),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_address),
		cmocka_unit_test(test_send_real),
		cmocka_unit_test(test_send_failures),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
