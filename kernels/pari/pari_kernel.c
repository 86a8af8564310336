/*
 * cellgate-pari: a Jupyter kernel for PARI/GP, running libpari in-process
 * behind kernels/kside.
 *
 * A cell is read as gp reads a file (gp_read_str_multiline): newlines
 * separate statements, metacommands (\p, \g, #, ...) work, and the value of
 * the last statement is the result unless it ends with ';'. Results go out
 * as text/plain in gp's own output format and text/latex from PARI's TeX
 * output. Every evaluation runs inside pari_CATCH, so a PARI error (stack
 * exhausted, interrupt included) becomes an error reply and the evaluator
 * state is restored from a gp_context saved before the cell.
 *
 * Interrupts: PARI's own SIGINT handler (INIT_SIGm) defers the signal while
 * PARI holds SIGINT blocked, then calls cb_pari_sigint, which raises a PARI
 * error when a cell is running. An interrupt_request on control becomes a
 * SIGINT sent to the main thread; kside blocks SIGINT on every other thread.
 */
#include <pari/pari.h>
#include <pari/paripriv.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kside/kside.h"
#include "pari_kernel.h"

#define PK_VERSION "0.1"

static struct {
	kside_t *ks;
	volatile sig_atomic_t executing;
	struct {
		char *data;
		size_t len, cap;
	} capture; /* gen_output goes here while capturing */
	bool capturing;
} pk;

/* --- output --------------------------------------------------------- */

static void capture_append(const char *s, size_t len)
{
	if (pk.capture.len + len + 1 > pk.capture.cap) {
		size_t cap = pk.capture.cap ? pk.capture.cap : 256;
		char *p;

		while (cap < pk.capture.len + len + 1)
			cap *= 2;
		p = realloc(pk.capture.data, cap);
		if (!p)
			return;
		pk.capture.data = p;
		pk.capture.cap = cap;
	}
	memcpy(pk.capture.data + pk.capture.len, s, len);
	pk.capture.len += len;
	pk.capture.data[pk.capture.len] = '\0';
}

/* An interrupt that lands while we are inside libzmq would longjmp out of
 * it: PARI's handler only defers it while PARI_SIGINT_block is set. */
static void emit(const char *stream, const char *s, size_t len)
{
	BLOCK_SIGINT_START
	if (pk.capturing)
		capture_append(s, len);
	else if (pk.ks)
		kside_stream(pk.ks, stream, s, len);
	else
		fwrite(s, 1, len, stderr);
	BLOCK_SIGINT_END
}

static void pk_out_putch(char c) { emit("stdout", &c, 1); }
static void pk_out_puts(const char *s) { emit("stdout", s, strlen(s)); }
static void pk_err_putch(char c) { emit("stderr", &c, 1); }
static void pk_err_puts(const char *s) { emit("stderr", s, strlen(s)); }
static void pk_no_flush(void) {}

static PariOUT out_stream = { pk_out_putch, pk_out_puts, pk_no_flush };
static PariOUT err_stream = { pk_err_putch, pk_err_puts, pk_no_flush };

/* gp's display of x (what gp prints after "%1 = "). Caller owns the result. */
static char *gp_format(GEN x)
{
	char *s;

	pk.capture.len = 0;
	capture_append("", 0);
	pk.capturing = true;
	gen_output(x);
	pk.capturing = false;
	s = strdup(pk.capture.data ? pk.capture.data : "");
	if (s) {
		size_t n = strlen(s), lead = strspn(s, "\n");

		while (n > lead && s[n - 1] == '\n')
			s[--n] = '\0';
		memmove(s, s + lead, n - lead + 1);
	}
	return s;
}

/* --- execution -------------------------------------------------------- */

static void on_sigint(void)
{
	if (pk.executing)
		pari_err(e_MISC, "user interrupt");
}

static int on_is_interactive(void) { return 0; }

/* gp's own functions that libpari lacks, on the kernel's channels. */
static void pk_printerr(GEN args)
{
	out_print0(pariErr, NULL, args, f_RAW);
	pariErr->putch('\n');
}

static GEN pk_input(GEN prompt)
{
	char *answer;
	GEN z;

	BLOCK_SIGINT_START
	answer = pk.ks ? kside_input(pk.ks, prompt ? GENtostr_unquoted(prompt) : "", false) : NULL;
	BLOCK_SIGINT_END
	if (!answer)
		pari_err(e_MISC, "input: this request does not allow stdin");
	z = gp_read_str(answer);
	free(answer);
	return z;
}

static entree pk_functions[] = {
	{ "printerr", 0, (void *)pk_printerr, 11, "vs*",
	  "printerr({str}*): outputs its arguments on the error stream, then a newline.",
	  NULL, 0, 0, NULL },
	{ "input", 0, (void *)pk_input, 11, "DG",
	  "input({prompt}): asks the notebook user for a line and evaluates it.",
	  NULL, 0, 0, NULL },
	{ NULL, 0, NULL, 0, NULL, NULL, NULL, 0, 0, NULL },
};

static void publish_result(GEN z)
{
	char *text = gp_format(z);
	char *tex = GENtoTeXstr(z);
	json_t *data = json_object();
	size_t tl;

	if (text)
		kside_utf8_scrub(text, strlen(text));
	json_object_set_new(data, "text/plain", json_string(text ? text : ""));
	tl = tex ? strlen(tex) : 0;
	if (tex && tl < (1u << 20)) {
		kside_utf8_scrub(tex, tl);
		json_object_set_new(data, "text/latex", json_pack("s++", "$", tex, "$"));
	}
	free(text);
	kside_result(pk.ks, data, NULL);
}

static void publish_error(GEN E)
{
	long num = err_get_num(E);
	char *msg = pari_err2str(E);
	bool is_intr = num == e_MISC && msg && strstr(msg, "user interrupt");
	const char *ename = is_intr ? "KeyboardInterrupt" : numerr_name(num);
	json_t *tb = json_array();
	char *copy = strdup(msg ? msg : "error"), *line, *save = NULL;

	if (copy) {
		kside_utf8_scrub(copy, strlen(copy));
		for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			json_array_append_new(tb, json_sprintf("  ***   %s", line));
	}
	kside_error(pk.ks, ename ? ename : "PariError", copy ? copy : "error", tb);
	free(copy);
}

static int pk_execute(void *ctx, kside_t *ks, const char *code, const kside_exec_t *req)
{
	struct gp_context state;
	pari_sp av = avma;
	volatile int rc = 0;
	pari_timer T;
	(void)ctx;

	pk.ks = ks;
	gp_context_save(&state);
	timer_start(&T);
	pari_CATCH(CATCH_ALL) {
		pk.executing = 0;
		/* The error lives in the context that restore discards. */
		publish_error(pari_err_last());
		gp_context_restore(&state);
		rc = -1;
	} pari_TRY {
		char last = 0;
		GEN z;

		pk.executing = 1;
		z = gp_read_str_multiline(code, &last);
		pk.executing = 0;
		if (GP_DATA->chrono) {
			char buf[64];
			int n = snprintf(buf, sizeof buf, "time = %ld ms.\n", timer_delay(&T));

			emit("stdout", buf, (size_t)n);
		}
		if (z && z != gnil && last != ';') {
			pari_add_hist(z, 0, 0);
			if (!req->silent)
				publish_result(z);
		}
	} pari_ENDCATCH;
	pk.executing = 0;
	/* The handler may have left SIGINT blocked when it longjmp'ed. */
	{
		sigset_t s;

		sigemptyset(&s);
		sigaddset(&s, SIGINT);
		pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	}
	set_avma(av);
	pk.ks = NULL;
	return rc;
}

static void pk_interrupt(void *ctx, kside_t *ks)
{
	(void)ctx;
	kside_signal_main(ks, SIGINT);
}

static json_t *pk_kernel_info(void *ctx)
{
	char version[64];
	char banner[256];
	(void)ctx;

	snprintf(version, sizeof version, "%d.%d.%d", PARI_VERSION_CODE >> 16,
		 (PARI_VERSION_CODE >> 8) & 255, PARI_VERSION_CODE & 255);
	snprintf(banner, sizeof banner,
		 "PARI/GP %s (libpari in-process), cellgate-pari " PK_VERSION, version);
	return json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:[{s:s, s:s}]}",
			 "implementation", "cellgate-pari", "implementation_version", PK_VERSION,
			 "banner", banner, "language_info", "name", "gp", "version", version,
			 "mimetype", "text/x-pari-gp", "file_extension", ".gp",
			 "codemirror_mode", "pari", "help_links", "text", "PARI/GP documentation",
			 "url", "https://pari.math.u-bordeaux.fr/doc.html");
}

static const kside_backend_t pari_backend = {
	.ctx = NULL,
	.kernel_info = pk_kernel_info,
	.execute = pk_execute,
	.complete = pk_complete,
	.inspect = pk_inspect,
	.is_complete = pk_is_complete,
	.interrupt = pk_interrupt,
};

static size_t parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (*end == 'k' || *end == 'K')
		v *= 1024;
	else if (*end == 'M' || *end == 'm')
		v *= 1024 * 1024;
	else if (*end == 'G' || *end == 'g')
		v *= 1024.0 * 1024 * 1024;
	return v > 0 ? (size_t)v : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: cellgate-pari [--parisize N] [--parisizemax N] -f CONNECTION_FILE\n"
			"  sizes take k, M, G suffixes; defaults 8M and 1G\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "parisize", required_argument, NULL, 's' },
		{ "parisizemax", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conn = NULL;
	size_t size = 8u << 20, max = 1u << 30;
	err_t err = { 0 };
	int c, rc;

	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': conn = optarg; break;
		case 's': size = parse_size(optarg); break;
		case 'm': max = parse_size(optarg); break;
		default: usage(); return c == 'h' ? 0 : 2;
		}
	}
	if (!conn && optind < argc)
		conn = argv[optind];
	if (!conn || size < (1u << 20) || max < size) {
		usage();
		return 2;
	}

	pari_init_opts(size, 0, INIT_SIGm | INIT_DFTm);
	paristack_setsize(size, max);
	pari_add_module(pk_functions);
	pariOut = &out_stream;
	pariErr = &err_stream;
	cb_pari_sigint = on_sigint;
	cb_pari_is_interactive = on_is_interactive;
	GP_DATA->breakloop = 0;
	GP_DATA->fmt->prettyp = f_PRETTYMAT;

	rc = kside_run(conn, &pari_backend, &err);
	if (rc)
		fprintf(stderr, "cellgate-pari: %s\n", err.msg);
	pari_close();
	free(pk.capture.data);
	return rc ? 1 : 0;
}
