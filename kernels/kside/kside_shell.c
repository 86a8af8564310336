/*
 * kside's shell channel: one handler per request type, each wrapped in
 * status busy/idle, as ipykernel does. Execution numbering, history,
 * stop_on_error (aborting what is already queued) live here.
 */
#include "kside_private.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static json_t *parse_content(const wire_msg_t *m)
{
	json_t *c = json_loadb(m->content.data, m->content.len, 0, NULL);

	if (!json_is_object(c)) {
		json_decref(c);
		c = json_object();
	}
	return c;
}

json_t *kside_kernel_info(kside_t *ks)
{
	json_t *info = ks->be->kernel_info ? ks->be->kernel_info(ks->be->ctx) : NULL;

	if (!info)
		info = json_object();
	json_object_set_new(info, "protocol_version", json_string(WIRE_PROTOCOL_VERSION));
	json_object_set_new(info, "status", json_string("ok"));
	return info;
}

void kside_history_clear(kside_t *ks)
{
	for (size_t i = 0; i < ks->n_hist; i++) {
		free(ks->hist[i].input);
		free(ks->hist[i].output);
	}
	free(ks->hist);
	ks->hist = NULL;
	ks->n_hist = 0;
}

static void history_add(kside_t *ks, long line, const char *input, const char *output)
{
	kside_hist_t *h;

	if (ks->n_hist == KSIDE_HISTORY_MAX) {
		free(ks->hist[0].input);
		free(ks->hist[0].output);
		memmove(ks->hist, ks->hist + 1, (ks->n_hist - 1) * sizeof *ks->hist);
		ks->n_hist--;
	}
	h = realloc(ks->hist, (ks->n_hist + 1) * sizeof *h);
	if (!h)
		return;
	ks->hist = h;
	h[ks->n_hist] = (kside_hist_t){ line, strdup(input), output ? strdup(output) : NULL };
	if (h[ks->n_hist].input)
		ks->n_hist++;
}

static json_t *history_entry(const kside_hist_t *h, bool output)
{
	/* Session 1 is this process: the kernel keeps no history across runs. */
	if (output)
		return json_pack("[i, I, [s, s?]]", 1, (json_int_t)h->line, h->input, h->output);
	return json_pack("[i, I, s]", 1, (json_int_t)h->line, h->input);
}

static json_t *history_reply(kside_t *ks, json_t *c)
{
	const char *type = "tail", *pattern = "*";
	int output = 0, unique = 0;
	json_int_t n = 10, start = 0, stop = 0;
	json_t *hist = json_array();

	json_unpack(c, "{s?s, s?b, s?I, s?I, s?I, s?s, s?b}", "hist_access_type", &type,
		    "output", &output, "n", &n, "start", &start, "stop", &stop,
		    "pattern", &pattern, "unique", &unique);
	if (!strcmp(type, "range")) {
		for (size_t i = 0; i < ks->n_hist; i++)
			if (ks->hist[i].line >= start && (stop <= 0 || ks->hist[i].line < stop))
				json_array_append_new(hist, history_entry(&ks->hist[i], output));
	} else {
		bool search = !strcmp(type, "search");
		size_t count = 0;

		/* Newest first, then reverse: "n" counts from the end. */
		for (size_t i = ks->n_hist; i-- > 0 && (n <= 0 || (json_int_t)count < n);) {
			bool dup = false;

			if (search && fnmatch(pattern, ks->hist[i].input, 0))
				continue;
			for (size_t k = 0; unique && k < json_array_size(hist); k++) {
				json_t *e = json_array_get(hist, k);
				json_t *in = json_array_get(e, 2);

				if (json_is_array(in))
					in = json_array_get(in, 0);
				dup = dup || !strcmp(json_string_value(in), ks->hist[i].input);
			}
			if (dup)
				continue;
			json_array_insert_new(hist, 0, history_entry(&ks->hist[i], output));
			count++;
		}
	}
	return json_pack("{s:s, s:o}", "status", "ok", "history", hist);
}

static void reply_aborted(kside_t *ks, wire_msg_t *m)
{
	char type[80];
	const char *t = m->msg_type;
	size_t len = strlen(t);

	if (len > 8 && !strcmp(t + len - 8, "_request"))
		len -= 8;
	snprintf(type, sizeof type, "%.*s_reply", (int)(len < 60 ? len : 60), t);
	kside_publish_status(ks, ks->iopub_push, m, "busy");
	if (!strcmp(t, "execute_request"))
		kside_reply(ks, ks->shell, m, type,
			    json_pack("{s:s, s:I}", "status", "aborted", "execution_count",
				      (json_int_t)ks->execution_count));
	else
		kside_reply(ks, ks->shell, m, type, json_pack("{s:s}", "status", "aborted"));
	kside_publish_status(ks, ks->iopub_push, m, "idle");
}

/* Requests answered "aborted" after one error, at most; more stay queued
 * and run, which only a client flooding the kernel would notice. */
#define ABORT_MAX 256

/*
 * After an error with stop_on_error, what the client had already queued is
 * answered "aborted" without running, as ipykernel does. They are taken off
 * the socket before the failing request's reply goes out: a request sent
 * after the client saw that reply was not queued behind the error and runs.
 */
static size_t take_queued(kside_t *ks, wire_msg_t **out, size_t max)
{
	size_t n = 0;

	while (n < max) {
		zmq_pollitem_t it = { ks->shell, 0, ZMQ_POLLIN, 0 };
		wire_msg_t *m;

		if (zmq_poll(&it, 1, 0) <= 0)
			break;
		m = kside_recv(ks, ks->shell);
		if (m)
			out[n++] = m;
	}
	return n;
}

static void answer_aborted(kside_t *ks, wire_msg_t **queued, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(queued[i]->msg_type, "kernel_info_request"))
			kside_shell_dispatch(ks, queued[i]);
		else
			reply_aborted(ks, queued[i]);
		wire_msg_unref(&queued[i]);
	}
}

/* Runs one execute_request; what was queued behind a failure that stops on
 * error goes into aborted (n_aborted set). */
static void handle_execute(kside_t *ks, wire_msg_t *m, json_t *c, wire_msg_t **aborted,
			   size_t *n_aborted)
{
	const char *code = NULL;
	int silent = 0, store_history = 1, allow_stdin = 1, stop_on_error = 1;
	json_t *reply;
	bool failed;

	if (json_unpack(c, "{s:s, s?b, s?b, s?b, s?b}", "code", &code, "silent", &silent,
			"store_history", &store_history, "allow_stdin", &allow_stdin,
			"stop_on_error", &stop_on_error)) {
		kside_reply(ks, ks->shell, m, "execute_reply",
			    json_pack("{s:s, s:I, s:s, s:s, s:[]}", "status", "error",
				      "execution_count", (json_int_t)ks->execution_count,
				      "ename", "BadRequest", "evalue",
				      "execute_request without a code string", "traceback"));
		return;
	}
	if (silent)
		store_history = 0;
	if (store_history)
		ks->execution_count++;
	ks->exec = (kside_exec_t){ silent != 0, store_history != 0, allow_stdin != 0,
				   ks->execution_count };
	ks->interrupted = 0;
	json_decref(ks->error_content);
	ks->error_content = NULL;
	free(ks->last_result_text);
	ks->last_result_text = NULL;
	if (!silent)
		kside_publish(ks, ks->iopub_push, m, "execute_input",
			      json_pack("{s:s, s:I}", "code", code, "execution_count",
					(json_int_t)ks->execution_count));

	if (ks->be->execute(ks->be->ctx, ks, code, &ks->exec) && !ks->error_content)
		kside_error(ks, "Error", "the kernel reported an error", NULL);
	kside_flush_streams(ks);

	failed = ks->error_content != NULL;
	if (failed) {
		reply = json_deep_copy(ks->error_content);
		json_object_set_new(reply, "status", json_string("error"));
	} else {
		reply = json_pack("{s:s, s:{}, s:[]}", "status", "ok", "user_expressions",
				  "payload");
	}
	json_object_set_new(reply, "execution_count", json_integer(ks->execution_count));
	if (store_history)
		history_add(ks, ks->execution_count, code, ks->last_result_text);
	if (failed && stop_on_error)
		*n_aborted = take_queued(ks, aborted, ABORT_MAX);
	kside_reply(ks, ks->shell, m, "execute_reply", reply);
}

static json_t *with_status(json_t *content)
{
	if (!content)
		content = json_object();
	json_object_set_new(content, "status", json_string("ok"));
	return content;
}

void kside_shell_dispatch(kside_t *ks, wire_msg_t *m)
{
	const char *t = m->msg_type;
	json_t *c = parse_content(m);
	const char *code = "";
	json_int_t cursor = 0;
	int detail = 0;
	wire_msg_t *aborted[ABORT_MAX];
	size_t n_aborted = 0;

	json_unpack(c, "{s?s, s?I, s?i}", "code", &code, "cursor_pos", &cursor,
		    "detail_level", &detail);
	if (cursor < 0)
		cursor = 0;
	ks->parent = m;
	kside_publish_status(ks, ks->iopub_push, m, "busy");
	if (!strcmp(t, "execute_request")) {
		handle_execute(ks, m, c, aborted, &n_aborted);
	} else if (!strcmp(t, "kernel_info_request")) {
		kside_reply(ks, ks->shell, m, "kernel_info_reply", kside_kernel_info(ks));
	} else if (!strcmp(t, "complete_request")) {
		json_t *r = ks->be->complete ? ks->be->complete(ks->be->ctx, code, (size_t)cursor)
					     : NULL;

		if (!r)
			r = json_pack("{s:[], s:I, s:I, s:{}}", "matches", "cursor_start", cursor,
				      "cursor_end", cursor, "metadata");
		kside_reply(ks, ks->shell, m, "complete_reply", with_status(r));
	} else if (!strcmp(t, "inspect_request")) {
		json_t *r = ks->be->inspect
				    ? ks->be->inspect(ks->be->ctx, code, (size_t)cursor, detail)
				    : NULL;

		if (!r)
			r = json_pack("{s:b, s:{}, s:{}}", "found", 0, "data", "metadata");
		kside_reply(ks, ks->shell, m, "inspect_reply", with_status(r));
	} else if (!strcmp(t, "is_complete_request")) {
		const char *indent = NULL;
		const char *s = ks->be->is_complete ? ks->be->is_complete(ks->be->ctx, code, &indent)
						    : "unknown";
		json_t *r = json_pack("{s:s}", "status", s);

		if (!strcmp(s, "incomplete"))
			json_object_set_new(r, "indent", json_string(indent ? indent : ""));
		kside_reply(ks, ks->shell, m, "is_complete_reply", r);
	} else if (!strcmp(t, "history_request")) {
		kside_reply(ks, ks->shell, m, "history_reply", history_reply(ks, c));
	} else if (!strcmp(t, "comm_info_request")) {
		kside_reply(ks, ks->shell, m, "comm_info_reply",
			    json_pack("{s:s, s:{}}", "status", "ok", "comms"));
	} else if (!strcmp(t, "shutdown_request")) {
		/* Old clients send it on shell. */
		bool restart = json_is_true(json_object_get(c, "restart"));

		ks->restart = restart;
		kside_reply(ks, ks->shell, m, "shutdown_reply",
			    json_pack("{s:s, s:b}", "status", "ok", "restart", restart));
		atomic_store(&ks->stopping, true);
	} else if (!strncmp(t, "comm_", 5)) {
		/* No comm targets: nothing to open, nothing to answer. */
	} else {
		fprintf(stderr, "kside: no handler for %s\n", t);
	}
	kside_flush_streams(ks);
	kside_publish_status(ks, ks->iopub_push, m, "idle");
	ks->parent = NULL;
	json_decref(c);
	answer_aborted(ks, aborted, n_aborted);
}
