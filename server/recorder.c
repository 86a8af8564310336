/*
 * The execution recorder (see recorder.h).
 *
 * Per kernel it keeps the kernel session (a new one at every launch: a
 * restart starts a new chain), the last execution that started in it, and
 * the executions in flight. An execution joins the chain when the kernel
 * says it started it (busy or execute_input with its msg_id), so the chain
 * is the order the kernel ran them in, whichever clients sent them.
 */
#include "recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/buf.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../notebook-store/records.h"
#include "app.h"
#include "egress_broker.h"
#include "sessions.h"

extern char **environ;

/* Finished records wait this long, or until there are this many, before a
 * batch goes to the worker: one transaction (and one fsync) for many. */
#define BATCH_DELAY_MS 200
#define BATCH_MAX 256
/* A save waits this long at most for records of its notebook that are
 * done but for their reply, before its outputs are linked. */
#define LINK_WAIT_S 10.0

/* What one record may keep of a kernel's output; past it, outputs are cut. */
#define MAX_RECORD_OUTPUT ((size_t)64 << 20)
#define MAX_CODE ((size_t)64 << 20)
/* Effect decisions one record keeps; past it, effects_truncated. */
#define MAX_EFFECTS 1024

typedef struct pending {
	char msg_id[128];
	char id[UUID_HEX_LEN];
	json_t *rec;            /* the record as it grows */
	json_t *outputs;
	json_t *displays;       /* display_id -> [output indices] */
	size_t output_bytes;
	bool clear_wait;
	bool has_reply, has_idle, has_started;
	char limit[96];         /* the cell quota it passed: its status is timeout */
	char idle_at[ISO_TIME_LEN];  /* the kernel's last output came before this */
	struct pending *next;
} pending_t;

typedef struct ktrack {
	kernel_t *k;
	char session[UUID_HEX_LEN];
	char last[UUID_HEX_LEN]; /* the last execution started in this session */
	json_t *info;            /* the kernel session, as records_write takes it */
	pending_t *pending;
	struct ktrack *next;
} ktrack_t;

typedef struct writer {
	uv_mutex_t lock;          /* the store connection and the env cache */
	uv_cond_t done;           /* signalled when the worker's batch is written */
	bool is_batch_done;
	store_t *store;
	char path[4096];
	json_t *env_cache;        /* command line -> environment */
} writer_t;

struct recorder {
	app_t *app;
	ktrack_t *kernels;
	json_t *queue;            /* finished records not yet handed to the worker */
	json_t *batch;            /* in the worker's hands */
	int batch_rc;
	json_t *links;            /* versions to link, after the records before them */
	json_t *batch_links;
	uv_work_t work;
	bool is_busy;
	uv_timer_t *delay;        /* its own allocation: it outlives the recorder while closing */
	writer_t w;
	size_t recorded, failed;
	uint64_t observe_ns;      /* time spent in the relay's path, for the bench */
	uint64_t observed;        /* messages seen there */
};

/* --- environments (worker thread) ------------------------------------------ */

/* Runs argv (no shell), its stdout into out (bounded); 0 when it exited 0. */
static int run_capture(char *const argv[], buf_t *out)
{
	posix_spawn_file_actions_t fa;
	int fds[2], status = 0;
	pid_t pid;
	char chunk[4096];
	ssize_t n;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	while ((n = read(fds[0], chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && buf_append(out, chunk, (size_t)n))
			break;
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int file_sha256(const char *path, char out[STORE_HASH_LEN])
{
	FILE *fp = fopen(path, "rb");
	buf_t b;
	char chunk[65536];
	size_t n;

	if (!fp)
		return -1;
	buf_init(&b, (size_t)512 << 20);
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
		if (buf_append(&b, chunk, n))
			break;
	fclose(fp);
	store_sha256_hex(b.data ? b.data : "", b.len, out);
	buf_free(&b);
	return 0;
}

/* The package owning path ("" when dpkg knows none). */
static void dpkg_owner(const char *path, char *out, size_t size)
{
	char *argv[] = { "/usr/bin/dpkg", "-S", (char *)path, NULL };
	buf_t b;
	char *colon;

	out[0] = '\0';
	buf_init(&b, 1 << 20);
	if (run_capture(argv, &b) == 0 && b.data && (colon = strstr(b.data, ": "))) {
		char *comma = strchr(b.data, ',');

		*colon = '\0';
		if (comma && comma < colon)
			*comma = '\0';
		/* "python3.11-minimal:amd64" -> the package name */
		if ((colon = strchr(b.data, ':')))
			*colon = '\0';
		snprintf(out, size, "%s", b.data);
	}
	buf_free(&b);
}

/* Where a Python "-m module" lives, as the interpreter would find it. */
static char *python_module_file(const char *module)
{
	static const char *const dirs[] = {
		"/usr/local/lib/python3*/dist-packages", "/usr/lib/python3/dist-packages",
		"/usr/lib/python3.*", NULL,
	};
	char pat[PATH_MAX];
	char *found = NULL;

	if (strchr(module, '/') || strstr(module, ".."))
		return NULL;
	for (int i = 0; dirs[i] && !found; i++) {
		for (int form = 0; form < 2 && !found; form++) {
			glob_t g;
			char rel[512];

			snprintf(rel, sizeof rel, "%s", module);
			for (char *p = rel; *p; p++)
				if (*p == '.')
					*p = '/';
			snprintf(pat, sizeof pat, "%s/%s%s", dirs[i], rel, form ? "/__init__.py" : ".py");
			if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0)
				found = realpath(g.gl_pathv[0], NULL);
			globfree(&g);
		}
	}
	return found;
}

static void add_file(json_t *files, json_t *owners, const char *path)
{
	char sha[STORE_HASH_LEN], pkg[256];
	char *real = realpath(path, NULL);

	if (!real || file_sha256(real, sha) != 0) {
		free(real);
		return;
	}
	dpkg_owner(real, pkg, sizeof pkg);
	json_array_append_new(files, json_pack("{s:s, s:s, s:s*}", "path", real, "sha256", sha,
					       "package", pkg[0] ? pkg : NULL));
	if (pkg[0])
		json_object_set_new(owners, pkg, json_true());
	free(real);
}

/* "a (>= 1), b | c, d:any" -> a, b, d */
static void add_depends(json_t *names, const char *deps)
{
	const char *p = deps;

	while (p && *p) {
		size_t n;
		char name[256];

		while (*p == ' ' || *p == ',')
			p++;
		n = strcspn(p, " ,:|(");
		if (n > 0 && n < sizeof name) {
			memcpy(name, p, n);
			name[n] = '\0';
			json_object_set_new(names, name, json_true());
		}
		p = strchr(p, ',');
	}
}

/* name -> version for the given packages (and, with deps, what they depend on). */
static void dpkg_versions(json_t *names, json_t *out, json_t *deps_out)
{
	size_t n = json_object_size(names), i = 3;
	char **argv = calloc(n + 4, sizeof *argv);
	const char *key;
	json_t *v;
	buf_t b;

	if (!argv || n == 0) {
		free(argv);
		return;
	}
	argv[0] = "/usr/bin/dpkg-query";
	argv[1] = "-W";
	argv[2] = "-f=${Package}\t${Version}\t${Depends}\n";
	json_object_foreach(names, key, v)
		argv[i++] = (char *)key;
	buf_init(&b, 8 << 20);
	/* dpkg-query fails when one name is unknown, yet prints the others */
	run_capture(argv, &b);
	for (char *line = b.data, *next; line && *line; line = next) {
		char *t1, *t2;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		t1 = strchr(line, '\t');
		t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2)
			continue;
		*t1 = *t2 = '\0';
		if (t1[1])
			json_object_set_new(out, line, json_string(t1 + 1));
		if (deps_out)
			add_depends(deps_out, t2 + 1);
	}
	buf_free(&b);
	free(argv);
}

json_t *recorder_environment(char *const *argv)
{
	json_t *files = json_array(), *owners = json_object(), *deps = json_object();
	json_t *packages = json_object(), *dep_versions = json_object();

	if (argv && argv[0]) {
		add_file(files, owners, argv[0]);
		for (size_t i = 1; argv[i]; i++) {
			if (strcmp(argv[i], "-m") == 0 && argv[i + 1]) {
				char *f = python_module_file(argv[i + 1]);

				if (f)
					add_file(files, owners, f);
				free(f);
				i++;
			} else if (argv[i][0] == '/' && access(argv[i], R_OK) == 0 &&
				   strncmp(argv[i], SBX_KERNEL_DIR, strlen(SBX_KERNEL_DIR)) != 0) {
				add_file(files, owners, argv[i]);
			}
		}
	}
	dpkg_versions(owners, packages, deps);
	dpkg_versions(deps, dep_versions, NULL);
	json_object_update_missing(packages, dep_versions);
	json_decref(owners);
	json_decref(deps);
	json_decref(dep_versions);
	return json_pack("{s:s, s:o, s:o}", "source", "dpkg", "files", files, "packages", packages);
}

/* --- writing (worker thread, or the loop in recorder_flush) ----------------- */

static void fill_environments(writer_t *w, json_t *batch)
{
	json_t *rec;
	size_t i;

	json_array_foreach(batch, i, rec) {
		json_t *session = json_object_get(rec, "session"), *argv = json_object_get(session, "argv");
		char *key = json_dumps(argv, JSON_COMPACT);
		json_t *env;

		if (!key)
			continue;
		env = json_object_get(w->env_cache, key);
		if (!env) {
			size_t n = json_array_size(argv), j;
			char **v = calloc(n + 1, sizeof *v);

			for (j = 0; v && j < n; j++)
				v[j] = (char *)json_string_value(json_array_get(argv, j));
			env = recorder_environment(v);
			free(v);
			json_object_set_new(w->env_cache, key, env);
		}
		json_object_set(session, "environment", env);
		free(key);
	}
}

/* Called with w->lock held. */
static int write_batch(writer_t *w, json_t *batch, err_t *err)
{
	if (!w->store && !(w->store = store_open(w->path, err)))
		return err->code ? err->code : CG_ESYS;
	fill_environments(w, batch);
	return records_write(w->store, batch, err);
}

/* Links saved versions to their executions (worker thread; a failure is
 * made good when the version's provenance is first read). */
static void link_versions(writer_t *w, const json_t *versions)
{
	const json_t *v;
	size_t i;

	json_array_foreach(versions, i, v) {
		err_t err = { 0 };

		if (!w->store)
			break;
		if (records_link_version(w->store, json_string_value(v), &err))
			log_warn("recorder", "version %s not linked yet: %s", json_string_value(v), err.msg);
	}
}

static void work_cb(uv_work_t *req)
{
	recorder_t *r = req->data;
	err_t err = { 0 };

	uv_mutex_lock(&r->w.lock);
	r->batch_rc = write_batch(&r->w, r->batch, &err);
	if (r->batch_rc)
		log_error("recorder", "%zu execution records were not kept: %s",
			  json_array_size(r->batch), err.msg);
	link_versions(&r->w, r->batch_links);
	r->w.is_batch_done = true;
	uv_cond_signal(&r->w.done);
	uv_mutex_unlock(&r->w.lock);
}

static void count_batch(recorder_t *r)
{
	if (r->batch_rc)
		r->failed += json_array_size(r->batch);
	else
		r->recorded += json_array_size(r->batch);
}

static void kick(recorder_t *r);
static bool path_settling(const recorder_t *r, const char *path);

static void after_work_cb(uv_work_t *req, int status)
{
	recorder_t *r = req->data;

	(void)status;
	count_batch(r);
	json_decref(r->batch);
	json_decref(r->batch_links);
	r->batch = r->batch_links = NULL;
	r->is_busy = false;
	kick(r);
}

static void on_delay(uv_timer_t *t)
{
	recorder_t *r = t->data;

	if (r)
		kick(r);
}

/* A batch goes when it is large, or when the delay has passed. */
static void schedule(recorder_t *r)
{
	if (json_array_size(r->queue) >= BATCH_MAX || !r->delay) {
		kick(r);
		return;
	}
	if (!uv_is_active((uv_handle_t *)r->delay))
		uv_timer_start(r->delay, on_delay, BATCH_DELAY_MS, 0);
}

/* Whether an execution of the notebook at path has produced all its
 * output (idle) but is still waiting for its reply: a save made in that
 * moment holds its outputs, and its record is about to come. */
bool recorder_is_settling(const recorder_t *r, const char *path)
{
	return r && path_settling(r, path);
}

static bool path_settling(const recorder_t *r, const char *path)
{
	for (const ktrack_t *t = r->kernels; t; t = t->next)
		for (const pending_t *p = t->pending; p; p = p->next)
			if (p->has_idle && strcmp(json_string_value(json_object_get(p->rec, "path")) ?: "", path) == 0)
				return true;
	return false;
}

/* The link requests that may go now; the others stay (at most LINK_WAIT_S). */
static json_t *ready_links(recorder_t *r)
{
	json_t *ready = json_array(), *keep = json_array(), *l;
	double now = util_unix_time();
	size_t i;

	json_array_foreach(r->links, i, l) {
		bool wait = path_settling(r, json_string_value(json_object_get(l, "path"))) &&
			    now - json_number_value(json_object_get(l, "since")) < LINK_WAIT_S;

		if (wait)
			json_array_append(keep, l);
		else
			json_array_append(ready, json_object_get(l, "version"));
	}
	json_decref(r->links);
	r->links = keep;
	return ready;
}

static void kick(recorder_t *r)
{
	if (r->delay)
		uv_timer_stop(r->delay);
	if (r->is_busy)
		return;
	r->batch_links = ready_links(r);
	if (json_array_size(r->links) && r->delay && !uv_is_active((uv_handle_t *)r->delay))
		uv_timer_start(r->delay, on_delay, BATCH_DELAY_MS, 0);  /* look again */
	if (json_array_size(r->queue) == 0 && json_array_size(r->batch_links) == 0) {
		json_decref(r->batch_links);
		r->batch_links = NULL;
		return;
	}
	r->batch = r->queue;
	r->queue = json_array();
	r->is_busy = true;
	r->w.is_batch_done = false;
	r->work.data = r;
	if (uv_queue_work(r->app->loop, &r->work, work_cb, after_work_cb) != 0) {
		/* no worker: write here rather than lose them */
		r->is_busy = false;
		work_cb(&r->work);
		count_batch(r);
		json_decref(r->batch);
		json_decref(r->batch_links);
		r->batch = r->batch_links = NULL;
	}
}

void recorder_link_later(recorder_t *r, const char *path, const char *version_id)
{
	json_array_append_new(r->links, json_pack("{s:s, s:s, s:f}", "version", version_id, "path",
						  path, "since", util_unix_time()));
	kick(r);
}

void recorder_flush(recorder_t *r)
{
	err_t err = { 0 };
	json_t *batch;

	if (!r)
		return;
	uv_mutex_lock(&r->w.lock);
	/* the batch in the worker's hands goes first (it may not have started) */
	while (r->is_busy && !r->w.is_batch_done)
		uv_cond_wait(&r->w.done, &r->w.lock);
	if (json_array_size(r->queue) == 0) {
		uv_mutex_unlock(&r->w.lock);
		return;
	}
	batch = r->queue;
	r->queue = json_array();
	if (write_batch(&r->w, batch, &err)) {
		log_error("recorder", "%zu execution records were not kept: %s",
			  json_array_size(batch), err.msg);
		r->failed += json_array_size(batch);
	} else {
		r->recorded += json_array_size(batch);
	}
	uv_mutex_unlock(&r->w.lock);
	json_decref(batch);
}

/* --- outputs ---------------------------------------------------------------- */

static void clear_outputs(json_t *outputs)
{
	json_array_clear(outputs);
}

static json_t *bundle(const json_t *content, const char *key)
{
	json_t *v = json_object_get(content, key);

	return json_is_object(v) ? json_deep_copy(v) : json_object();
}

bool recorder_add_output(json_t *outputs, const char *msg_type, const json_t *content,
			 bool *clear_wait)
{
	json_t *out = NULL;

	if (strcmp(msg_type, "clear_output") == 0) {
		if (json_is_true(json_object_get(content, "wait")))
			*clear_wait = true;
		else
			clear_outputs(outputs);
		return true;
	}
	if (strcmp(msg_type, "stream") == 0) {
		const char *name = json_string_value(json_object_get(content, "name"));
		const char *text = json_string_value(json_object_get(content, "text"));
		json_t *last;

		if (!name || !text)
			return false;
		if (*clear_wait) {
			clear_outputs(outputs);
			*clear_wait = false;
		}
		last = json_array_get(outputs, json_array_size(outputs) - 1);
		if (last && strcmp(json_string_value(json_object_get(last, "output_type")) ?: "", "stream") == 0 &&
		    strcmp(json_string_value(json_object_get(last, "name")) ?: "", name) == 0) {
			const char *old = json_string_value(json_object_get(last, "text"));
			size_t a = strlen(old ? old : ""), b = strlen(text);
			char *joined = malloc(a + b + 1);

			if (joined) {
				memcpy(joined, old ? old : "", a);
				memcpy(joined + a, text, b + 1);
				json_object_set_new(last, "text", json_string(joined));
				free(joined);
			}
			return true;
		}
		out = json_pack("{s:s, s:s, s:s}", "output_type", "stream", "name", name, "text", text);
	} else if (strcmp(msg_type, "display_data") == 0) {
		out = json_pack("{s:s, s:o, s:o}", "output_type", "display_data", "data",
				bundle(content, "data"), "metadata", bundle(content, "metadata"));
	} else if (strcmp(msg_type, "execute_result") == 0) {
		json_t *ec = json_object_get(content, "execution_count");

		out = json_pack("{s:s, s:o, s:o, s:O}", "output_type", "execute_result", "data",
				bundle(content, "data"), "metadata", bundle(content, "metadata"),
				"execution_count", json_is_integer(ec) ? ec : json_null());
	} else if (strcmp(msg_type, "error") == 0) {
		json_t *tb = json_object_get(content, "traceback");

		out = json_pack("{s:s, s:s, s:s, s:O}", "output_type", "error",
				"ename", json_string_value(json_object_get(content, "ename")) ?: "",
				"evalue", json_string_value(json_object_get(content, "evalue")) ?: "",
				"traceback", json_is_array(tb) ? tb : json_array());
		if (json_is_array(tb))
			; /* kept as sent */
		else
			json_object_set_new(out, "traceback", json_array());
	} else if (strcmp(msg_type, "update_display_data") == 0) {
		const char *did = json_string_value(json_object_get(json_object_get(content, "transient"),
								    "display_id"));
		json_t *o;
		size_t i;

		if (!did)
			return true;
		json_array_foreach(outputs, i, o) {
			json_t *t = json_object_get(o, "__display_id");

			if (t && strcmp(json_string_value(t), did) == 0) {
				json_object_set_new(o, "data", bundle(content, "data"));
				json_object_set_new(o, "metadata", bundle(content, "metadata"));
			}
		}
		return true;
	} else {
		return false;
	}
	if (!out)
		return false;
	if (*clear_wait) {
		clear_outputs(outputs);
		*clear_wait = false;
	}
	{
		const char *did = json_string_value(json_object_get(json_object_get(content, "transient"),
								    "display_id"));

		/* remembered for update_display_data, dropped before the record is kept */
		if (did)
			json_object_set_new(out, "__display_id", json_string(did));
	}
	json_array_append_new(outputs, out);
	return true;
}

static void strip_display_ids(json_t *outputs)
{
	json_t *o;
	size_t i;

	json_array_foreach(outputs, i, o)
		json_object_del(o, "__display_id");
}

/* --- tracking kernels and executions --------------------------------------- */

static ktrack_t *track_find(recorder_t *r, const kernel_t *k)
{
	for (ktrack_t *t = r->kernels; t; t = t->next)
		if (t->k == k)
			return t;
	return NULL;
}

static json_t *session_info(kernel_t *k, const char *sid)
{
	const kspec_t *spec = kernel_spec(k);
	char **argv = kernel_command(k), now[ISO_TIME_LEN];
	json_t *jargv = json_array(), *model = kernel_model(k), *limits;
	const char *klass = kernel_sandbox_class(k);

	for (size_t i = 0; argv && argv[i]; i++) {
		json_array_append_new(jargv, json_string(argv[i]));
		free(argv[i]);
	}
	free(argv);
	/* the limits the sandbox got, each with the mechanism enforcing it */
	limits = json_incref(json_object_get(model, "limits"));
	json_decref(model);
	if (limits)
		json_object_del(limits, "cpu_used_seconds");
	util_iso_time_now(now);
	return json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:o, s:{s:s, s:s, s:o, s:s}, s:s}",
		"id", sid, "kernel_id", kernel_id(k), "kernelspec", spec->name,
		"display_name", spec->display_name, "language", spec->language, "argv", jargv,
		"sandbox", "class", klass, "backend", "bubblewrap",
		"limits", limits ? limits : json_object(),
		"workspace", strcmp(klass, "replay") == 0 ? "read-only snapshot" : "read-write",
		"started", now);
}

static void new_session(ktrack_t *t)
{
	util_uuid4_hex(t->session);
	t->last[0] = '\0';
	json_decref(t->info);
	t->info = session_info(t->k, t->session);
}

static ktrack_t *track_get(recorder_t *r, kernel_t *k)
{
	ktrack_t *t = track_find(r, k);

	if (t)
		return t;
	t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->k = k;
	new_session(t);
	t->next = r->kernels;
	r->kernels = t;
	return t;
}

static void pending_free(pending_t *p)
{
	json_decref(p->rec);
	json_decref(p->outputs);
	json_decref(p->displays);
	free(p);
}

/* The record is complete: off the in-flight list, onto the write queue. */
static void finish(recorder_t *r, ktrack_t *t, pending_t *p, const char *status, const char *why)
{
	char now[ISO_TIME_LEN];

	for (pending_t **pp = &t->pending; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	util_iso_time_now(now);
	if (status)
		json_object_set_new(p->rec, "status", json_string(status));
	if (why)
		json_object_set_new(p->rec, "reason", json_string(why));
	/* interrupted, or stopped, by the per-cell CPU quota: a timeout */
	if (p->limit[0] && strcmp(json_string_value(json_object_get(p->rec, "status")) ?: "ok", "ok") != 0) {
		json_object_set_new(p->rec, "status", json_string("timeout"));
		json_object_set_new(p->rec, "reason", json_string(p->limit));
	}
	if (!json_object_get(p->rec, "started"))  /* a denied request keeps null */
		json_object_set_new(p->rec, "started", json_string(now));
	/* ended when its outputs were complete (idle), which a client may see,
	 * and save, before the reply reaches us on the other socket */
	json_object_set_new(p->rec, "ended", json_string(p->has_idle ? p->idle_at : now));
	strip_display_ids(p->outputs);
	json_object_set(p->rec, "outputs", p->outputs);
	json_object_set(p->rec, "session", t->info);
	json_array_append(r->queue, p->rec);
	pending_free(p);
	schedule(r);
}

static const char *notebook_path(recorder_t *r, const kernel_t *k)
{
	sessions_t *all = r->app->sessions;

	for (session_t *s = all ? sessions_next(all, NULL) : NULL; s; s = sessions_next(all, s))
		if (strcmp(session_kernel_id(s), kernel_id(k)) == 0)
			return session_path(s);
	return "";
}

static pending_t *pending_new(recorder_t *r, ktrack_t *t, kernel_t *k, const kclient_t *c,
			      const wire_msg_t *msg);
static pending_t *busy_execution(ktrack_t *t);

static void on_request(void *ctx, kernel_t *k, const kclient_t *c, kchannel_t ch,
		       const wire_msg_t *msg)
{
	recorder_t *r = ctx;
	ktrack_t *t;
	pending_t *p;

	if (ch != KCH_SHELL || strcmp(msg->msg_type, "execute_request") != 0)
		return;
	if (!(t = track_get(r, k)) || !(p = pending_new(r, t, k, c, msg)))
		return;
	p->next = t->pending;
	t->pending = p;
}

/* A record for an execute_request, not yet in flight. */
static pending_t *pending_new(recorder_t *r, ktrack_t *t, kernel_t *k, const kclient_t *c,
			      const wire_msg_t *msg)
{
	json_t *content, *meta;
	const char *code, *cell_id;
	char now[ISO_TIME_LEN];
	pending_t *p;

	if (!(p = calloc(1, sizeof *p)))
		return NULL;
	content = json_loadb(msg->content.data, msg->content.len, 0, NULL);
	meta = json_loadb(msg->metadata.data, msg->metadata.len, 0, NULL);
	code = json_string_value(json_object_get(content, "code"));
	cell_id = json_string_value(json_object_get(meta, "cellId"));
	if (!cell_id)
		cell_id = json_string_value(json_object_get(meta, "cell_id"));
	util_iso_time_now(now);
	snprintf(p->msg_id, sizeof p->msg_id, "%s", msg->msg_id);
	util_uuid4_hex(p->id);
	p->outputs = json_array();
	p->displays = json_object();
	p->rec = json_pack("{s:s, s:s, s:n, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:n, s:[ssss]}",
		"id", p->id, "kernel_session", t->session, "previous",
		"principal", kclient_principal(c)[0] ? kclient_principal(c) : "token",
		"path", notebook_path(r, k), "cell_id", cell_id && strlen(cell_id) < 256 ? cell_id : "",
		"code", code && strlen(code) < MAX_CODE ? code : "",
		"msg_id", msg->msg_id, "silent", json_is_true(json_object_get(content, "silent")),
		"requested", now, "execution_count",
		"kernel_claims", "execution_count", "status", "outputs", "started");
	if (p->rec)
		json_object_set_new(p->rec, "effects", json_array());
	json_decref(content);
	json_decref(meta);
	if (!p->rec) {
		pending_free(p);
		return NULL;
	}
	return p;
}

bool recorder_cell_id(const recorder_t *r, const kernel_t *k, const char *msg_id, char *out,
		      size_t size)
{
	ktrack_t *t = r && msg_id && *msg_id ? track_find((recorder_t *)r, k) : NULL;
	const char *cell;

	for (pending_t *p = t ? t->pending : NULL; p; p = p->next) {
		if (strcmp(p->msg_id, msg_id) != 0)
			continue;
		cell = json_string_value(json_object_get(p->rec, "cell_id"));
		if (!cell || !*cell)
			return false;
		snprintf(out, size, "%s", cell);
		return true;
	}
	return false;
}

bool recorder_running_msg_id(const recorder_t *r, const kernel_t *k, char *out, size_t size)
{
	ktrack_t *t = r ? track_find((recorder_t *)r, k) : NULL;
	const pending_t *oldest = NULL;

	/* newest first: the last one without a reply is the oldest */
	for (pending_t *p = t ? t->pending : NULL; p; p = p->next)
		if (!p->has_reply)
			oldest = p;
	if (!oldest)
		return false;
	snprintf(out, size, "%s", oldest->msg_id);
	return true;
}

void recorder_denied(recorder_t *r, kernel_t *k, const kclient_t *c, const wire_msg_t *msg,
		     const char *why)
{
	ktrack_t *t;
	pending_t *p;

	if (!r || !k || strcmp(msg->msg_type, "execute_request") != 0 || !(t = track_get(r, k)) ||
	    !(p = pending_new(r, t, k, c, msg)))
		return;
	/* it never reached the kernel: nothing in it is the kernel's word */
	json_object_set_new(p->rec, "kernel_claims", json_array());
	json_object_set_new(p->rec, "started", json_null());
	finish(r, t, p, "denied", why);
}

static pending_t *pending_for(ktrack_t *t, const char *parent)
{
	for (pending_t *p = t->pending; p; p = p->next)
		if (strcmp(p->msg_id, parent) == 0)
			return p;
	return NULL;
}

/* The kernel started this execution: it joins the chain. */
static void started(ktrack_t *t, pending_t *p)
{
	char now[ISO_TIME_LEN];

	if (p->has_started)
		return;
	p->has_started = true;
	util_iso_time_now(now);
	json_object_set_new(p->rec, "started", json_string(now));
	json_object_set_new(p->rec, "previous", t->last[0] ? json_string(t->last) : json_null());
	memcpy(t->last, p->id, sizeof t->last);
}

static void on_reply(recorder_t *r, ktrack_t *t, pending_t *p, const json_t *content)
{
	const char *status = json_string_value(json_object_get(content, "status"));
	const char *ename = json_string_value(json_object_get(content, "ename"));
	json_t *ec = json_object_get(content, "execution_count");

	p->has_reply = true;
	if (json_is_integer(ec))
		json_object_set(p->rec, "execution_count", ec);
	if (!status)
		status = "error";
	if (strcmp(status, "error") == 0 && ename && strcmp(ename, "KeyboardInterrupt") == 0)
		status = "interrupted";
	json_object_set_new(p->rec, "status", json_string(status));
	if (ename)
		json_object_set_new(p->rec, "error", json_pack("{s:s, s:s}", "ename", ename, "evalue",
			json_string_value(json_object_get(content, "evalue")) ?: ""));
	/* an aborted request never ran: no idle of its own to wait for */
	if (strcmp(status, "aborted") == 0 || p->has_idle)
		finish(r, t, p, NULL, NULL);
}

static void on_kernel_msg(void *ctx, kernel_t *k, kchannel_t ch, const wire_msg_t *msg)
{
	recorder_t *r = ctx;
	ktrack_t *t = track_find(r, k);
	pending_t *p;
	json_t *content;

	/* the common case, a kernel with nothing in flight, ends here */
	if (!t || !t->pending || !msg->parent_msg_id[0] || !(p = pending_for(t, msg->parent_msg_id)))
		return;
	if (ch == KCH_SHELL) {
		if (strcmp(msg->msg_type, "execute_reply") != 0)
			return;
		content = json_loadb(msg->content.data, msg->content.len, 0, NULL);
		on_reply(r, t, p, content);
		json_decref(content);
		return;
	}
	if (strcmp(msg->msg_type, "status") == 0) {
		/* "busy" or "idle" without parsing: the content is small and ours to search */
		if (memmem(msg->content.data, msg->content.len, "\"busy\"", 6)) {
			started(t, p);
		} else if (memmem(msg->content.data, msg->content.len, "\"idle\"", 6)) {
			p->has_idle = true;
			util_iso_time_now(p->idle_at);
			if (p->has_reply)
				finish(r, t, p, NULL, NULL);
		}
		return;
	}
	if (strcmp(msg->msg_type, "execute_input") == 0) {
		started(t, p);
		return;
	}
	if (p->output_bytes + msg->content.len > MAX_RECORD_OUTPUT) {
		json_object_set_new(p->rec, "outputs_truncated", json_true());
		return;
	}
	content = json_loadb(msg->content.data, msg->content.len, 0, NULL);
	if (content && recorder_add_output(p->outputs, msg->msg_type, content, &p->clear_wait))
		p->output_bytes += msg->content.len;
	json_decref(content);
}

static void on_event(void *ctx, kernel_t *k, kevent_t ev, const char *reason)
{
	recorder_t *r = ctx;
	ktrack_t *t = track_find(r, k);

	if (ev == KEV_LAUNCHED) {
		if (t)
			new_session(t);
		else
			track_get(r, k);
		return;
	}
	if (!t)
		return;
	if (ev == KEV_CELL_LIMIT) {
		pending_t *p = busy_execution(t);

		if (p)
			snprintf(p->limit, sizeof p->limit, "%s", reason ? reason : "cell cpu time limit");
		return;
	}
	while (t->pending)
		finish(r, t, t->pending, "kernel_died", reason ? reason : "the kernel ended");
	if (ev == KEV_GONE) {
		for (ktrack_t **pp = &r->kernels; *pp; pp = &(*pp)->next)
			if (*pp == t) {
				*pp = t->next;
				break;
			}
		json_decref(t->info);
		free(t);
	}
}

/* --- effects ------------------------------------------------------------------ */

/* The execution the kernel is running now: the oldest in flight that has
 * not gone idle. Not "started" alone: a kernel runs its requests in order,
 * and the busy status (on IOPub) may reach the loop after the egress
 * broker has heard from the same cell on its own socket. The list is
 * newest first. */
static pending_t *busy_execution(ktrack_t *t)
{
	pending_t *found = NULL;

	for (pending_t *p = t->pending; p; p = p->next)
		if (!p->has_idle && !p->has_reply)
			found = p;
	return found;
}

/* The egress broker decided a connection of kernel kid: the effect goes in
 * the execution running in it. A decision made while none runs (a thread
 * the kernel left behind) stays in the broker's list only. */
static void on_effect(void *ctx, const char *kid, const json_t *d)
{
	recorder_t *r = ctx;
	const char *host = json_string_value(json_object_get(d, "host")) ?: "";
	const char *effect = json_string_value(json_object_get(d, "effect")) ?: "";
	char dest[300];
	json_t *effects;
	pending_t *p = NULL;

	for (ktrack_t *t = r->kernels; t && !p; t = t->next)
		if (strcmp(kernel_id(t->k), kid) == 0)
			p = busy_execution(t);
	if (!p)
		return;
	snprintf(dest, sizeof dest, strchr(host, ':') ? "[%s]:%lld" : "%s:%lld", host,
		 (long long)json_integer_value(json_object_get(d, "port")));
	if (!(effects = json_object_get(p->rec, "effects"))) {
		effects = json_array();
		json_object_set_new(p->rec, "effects", effects);
	}
	if (json_array_size(effects) >= MAX_EFFECTS) {
		json_object_set_new(p->rec, "effects_truncated", json_true());
		return;
	}
	/* a secret's read: its name, never its value (the broker has no other) */
	if (strncmp(effect, "secret ", 7) == 0) {
		json_array_append_new(effects, json_pack("{s:s, s:s, s:s?, s:O, s:O, s:O, s:O, s:s}",
			"effect", "secret", "name", effect + 7, "method",
			json_string_value(json_object_get(d, "method")), "decision",
			json_object_get(d, "decision"), "rule", json_object_get(d, "rule") ?: json_null(),
			"reason", json_object_get(d, "reason") ?: json_null(), "at",
			json_object_get(d, "time") ?: json_null(), "decided_by", "policy"));
		return;
	}
	json_array_append_new(effects, json_pack("{s:s, s:s, s:s?, s:O, s:O, s:O, s:O, s:s}",
		"effect", "network", "destination", dest, "method", json_string_value(json_object_get(d, "method")),
		"decision", json_object_get(d, "decision"), "rule", json_object_get(d, "rule") ?: json_null(),
		"reason", json_object_get(d, "reason") ?: json_null(), "at", json_object_get(d, "time") ?: json_null(),
		"decided_by", "policy"));
}

/* The relay-path callbacks, timed: what recording costs the relay. */
static void timed_request(void *ctx, kernel_t *k, const kclient_t *c, kchannel_t ch,
			  const wire_msg_t *msg)
{
	recorder_t *r = ctx;
	uint64_t t0 = util_mono_ns();

	on_request(ctx, k, c, ch, msg);
	r->observe_ns += util_mono_ns() - t0;
	r->observed++;
}

static void timed_kernel_msg(void *ctx, kernel_t *k, kchannel_t ch, const wire_msg_t *msg)
{
	recorder_t *r = ctx;
	uint64_t t0 = util_mono_ns();

	on_kernel_msg(ctx, k, ch, msg);
	r->observe_ns += util_mono_ns() - t0;
	r->observed++;
}

static const kobserver_t observer = { timed_request, timed_kernel_msg, on_event };

/* --- life -------------------------------------------------------------------- */

recorder_t *recorder_new(app_t *app, err_t *err)
{
	recorder_t *r = calloc(1, sizeof *r);

	if (!r || uv_mutex_init(&r->w.lock) != 0 || uv_cond_init(&r->w.done) != 0) {
		free(r);
		err_set(err, CG_ESYS, "out of memory");
		return NULL;
	}
	r->app = app;
	r->queue = json_array();
	r->links = json_array();
	r->delay = malloc(sizeof *r->delay);
	if (r->delay) {
		uv_timer_init(app->loop, r->delay);
		r->delay->data = r;
	}
	r->w.env_cache = json_object();
	if (snprintf(r->w.path, sizeof r->w.path, "%s/store.sqlite", app->cfg.state) >=
	    (int)sizeof r->w.path) {
		recorder_free(&r);
		err_set(err, CG_EINVAL, "the state directory's path is too long");
		return NULL;
	}
	kmgr_set_observer(app->kernels, &observer, r);
	if (app->egress)
		egress_broker_set_observer(app->egress, on_effect, r);
	return r;
}

json_t *recorder_stats(const recorder_t *r)
{
	size_t pending = 0;

	for (const ktrack_t *t = r->kernels; t; t = t->next)
		for (const pending_t *p = t->pending; p; p = p->next)
			pending++;
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "recorded", (json_int_t)r->recorded, "in_flight",
			 (json_int_t)pending, "queued", (json_int_t)json_array_size(r->queue), "failed",
			 (json_int_t)r->failed, "relay_messages", (json_int_t)r->observed,
			 "relay_ns", (json_int_t)r->observe_ns);
}

void recorder_free(recorder_t **self_p)
{
	recorder_t *r = *self_p;

	if (!r)
		return;
	*self_p = NULL;
	if (r->app->kernels)
		kmgr_set_observer(r->app->kernels, NULL, NULL);
	if (r->app->egress)
		egress_broker_set_observer(r->app->egress, NULL, NULL);
	if (r->delay) {
		r->delay->data = NULL;
		uv_close((uv_handle_t *)r->delay, (uv_close_cb)free);
		r->delay = NULL;
	}
	/* the worker's completion runs on the loop; wait for it there */
	for (int i = 0; r->is_busy && i < 1000; i++)
		uv_run(r->app->loop, UV_RUN_ONCE);
	recorder_flush(r);
	while (r->kernels) {
		ktrack_t *t = r->kernels;

		r->kernels = t->next;
		while (t->pending) {
			pending_t *p = t->pending;

			t->pending = p->next;
			pending_free(p);
		}
		json_decref(t->info);
		free(t);
	}
	store_close(&r->w.store);
	json_decref(r->w.env_cache);
	json_decref(r->queue);
	json_decref(r->links);
	json_decref(r->batch);
	json_decref(r->batch_links);
	uv_cond_destroy(&r->w.done);
	uv_mutex_destroy(&r->w.lock);
	free(r);
}
