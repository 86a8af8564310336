/*
 * The store from the command line, on the store file of a state directory
 * (--state DIR, else $CELLGATE_STATE, else ~/.local/share/cellgate, as
 * `cellgate serve`). Safe while a server runs: sqlite's WAL lets both in.
 *
 *   cellgate log PATH [--branch B] [--limit N]      newest first
 *   cellgate log --cells PATH [--version V] [--json] per-cell provenance of a version
 *   cellgate export VERSION [-o FILE]               the .ipynb bytes
 *   cellgate import FILE [--path PATH] [--branch B] [--message M]
 *   cellgate branch PATH                            list (* marks the checked-out one)
 *   cellgate branch PATH NAME [FROM]                create at a version or branch head
 *   cellgate branch -d PATH NAME                    delete the pointer
 *   cellgate diff A B                               cell-level diff, JSON
 *   cellgate publish PATH[@VERSION] [--message M]   publish a version (id or
 *                                                   branch; default the head of
 *                                                   the checked-out branch)
 *   cellgate publications [PATH] [--json]           the publications, oldest first
 *
 * PATH is the notebook's path in the workspace, as the contents API names
 * it. Nothing here touches the workspace: export writes where -o says.
 *
 * With --token T (and --policy FILE, or $CELLGATE_POLICY) a command acts
 * for that capability token and is refused what it does not allow, as the
 * API would refuse it: read for log, export, diff and listing branches,
 * write for import and changing branches. Without it the command acts as
 * the state directory's owner, who holds the root key anyway. A capability
 * token's publication needs a person's approval, which only the server can
 * ask for (POST /api/cellgate/publications): `publish --token` checks
 * publish, then refuses and says so.
 */
#include "cli_store.h"

#include "cli_policy.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/buf.h"
#include "../notebook-store/nbdiff.h"
#include "../notebook-store/nbformat.h"
#include "../notebook-store/publications.h"
#include "../notebook-store/records.h"
#include "../policy/audit.h"
#include "../notebook-store/store.h"
#include "config.h"

typedef struct cli {
	const char *state;
	const char *branch;
	const char *message;
	const char *path;
	const char *out;
	const char *limit;
	const char *token, *policy;
	int is_delete;
	int is_cells;
	int is_json;
	const char *version;
	const char *args[4];
	int n_args;
} cli_t;

static int usage(void)
{
	fprintf(stderr,
		"usage: cellgate log PATH [--branch B] [--limit N] [--state DIR]\n"
		"       cellgate log --cells PATH [--version V | --branch B] [--json] [--state DIR]\n"
		"       cellgate export VERSION [-o FILE] [--state DIR]\n"
		"       cellgate import FILE [--path PATH] [--branch B] [--message M] [--state DIR]\n"
		"       cellgate branch PATH [NAME [FROM]] [--state DIR]\n"
		"       cellgate branch -d PATH NAME [--state DIR]\n"
		"       cellgate diff A B [--state DIR]\n"
		"       cellgate publish PATH[@VERSION] [--message M] [--state DIR]\n"
		"       cellgate publications [PATH] [--json] [--state DIR]\n"
		"every command: [--token TOKEN --policy FILE] acts for a capability token\n");
	return 2;
}

static int parse(cli_t *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char **opt = NULL;

		if (strcmp(argv[i], "--state") == 0)
			opt = &c->state;
		else if (strcmp(argv[i], "--branch") == 0)
			opt = &c->branch;
		else if (strcmp(argv[i], "--message") == 0 || strcmp(argv[i], "-m") == 0)
			opt = &c->message;
		else if (strcmp(argv[i], "--path") == 0)
			opt = &c->path;
		else if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0)
			opt = &c->out;
		else if (strcmp(argv[i], "--limit") == 0)
			opt = &c->limit;
		else if (strcmp(argv[i], "--version") == 0)
			opt = &c->version;
		else if (strcmp(argv[i], "--cells") == 0) {
			c->is_cells = 1;
			continue;
		} else if (strcmp(argv[i], "--json") == 0) {
			c->is_json = 1;
			continue;
		} else if (strcmp(argv[i], "--token") == 0)
			opt = &c->token;
		else if (strcmp(argv[i], "--policy") == 0)
			opt = &c->policy;
		else if (strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "--delete") == 0) {
			c->is_delete = 1;
			continue;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "cellgate %s: unknown option %s\n", argv[0], argv[i]);
			return -1;
		} else {
			if (c->n_args == 4)
				return -1;
			c->args[c->n_args++] = argv[i];
			continue;
		}
		if (++i == argc) {
			fprintf(stderr, "cellgate %s: %s needs a value\n", argv[0], argv[i - 1]);
			return -1;
		}
		*opt = argv[i];
	}
	return 0;
}

static store_t *open_store(const cli_t *c, err_t *err)
{
	char dir[4096], path[4096 + 16];
	int n;

	if (config_state_dir(c->state, dir, sizeof dir)) {
		err_set(err, CG_EINVAL, "the state directory's path is too long");
		return NULL;
	}
	n = snprintf(path, sizeof path, "%s/store.sqlite", dir);
	if (n >= (int)sizeof path) {
		err_set(err, CG_EINVAL, "the state directory's path is too long");
		return NULL;
	}
	return store_open(path, err);
}

static int print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(1) | JSON_SORT_KEYS);

	if (!s)
		return -1;
	puts(s);
	free(s);
	return 0;
}

static int cmd_log_cells(store_t *s, const cli_t *c, const char *branch, err_t *err);

static int cmd_log(store_t *s, const cli_t *c, err_t *err)
{
	json_t *log = NULL, *v, *co = NULL;
	const char *branch = c->branch;
	unsigned long limit = c->limit ? strtoul(c->limit, NULL, 10) : 0;
	size_t i;

	if (c->n_args != 1)
		return usage();
	if (!branch && store_checkout_get(s, c->args[0], &co, NULL) == 0)
		branch = json_string_value(json_object_get(co, "branch"));
	if (!branch)
		branch = "main";
	if (c->is_cells) {
		int rc = cmd_log_cells(s, c, branch, err);

		json_decref(co);
		return rc;
	}
	if (store_log(s, c->args[0], branch, limit, &log, err)) {
		json_decref(co);
		return 1;
	}
	json_array_foreach(log, i, v) {
		json_t *parents = json_object_get(v, "parents");

		printf("%s  %s  %-10s %s%s%s\n", json_string_value(json_object_get(v, "id")),
		       json_string_value(json_object_get(v, "created")),
		       json_string_value(json_object_get(v, "principal")),
		       json_string_value(json_object_get(v, "message")),
		       json_array_size(parents) > 1 ? "  (merge)" : "",
		       json_array_size(parents) == 0 ? "  (root)" : "");
	}
	json_decref(log);
	json_decref(co);
	return 0;
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

/* One line per code cell: id, state, who, when, kernel, sandbox, after what,
 * the effects decided during it. */
static void print_cell(const json_t *cell)
{
	const json_t *e = json_object_get(cell, "execution"), *sess = json_object_get(e, "session");
	const json_t *after = json_object_get(cell, "after"), *x;
	const char *state = jstr(cell, "state");
	size_t i;

	printf("%-10s %-10s%s", jstr(cell, "cell_id"), state,
	       json_is_true(json_object_get(cell, "stale")) ? " stale" : "");
	if (!e) {
		putchar('\n');
		return;
	}
	printf("  [%" JSON_INTEGER_FORMAT "] %s by %s at %s, %s in %s/%s, after %zu:",
	       json_integer_value(json_object_get(e, "execution_count")), jstr(e, "status"),
	       jstr(e, "principal"), jstr(e, "ended"), jstr(sess, "kernelspec"),
	       jstr(json_object_get(sess, "sandbox"), "class"),
	       jstr(json_object_get(sess, "sandbox"), "backend"), json_array_size(after));
	json_array_foreach(after, i, x) {
		if (i == 8) {
			printf(" ...");
			break;
		}
		printf(" %s", *jstr(x, "cell_id") ? jstr(x, "cell_id") : "?");
	}
	json_array_foreach(json_object_get(e, "effects"), i, x) {
		if (i == 8) {
			printf(" ...");
			break;
		}
		printf("%s %s %s %s", i ? "," : "  effects:", jstr(x, "effect"), jstr(x, "decision"),
		       jstr(x, "destination"));
	}
	json_array_foreach(json_object_get(cell, "stale_because"), i, x)
		printf("%s %s: %s", i ? ";" : "  (stale:", jstr(x, "cell_id"), jstr(x, "why"));
	if (json_array_size(json_object_get(cell, "stale_because")))
		putchar(')');
	putchar('\n');
}

static int cmd_log_cells(store_t *s, const cli_t *c, const char *branch, err_t *err)
{
	char v[STORE_ID_LEN];
	json_t *p = NULL, *cell;
	size_t i;

	if (c->version)
		snprintf(v, sizeof v, "%s", c->version);
	else if (store_branch_head(s, c->args[0], branch, v, err))
		return 1;
	if (records_provenance(s, v, &p, err))
		return 1;
	if (strcmp(jstr(p, "path"), c->args[0]) != 0) {
		json_decref(p);
		err_set(err, CG_EINVAL, "version %s is not a version of %s", v, c->args[0]);
		return 1;
	}
	if (c->is_json) {
		print_json(p);
	} else {
		printf("version %s  %s  %s\n", v, jstr(p, "created"), jstr(p, "principal"));
		json_array_foreach(json_object_get(p, "cells"), i, cell)
			print_cell(cell);
	}
	json_decref(p);
	return 0;
}

static int cmd_export(store_t *s, const cli_t *c, err_t *err)
{
	json_t *nb = NULL;
	int rc = 1;
	buf_t b;

	if (c->n_args != 1)
		return usage();
	buf_init(&b, NBFORMAT_MAX_BYTES);
	if (store_load(s, c->args[0], &nb, err))
		goto out;
	if (nbformat_write(nb, &b)) {
		err_set(err, CG_ETOOBIG, "the notebook is too large to write");
		goto out;
	}
	if (c->out) {
		if (store_write_file_atomic(c->out, b.data, b.len, err))
			goto out;
	} else if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout)) {
		err_set(err, CG_ESYS, "cannot write the notebook");
		goto out;
	}
	rc = 0;
out:
	json_decref(nb);
	buf_free(&b);
	return rc;
}

static int cmd_import(store_t *s, const cli_t *c, err_t *err)
{
	const char *file, *path, *branch = c->branch ? c->branch : "main";
	char id[STORE_ID_LEN];
	json_t *nb = NULL;
	FILE *fp;
	int rc = 1;
	buf_t b;

	if (c->n_args != 1)
		return usage();
	file = c->args[0];
	/* the workspace path: --path, else the file's name */
	path = c->path ? c->path : (strrchr(file, '/') ? strrchr(file, '/') + 1 : file);
	buf_init(&b, NBFORMAT_MAX_BYTES);
	fp = fopen(file, "rb");
	if (!fp) {
		err_set(err, CG_ENOTFOUND, "cannot open %s", file);
		goto out;
	}
	for (;;) {
		char chunk[65536];
		size_t n = fread(chunk, 1, sizeof chunk, fp);

		if (n == 0)
			break;
		if (buf_append(&b, chunk, n)) {
			fclose(fp);
			err_set(err, CG_ETOOBIG, "%s is too large", file);
			goto out;
		}
	}
	fclose(fp);
	nb = nbformat_read(b.data ? b.data : "", b.len, err);
	if (!nb)
		goto out;
	if (store_save(s, path, branch, NULL, nb, "cli", c->message ? c->message : "imported", id, err))
		goto out;
	printf("%s\n", id);
	rc = 0;
out:
	json_decref(nb);
	buf_free(&b);
	return rc;
}

static int cmd_branch(store_t *s, const cli_t *c, err_t *err)
{
	json_t *list = NULL, *co = NULL, *v;
	const char *shown = NULL;
	char at[STORE_ID_LEN];
	size_t i;

	if (c->is_delete) {
		if (c->n_args != 2)
			return usage();
		return store_branch_delete(s, c->args[0], c->args[1], err) ? 1 : 0;
	}
	if (c->n_args == 2 || c->n_args == 3) {
		const char *from = c->n_args == 3 ? c->args[2] : "main";

		if (store_check_version_id(from, NULL) == 0)
			snprintf(at, sizeof at, "%.32s", from);
		else if (store_branch_head(s, c->args[0], from, at, err))
			return 1;
		if (store_branch_create(s, c->args[0], c->args[1], at, err))
			return 1;
		printf("%s %s\n", c->args[1], at);
		return 0;
	}
	if (c->n_args != 1)
		return usage();
	if (store_branch_list(s, c->args[0], &list, err))
		return 1;
	if (store_checkout_get(s, c->args[0], &co, NULL) == 0)
		shown = json_string_value(json_object_get(co, "branch"));
	json_array_foreach(list, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));

		printf("%c %s %s\n", shown && strcmp(shown, name) == 0 ? '*' : ' ', name,
		       json_string_value(json_object_get(v, "version")));
	}
	json_decref(list);
	json_decref(co);
	return 0;
}

static int cmd_diff(store_t *s, const cli_t *c, err_t *err)
{
	json_t *a = NULL, *b = NULL, *d = NULL;
	int rc = 1;

	if (c->n_args != 2)
		return usage();
	if (store_load(s, c->args[0], &a, err) || store_load(s, c->args[1], &b, err))
		goto out;
	d = nbdiff(a, b);
	if (!d || print_json(d)) {
		err_set(err, CG_ESYS, "out of memory");
		goto out;
	}
	rc = 0;
out:
	json_decref(a);
	json_decref(b);
	json_decref(d);
	return rc;
}

/* PATH[@VERSION] into path and version ("" when not given). */
static int split_at(const char *arg, char *path, size_t size, const char **version, err_t *err)
{
	const char *at = strrchr(arg, '@');
	size_t n = at ? (size_t)(at - arg) : strlen(arg);

	if (n == 0 || n >= size)
		return err_set(err, CG_EINVAL, "PATH[@VERSION] names a notebook");
	memcpy(path, arg, n);
	path[n] = '\0';
	*version = at ? at + 1 : "";
	return 0;
}

static void state_dir(const cli_t *c, char *out, size_t size);

/* The publication in the audit log, in the name of the local user. */
static void audit_publication(const cli_t *c, const char *who, const json_t *pub)
{
	char state[4096], desc[STORE_MAX_PATH + 64], detail[128];
	err_t err = { 0 };
	policy_audit_t *a;

	state_dir(c, state, sizeof state);
	snprintf(desc, sizeof desc, "/%s version %s", json_string_value(json_object_get(pub, "path")),
		 json_string_value(json_object_get(pub, "version")));
	snprintf(detail, sizeof detail, "publication %s (cellgate publish)",
		 json_string_value(json_object_get(pub, "id")));
	a = policy_audit_open(state, &err);
	if (!a || policy_audit_append(a, who, "publish", desc, "publish", detail, &err))
		fprintf(stderr, "cellgate publish: not recorded in the audit log: %s\n", err.msg);
	policy_audit_close(&a);
}

static int cmd_publish(store_t *s, const cli_t *c, err_t *err)
{
	char path[STORE_MAX_PATH + 1], at[STORE_ID_LEN], who[128];
	const char *version, *branch = "main";
	struct passwd *pw = getpwuid(geteuid());
	json_t *co = NULL, *pub = NULL;
	int rc;

	if (c->n_args != 1)
		return usage();
	if (split_at(c->args[0], path, sizeof path, &version, err))
		return 1;
	if (store_check_version_id(version, NULL) == 0) {
		snprintf(at, sizeof at, "%s", version);
	} else {
		if (*version)
			branch = version;
		else if (store_checkout_get(s, path, &co, NULL) == 0)
			branch = json_string_value(json_object_get(co, "branch"));
		rc = store_branch_head(s, path, branch, at, err);
		json_decref(co);
		if (rc)
			return 1;
	}
	snprintf(who, sizeof who, "local:%s", pw ? pw->pw_name : "?");
	rc = store_publish(s, &(store_publication_t){ .path = path, .version = at,
			   .published_by = who, .message = c->message }, &pub, err);
	if (rc == 0) {
		audit_publication(c, who, pub);
		printf("%s %s %s\n", json_string_value(json_object_get(pub, "id")), path, at);
	}
	json_decref(pub);
	return rc ? 1 : 0;
}

static int cmd_publications(store_t *s, const cli_t *c, err_t *err)
{
	json_t *list = NULL, *p;
	size_t i;

	if (c->n_args > 1)
		return usage();
	if (store_publications_list(s, c->n_args ? c->args[0] : NULL, 0, &list, err))
		return 1;
	if (c->is_json)
		print_json(list);
	else
		json_array_foreach(list, i, p)
			printf("%s  %s  %s  %s  by %s%s%s%s%s\n", jstr(p, "id"), jstr(p, "created"),
			       jstr(p, "path"), jstr(p, "version"), jstr(p, "published_by"),
			       *jstr(p, "approved_by") ? ", approved by " : "", jstr(p, "approved_by"),
			       *jstr(p, "message") ? ": " : "", jstr(p, "message"));
	json_decref(list);
	return 0;
}

bool cli_store_is_command(const char *name)
{
	static const char *const names[] = { "log", "export", "import", "branch", "diff",
					      "publish", "publications" };

	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

/* The state directory, as open_store finds it. */
static void state_dir(const cli_t *c, char *out, size_t size)
{
	if (config_state_dir(c->state, out, size))
		out[0] = '\0';
}

/* A stored version's notebook path into out; false when there is none. */
static bool version_path(store_t *s, const char *id, char *out, size_t size)
{
	json_t *info = NULL;
	bool ok = store_version_info(s, id, &info, NULL) == 0 &&
		  json_is_string(json_object_get(info, "path"));

	if (ok)
		snprintf(out, size, "%s", json_string_value(json_object_get(info, "path")));
	json_decref(info);
	return ok;
}

/* With --token: what the command needs, checked before it runs. */
static bool authorized(store_t *s, const cli_t *c, const char *cmd)
{
	char state[4096], path[STORE_MAX_PATH + 1];
	const char *policy = c->policy ? c->policy : getenv("CELLGATE_POLICY");
	policy_resource_t res = { 0 };
	policy_action_t action = POLICY_READ;

	if (!c->token)
		return true;
	state_dir(c, state, sizeof state);
	if (strcmp(cmd, "log") == 0 && c->n_args >= 1) {
		res.path = c->args[0];
		res.branch = c->branch;
	} else if (strcmp(cmd, "import") == 0 && c->n_args >= 1) {
		action = POLICY_WRITE;
		res.path = c->path ? c->path : (strrchr(c->args[0], '/') ? strrchr(c->args[0], '/') + 1
									 : c->args[0]);
		res.branch = c->branch ? c->branch : "main";
	} else if (strcmp(cmd, "branch") == 0 && c->n_args >= 1) {
		res.path = c->args[0];
		if (c->is_delete || c->n_args >= 2) {
			action = POLICY_WRITE;
			res.branch = c->n_args >= 2 ? c->args[1] : NULL;
		}
	} else if (strcmp(cmd, "publish") == 0 && c->n_args == 1) {
		const char *v;

		if (split_at(c->args[0], path, sizeof path, &v, NULL) != 0)
			return true; /* the command says what is wrong */
		res.path = path;
		if (!cli_policy_authorize(state, policy, c->token, cmd, POLICY_PUBLISH, &res))
			return false;
		fprintf(stderr, "cellgate publish: a capability token's publication needs a "
			"person's approval, which only the server asks for: POST "
			"/api/cellgate/publications\n");
		return false;
	} else if (strcmp(cmd, "publications") == 0) {
		res.path = c->n_args ? c->args[0] : "";
	} else if ((strcmp(cmd, "export") == 0 || strcmp(cmd, "diff") == 0) && c->n_args >= 1) {
		/* every version named must be readable; an unknown one fails later */
		for (int i = 0; i < c->n_args; i++) {
			policy_resource_t v = { .path = path };

			if (version_path(s, c->args[i], path, sizeof path) &&
			    !cli_policy_authorize(state, policy, c->token, cmd, POLICY_READ, &v))
				return false;
		}
		return true;
	}
	return cli_policy_authorize(state, policy, c->token, cmd, action, &res);
}

int cli_store_main(int argc, char **argv)
{
	cli_t c = { 0 };
	err_t err = { 0 };
	store_t *s;
	int rc;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage();
			return 0;
		}
	if (parse(&c, argc, argv))
		return usage();
	if (c.limit && strspn(c.limit, "0123456789") != strlen(c.limit)) {
		fprintf(stderr, "cellgate %s: --limit takes a number\n", argv[0]);
		return 2;
	}
	s = open_store(&c, &err);
	if (!s) {
		fprintf(stderr, "cellgate %s: %s\n", argv[0], err.msg);
		return 1;
	}
	if (!authorized(s, &c, argv[0]))
		rc = 3;
	else if (strcmp(argv[0], "log") == 0)
		rc = cmd_log(s, &c, &err);
	else if (strcmp(argv[0], "export") == 0)
		rc = cmd_export(s, &c, &err);
	else if (strcmp(argv[0], "import") == 0)
		rc = cmd_import(s, &c, &err);
	else if (strcmp(argv[0], "branch") == 0)
		rc = cmd_branch(s, &c, &err);
	else if (strcmp(argv[0], "publish") == 0)
		rc = cmd_publish(s, &c, &err);
	else if (strcmp(argv[0], "publications") == 0)
		rc = cmd_publications(s, &c, &err);
	else
		rc = cmd_diff(s, &c, &err);
	if (rc == 1)
		fprintf(stderr, "cellgate %s: %s\n", argv[0], err.msg[0] ? err.msg : "failed");
	store_close(&s);
	return rc;
}
