/*
 * Crash test for the store: a child process saves a notebook in a loop,
 * writes the working-copy file after each save, and reports every
 * acknowledged save (version id and the SHA-256 of the file bytes) on a
 * pipe. The parent SIGKILLs it at random moments, 20 times, each time
 * starting a new child on the same store. Afterwards the store must open,
 * PRAGMA integrity_check must say "ok", every acknowledged version must load
 * with exactly the bytes that were saved, and the working copy must be a
 * valid notebook equal to some version on the branch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../notebook-store/nbformat.h"
#include "../../notebook-store/store.h"

#define ROUNDS 20
#define MAX_DELAY_MS 400
#define NB "crash.ipynb"
#define LINE_LEN (STORE_ID_LEN + STORE_HASH_LEN) /* "<id> <sha256>\n" */
#define MAX_ACKS 100000

static json_t *notebook(int round, int n)
{
	json_t *cells = json_array(), *nb;
	char src[128];

	for (int i = 0; i < 20; i++) {
		snprintf(src, sizeof src, i == 0 ? "# round %d save %d\n" : "x = %d  # %d\n", i == 0 ? round : i,
			 i == 0 ? n : i);
		json_array_append_new(cells, json_pack("{s:s, s:s, s:{}, s:s, s:n, s:[{s:s, s:s, s:s}]}",
			"id", (char[]){ (char)('a' + i), 0 }, "cell_type", "code", "metadata", "source", src,
			"execution_count", "outputs", "output_type", "stream", "name", "stdout", "text",
			i % 3 ? "same output\n" : src));
	}
	nb = json_pack("{s:i, s:i, s:{}, s:o}", "nbformat", 4, "nbformat_minor", 5, "metadata", "cells", cells);
	return nb;
}

/* The child: never returns. Exit status 2-5 says what failed before the kill. */
static void child(const char *db, const char *file, int round, int fd)
{
	err_t err = { 0 };
	store_t *s = store_open(db, &err);
	char id[STORE_ID_LEN], line[LINE_LEN + 1], sha[STORE_HASH_LEN];

	if (!s)
		_exit(2);
	for (int n = 0;; n++) {
		json_t *nb = notebook(round, n);
		buf_t b;

		buf_init(&b, 0);
		if (store_save(s, NB, "main", NULL, nb, "crash-test", "loop", id, &err))
			_exit(3);
		if (nbformat_write(nb, &b) || store_write_file_atomic(file, b.data, b.len, &err))
			_exit(4);
		store_sha256_hex(b.data, b.len, sha);
		snprintf(line, sizeof line, "%s %s\n", id, sha);
		if (write(fd, line, LINE_LEN) != LINE_LEN)  /* < PIPE_BUF: atomic */
			_exit(5);
		buf_free(&b);
		json_decref(nb);
	}
}

static void sha_of_version(store_t *s, const char *id, char out[STORE_HASH_LEN])
{
	json_t *nb = NULL;
	err_t err = { 0 };
	buf_t b;

	if (store_load(s, id, &nb, &err))
		fprintf(stderr, "acknowledged version %s does not load: %s\n", id, err.msg);
	assert_non_null(nb);
	buf_init(&b, 0);
	assert_int_equal(nbformat_write(nb, &b), 0);
	store_sha256_hex(b.data, b.len, out);
	buf_free(&b);
	json_decref(nb);
}

static void test_crash(void **state)
{
	(void)state;
	char dir[] = "/tmp/cg-crash-XXXXXX", db[64], file[64], cmd[96];
	static char acks[MAX_ACKS][LINE_LEN + 1];
	size_t n_acks = 0;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	err_t err = { 0 };
	store_t *s;
	json_t *log = NULL, *v, *nb;
	sqlite3 *c;
	sqlite3_stmt *st;
	size_t i;
	int found = 0;

	fprintf(stderr, "  crash test seed %u\n", seed);
	srand(seed);
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof db, "%s/store.sqlite", dir);
	snprintf(file, sizeof file, "%s/" NB, dir);
	for (int r = 0; r < ROUNDS; r++) {
		int p[2], status;
		pid_t pid;
		char buf[LINE_LEN * 64];
		size_t have = 0;
		ssize_t n;
		struct timespec delay;
		long ms = rand() % MAX_DELAY_MS;

		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			child(db, file, r, p[1]);
		}
		close(p[1]);
		delay.tv_sec = ms / 1000;
		delay.tv_nsec = (ms % 1000) * 1000000L;
		nanosleep(&delay, NULL);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fprintf(stderr, "round %d: child exited with %d before the kill\n", r, WEXITSTATUS(status));
		assert_true(WIFSIGNALED(status));
		/* Every whole line is an acknowledged save; a kill never splits a pipe write. */
		while ((n = read(p[0], buf + have, sizeof buf - have)) > 0 || (n < 0 && errno == EINTR)) {
			if (n < 0)
				continue;
			have += (size_t)n;
			for (i = 0; i + LINE_LEN <= have; i += LINE_LEN) {
				assert_true(n_acks < MAX_ACKS);
				memcpy(acks[n_acks], buf + i, LINE_LEN);
				acks[n_acks][STORE_ID_LEN - 1] = '\0';
				acks[n_acks][LINE_LEN - 1] = '\0';
				n_acks++;
			}
			memmove(buf, buf + i, have - i);
			have -= i;
		}
		assert_int_equal(have, 0);
		close(p[0]);
	}
	fprintf(stderr, "  %d kills, %zu acknowledged saves\n", ROUNDS, n_acks);
	assert_true(n_acks >= ROUNDS);

	s = store_open(db, &err);
	if (!s)
		fprintf(stderr, "reopen: %s\n", err.msg);
	assert_non_null(s);
	assert_int_equal(sqlite3_open(db, &c), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(c, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(c, "PRAGMA foreign_key_check", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(c);
	for (i = 0; i < n_acks; i++) {
		char sha[STORE_HASH_LEN];

		sha_of_version(s, acks[i], sha);
		assert_string_equal(sha, acks[i] + STORE_ID_LEN);
	}
	/* The working copy: a valid notebook, equal to a version on the branch. */
	{
		FILE *fp = fopen(file, "r");
		char *data = NULL, sha[STORE_HASH_LEN];
		size_t len = 0;

		assert_non_null(fp);
		data = malloc(1 << 20);
		len = fread(data, 1, 1 << 20, fp);
		fclose(fp);
		nb = nbformat_read(data, len, &err);
		assert_non_null(nb);
		json_decref(nb);
		store_sha256_hex(data, len, sha);
		free(data);
		assert_int_equal(store_log(s, NB, "main", 0, &log, &err), 0);
		assert_true(json_array_size(log) >= n_acks);
		json_array_foreach(log, i, v) {
			char vsha[STORE_HASH_LEN];

			if (i > 2)  /* the file lags the store by at most the save in flight */
				break;
			sha_of_version(s, json_string_value(json_object_get(v, "id")), vsha);
			found = found || strcmp(vsha, sha) == 0;
		}
		json_decref(log);
		assert_true(found);
	}
	store_close(&s);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash),
	};
	return cmocka_run_group_tests_name("store_crash", tests, NULL, NULL);
}
