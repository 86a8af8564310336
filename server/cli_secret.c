/*
 * Named secrets from the command line:
 *
 *   cellgate secret set NAME [--state DIR]     the value from stdin
 *   cellgate secret list [--json] [--state DIR]
 *   cellgate secret delete NAME [--state DIR]
 *
 * The value is read from stdin, never from the arguments (a process
 * listing shows those to every user): piped, it is the whole input but one
 * trailing newline; from a terminal, one line typed without echo. Setting
 * and deleting are audited by name, as local:<user>. The state directory
 * defaults as for `cellgate serve` ($CELLGATE_STATE).
 */
#include "cli_secret.h"

#include <openssl/crypto.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "../policy/audit.h"
#include "../policy/secrets.h"
#include "config.h"

typedef struct cli {
	const char *state, *name;
	bool json;
	char state_buf[4096];
} cli_t;

static int usage(void)
{
	fprintf(stderr,
		"usage: cellgate secret set NAME [--state DIR]      (the value from stdin)\n"
		"       cellgate secret list [--json] [--state DIR]\n"
		"       cellgate secret delete NAME [--state DIR]\n"
		"NAME: letters, digits, _ . - (starting with a letter, digit or _), at most %d;\n"
		"a value is 1 to %d bytes. Kernels read a secret only after a person approves.\n",
		SECRET_NAME_MAX, SECRET_VALUE_MAX);
	return 2;
}

static int parse(cli_t *c, int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
			c->state = argv[++i];
		} else if (strcmp(argv[i], "--json") == 0) {
			c->json = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "cellgate secret: unknown option %s\n", argv[i]);
			return -1;
		} else if (!c->name) {
			c->name = argv[i];
		} else {
			/* a second word is most likely a value typed where it shows */
			fprintf(stderr, "cellgate secret: too many arguments (a value is read from "
				"stdin, never from the command line)\n");
			return -1;
		}
	}
	/* as `cellgate serve` finds it */
	if (config_state_dir(c->state, c->state_buf, sizeof c->state_buf)) {
		fprintf(stderr, "cellgate: the state directory's path is too long\n");
		return -1;
	}
	c->state = c->state_buf;
	return 0;
}

static void local_user(char *out, size_t size)
{
	struct passwd *pw = getpwuid(getuid());

	snprintf(out, size, "local:%s", pw ? pw->pw_name : "?");
}

static void audit(const cli_t *c, const char *detail)
{
	err_t err = { 0 };
	policy_audit_t *a = policy_audit_open(c->state, &err);
	char who[128], res[100];

	local_user(who, sizeof who);
	snprintf(res, sizeof res, "secret %s", c->name);
	if (!a || policy_audit_append(a, who, "admin", res, "allow", detail, &err))
		fprintf(stderr, "cellgate secret: warning: not audited: %s\n", err.msg);
	policy_audit_close(&a);
}

/* The value from stdin into buf (SECRET_VALUE_MAX + 2 bytes): its length,
 * or -1 when it is too large or cannot be read. */
static long read_value(char *buf, size_t size)
{
	struct termios old, quiet;
	bool is_tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	size_t n = 0;
	ssize_t got;

	if (is_tty) {
		fprintf(stderr, "value (not shown; Enter ends it): ");
		quiet = old;
		quiet.c_lflag &= (tcflag_t)~ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	while (n < size && (got = read(STDIN_FILENO, buf + n, size - n)) > 0) {
		n += (size_t)got;
		if (is_tty && memchr(buf, '\n', n))
			break;
	}
	if (is_tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
		if (memchr(buf, '\n', n))
			n = (size_t)((char *)memchr(buf, '\n', n) - buf) + 1;
	}
	if (n >= size)
		return -1;
	/* `echo VALUE |` and a typed line end with a newline that is not the value's */
	if (n && buf[n - 1] == '\n')
		n--;
	if (n && buf[n - 1] == '\r')
		n--;
	return (long)n;
}

static int set(cli_t *c, policy_secrets_t *s)
{
	size_t size = SECRET_VALUE_MAX + 2;
	char *buf = malloc(size);
	long n = buf ? read_value(buf, size) : -1;
	bool replaced = false;
	err_t err = { 0 };
	char who[128];
	int rc;

	local_user(who, sizeof who);
	if (n < 0) {
		fprintf(stderr, "cellgate secret set: a value is at most %d bytes\n",
			SECRET_VALUE_MAX);
		rc = 1;
	} else if (policy_secrets_set(s, c->name, buf, (size_t)n, who, &replaced, &err) == 0) {
		audit(c, replaced ? "replaced its value" : "set a new secret");
		printf("%s secret %s\n", replaced ? "replaced" : "set", c->name);
		rc = 0;
	} else {
		fprintf(stderr, "cellgate secret set: %s\n", err.msg);
		rc = 1;
	}
	if (buf)
		OPENSSL_cleanse(buf, size);
	free(buf);
	return rc;
}

static int list(cli_t *c, policy_secrets_t *s)
{
	json_t *all = NULL, *e;
	err_t err = { 0 };
	size_t i;

	if (policy_secrets_list(s, &all, &err)) {
		fprintf(stderr, "cellgate secret list: %s\n", err.msg);
		return 1;
	}
	json_array_foreach(all, i, e) {
		if (c->json) {
			char *line = json_dumps(e, JSON_COMPACT);

			if (line)
				puts(line);
			free(line);
			continue;
		}
		printf("%-32s updated %s by %s\n", json_string_value(json_object_get(e, "name")),
		       json_string_value(json_object_get(e, "updated")),
		       json_string_value(json_object_get(e, "updated_by")));
	}
	json_decref(all);
	return 0;
}

static int delete(cli_t *c, policy_secrets_t *s)
{
	err_t err = { 0 };

	if (policy_secrets_delete(s, c->name, &err)) {
		fprintf(stderr, "cellgate secret delete: %s\n", err.msg);
		return 1;
	}
	audit(c, "deleted the secret");
	printf("deleted secret %s\n", c->name);
	return 0;
}

int cli_secret_main(int argc, char **argv)
{
	cli_t c = { 0 };
	const char *sub = argc > 1 ? argv[1] : "";
	policy_secrets_t *s;
	err_t err = { 0 };
	char why[160];
	int rc;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage();
			return 0;
		}
	if (parse(&c, argc, argv))
		return usage();
	if (strcmp(sub, "list") == 0 ? c.name != NULL
				     : (strcmp(sub, "set") && strcmp(sub, "delete")) || !c.name)
		return usage();
	if (c.name && !policy_secret_name_ok(c.name, why, sizeof why)) {
		fprintf(stderr, "cellgate secret %s: %s\n", sub, why);
		return 2;
	}
	if (!(s = policy_secrets_open(c.state, &err))) {
		fprintf(stderr, "cellgate secret %s: %s\n", sub, err.msg);
		return 1;
	}
	if (strcmp(sub, "set") == 0)
		rc = set(&c, s);
	else if (strcmp(sub, "delete") == 0)
		rc = delete(&c, s);
	else
		rc = list(&c, s);
	policy_secrets_close(&s);
	return rc;
}
