/*
 * cellgate-gap: a Jupyter kernel for GAP, running libgap in-process behind
 * kernels/kside.
 *
 * A cell is read as GAP reads a file: READ_ALL_COMMANDS runs its statements
 * one by one with their Print output captured, and never enters a break
 * loop (GAP starts with -T). Print output goes out as stdout; the value of
 * every statement not ending in ";;" is shown with View, the last one as
 * the execute_result and earlier ones on stdout, as the gap prompt would.
 * Error messages are caught by pointing ERROR_OUTPUT at a string stream and
 * become the error reply. Like Read, GAP goes on with the statements after
 * one that failed.
 *
 * GASMAN scans the C stack from the frame that called GAP_Enter, so every
 * GAP object is used only inside the function that entered and is kept in
 * GAP globals (CG_*) rather than in C variables across calls.
 *
 * GAP's Pager (help, the "several entries match" menu, PageSource) is
 * replaced by one that leaves its text in CG_Help: the builtin one reads
 * the terminal.
 *
 * Interrupts: GAP's own signal handling is off (it exits on two SIGINTs
 * within a second); our handler calls InterruptExecStat, which makes the
 * next statement GAP executes raise "user interrupt" - an ordinary error.
 */
#include <gap/libgap-api.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kside/kside.h"
#include "gap_kernel.h"

#define GK_VERSION "0.1"
#define GK_ROOT "/usr/share/gap"
/* Deeper nesting overflows the C stack in GAP's reader (100000 levels do). */
#define GK_MAX_NESTING 1000

/* libgap exports it but declares it only in a private header (stats.h). */
extern void InterruptExecStat(void);

static struct {
	volatile sig_atomic_t executing;
	volatile sig_atomic_t interrupted;
} gk;

/* GAP-side helpers. CG_Run runs a cell with Print output captured per
 * statement and error messages in CG_Err; CG_View is View into a string. */
static const char gk_prelude[] =
	"MakeReadWriteGlobal(\"ERROR_OUTPUT\");;\n"
	"CG_Err := \"\";; CG_Out := fail;; CG_Arg := \"\";; CG_X := fail;; CG_Help := fail;;\n"
	"CG_Run := function(code)\n"
	"  CG_Err := \"\";\n"
	"  ERROR_OUTPUT := OutputTextString(CG_Err, true);\n"
	"  SetPrintFormattingStatus(ERROR_OUTPUT, false);\n"
	"  return READ_ALL_COMMANDS(InputTextString(code), false, true, function(x) end);\n"
	"end;;\n"
	"CG_View := function(x)\n"
	"  local r;\n"
	"  CG_X := x;\n"
	"  r := READ_ALL_COMMANDS(InputTextString(\"CG_X;\"), false, true, ViewObj);\n"
	"  CG_X := fail;\n"
	"  if Length(r) = 1 and r[1][1] and IsBound(r[1][5]) then return r[1][5]; fi;\n"
	"  return fail;\n"
	"end;;\n"
	"MakeReadWriteGlobal(\"Pager\");;\n"
	"Pager := function(data)\n"
	"  local lines, start;\n"
	"  start := 1;\n"
	"  if IsRecord(data) then\n"
	"    if IsBound(data.start) then start := data.start; fi;\n"
	"    lines := data.lines;\n"
	"  else lines := data; fi;\n"
	"  if IsString(lines) then lines := SplitString(lines, \"\\n\"); fi;\n"
	"  CG_Help := JoinStringsWithSeparator(lines{[start .. Minimum(Length(lines), start + 80)]}, \"\\n\");\n"
	"end;;\n"
	"HELP_VIEWER_INFO.screen.show := Pager;;\n";

static void on_sigint(int sig)
{
	(void)sig;
	if (gk.executing) {
		gk.interrupted = 1;
		InterruptExecStat();
	}
}

static char *copy_gap_string(Obj s)
{
	return s && GAP_IsString(s) ? strdup(GAP_CSTR_STRING(s)) : NULL;
}

char *gk_eval_to_string(const char *stmts, const char *arg)
{
	char *volatile out = NULL; /* GAP_Enter is a setjmp */
	int ok = GAP_Enter();

	if (ok) {
		GAP_AssignGlobalVariable("CG_Arg", GAP_MakeString(arg ? arg : ""));
		GAP_AssignGlobalVariable("CG_Out", GAP_Fail);
		GAP_EvalString(stmts);
		out = copy_gap_string(GAP_ValueGlobalVariable("CG_Out"));
	}
	GAP_Leave();
	return out;
}

static void stream_gap_string(kside_t *ks, Obj s, bool newline)
{
	char *text = copy_gap_string(s);
	size_t n;

	if (!text)
		return;
	n = strlen(text);
	kside_utf8_scrub(text, n);
	if (n)
		kside_stream(ks, "stdout", text, n);
	if (n && newline && text[n - 1] != '\n')
		kside_stream(ks, "stdout", "\n", 1);
	free(text);
}

static void publish_result(kside_t *ks, Obj view)
{
	char *text = copy_gap_string(view);

	if (!text)
		return;
	kside_utf8_scrub(text, strlen(text));
	kside_result(ks, json_pack("{s:s}", "text/plain", text), NULL);
	free(text);
}

/* GAP's messages, one traceback line each; the first "Error, ..." line is
 * the evalue. */
static void publish_error(kside_t *ks, const char *msg)
{
	char *copy = strdup(msg && *msg ? msg : "Error");
	const char *evalue = NULL;
	json_t *tb = json_array();
	char *line, *save = NULL;

	if (!copy) {
		kside_error(ks, "GAPError", "Error", tb);
		return;
	}
	kside_utf8_scrub(copy, strlen(copy));
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_array_append_new(tb, json_string(line));
		if (!evalue && strncmp(line, "Error, ", 7) == 0)
			evalue = line + 7;
		else if (!evalue && strncmp(line, "Syntax error", 12) == 0)
			evalue = line;
	}
	if (gk.interrupted)
		kside_error(ks, "KeyboardInterrupt", "user interrupt", tb);
	else
		kside_error(ks, "GAPError", evalue ? evalue : "Error", tb);
	free(copy);
}

static int gk_execute(void *ctx, kside_t *ks, const char *code, const kside_exec_t *req)
{
	volatile int rc = 0; /* GAP_Enter is a setjmp */
	int ok;
	(void)ctx;

	gk.interrupted = 0;
	if (gk_nesting_depth(code) > GK_MAX_NESTING) {
		char msg[96];

		snprintf(msg, sizeof msg, "the cell nests brackets or blocks deeper than %d levels",
			 GK_MAX_NESTING);
		kside_error(ks, "GAPError", msg, NULL);
		return -1;
	}
	ok = GAP_Enter();
	if (ok) {
		Obj res, view = NULL;
		UInt n, last = 0;
		bool failed = false;

		GAP_AssignGlobalVariable("CG_Arg", GAP_MakeString(code));
		if (gk_needs_semicolon(code))
			GAP_EvalString("Append(CG_Arg, \"\\n;\");;");
		gk.executing = 1;
		GAP_EvalString("CG_Res := CG_Run(CG_Arg);;");
		gk.executing = 0;
		res = GAP_ValueGlobalVariable("CG_Res");
		n = res && GAP_IsList(res) ? GAP_LenList(res) : 0;
		/* The statement whose value is the cell's result. */
		for (UInt i = n; i >= 1 && !last; i--) {
			Obj e = GAP_ElmList(res, i);

			if (GAP_ElmList(e, 1) != GAP_True)
				break;
			if (GAP_LenList(e) >= 2 && GAP_ElmList(e, 2) && GAP_ElmList(e, 3) != GAP_True)
				last = i;
			else if (GAP_LenList(e) >= 5 && GAP_ElmList(e, 5) &&
				 GAP_LenString(GAP_ElmList(e, 5)) > 0)
				break; /* output after the value: it is not the last word */
		}
		for (UInt i = 1; i <= n; i++) {
			Obj e = GAP_ElmList(res, i);
			Obj value = GAP_LenList(e) >= 2 ? GAP_ElmList(e, 2) : NULL;
			bool shown = value && GAP_ElmList(e, 3) != GAP_True;

			if (GAP_ElmList(e, 1) != GAP_True)
				failed = true;
			if (GAP_LenList(e) >= 5 && !req->silent)
				stream_gap_string(ks, GAP_ElmList(e, 5), false);
			if (!shown || req->silent)
				continue;
			GAP_AssignGlobalVariable("CG_X", value);
			GAP_EvalString("CG_Out := CG_View(CG_X);;");
			view = GAP_ValueGlobalVariable("CG_Out");
			if (i == last)
				publish_result(ks, view);
			else
				stream_gap_string(ks, view, true);
		}
		if (failed || gk.interrupted) {
			char *msg = copy_gap_string(GAP_ValueGlobalVariable("CG_Err"));

			publish_error(ks, msg);
			free(msg);
			rc = -1;
		}
		GAP_AssignGlobalVariable("CG_Res", GAP_Fail);
		GAP_AssignGlobalVariable("CG_X", GAP_Fail);
		GAP_AssignGlobalVariable("CG_Out", GAP_Fail);
	} else {
		kside_error(ks, "GAPError", "GAP raised an error outside a statement", NULL);
		rc = -1;
	}
	GAP_Leave();
	gk.executing = 0;
	return rc;
}

static void gk_interrupt(void *ctx, kside_t *ks)
{
	(void)ctx;
	kside_signal_main(ks, SIGINT);
}

static json_t *gk_kernel_info(void *ctx)
{
	char *version = gk_eval_to_string("CG_Out := GAPInfo.Version;;", NULL);
	char banner[256];
	json_t *r;
	(void)ctx;

	snprintf(banner, sizeof banner, "GAP %s (libgap in-process), cellgate-gap " GK_VERSION,
		 version ? version : "4");
	r = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:[{s:s, s:s}]}",
		      "implementation", "cellgate-gap", "implementation_version", GK_VERSION,
		      "banner", banner, "language_info", "name", "gap", "version",
		      version ? version : "4", "mimetype", "text/x-gap", "file_extension", ".g",
		      "codemirror_mode", "gap", "help_links", "text", "GAP manuals",
		      "url", "https://docs.gap-system.org/doc/ref/chap0_mj.html");
	free(version);
	return r;
}

static const kside_backend_t gap_backend = {
	.ctx = NULL,
	.kernel_info = gk_kernel_info,
	.execute = gk_execute,
	.complete = gk_complete,
	.inspect = gk_inspect,
	.is_complete = gk_is_complete,
	.interrupt = gk_interrupt,
};

static void on_gap_error(void) {}

/* Starts GAP from its library in root and defines the CG_* helpers. */
static int gk_start(const char *root, const char *memory)
{
	char *gap_argv[16];
	int gap_argc = 0, ok;

	/* -q quiet, -E no readline, -T no break loop, -o workspace limit. GAP's
	 * boolean options toggle, so each appears once. */
	gap_argv[gap_argc++] = (char *)"gap";
	gap_argv[gap_argc++] = (char *)"-l";
	gap_argv[gap_argc++] = (char *)root;
	gap_argv[gap_argc++] = (char *)"-q";
	gap_argv[gap_argc++] = (char *)"-E";
	gap_argv[gap_argc++] = (char *)"--nointeract";
	gap_argv[gap_argc++] = (char *)"-T";
	gap_argv[gap_argc++] = (char *)"-o";
	gap_argv[gap_argc++] = (char *)memory;
	gap_argv[gap_argc] = NULL;
	GAP_Initialize(gap_argc, gap_argv, NULL, on_gap_error, 0);
	ok = GAP_Enter();
	if (ok) {
		GAP_EvalString(gk_prelude);
		GAP_EvalString("BreakOnError := false;;");
	}
	GAP_Leave();
	return ok ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: cellgate-gap [--root DIR] [--memory SIZE] -f CONNECTION_FILE\n"
			"  DIR defaults to " GK_ROOT "; SIZE is GAP's -o (maximum workspace), e.g. 2g\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'l' },
		{ "memory", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conn = NULL, *root = GK_ROOT, *memory = "4g";
	int c, rc;
	struct sigaction sa;
	err_t err = { 0 };

	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': conn = optarg; break;
		case 'l': root = optarg; break;
		case 'o': memory = optarg; break;
		default: usage(); return c == 'h' ? 0 : 2;
		}
	}
	if (!conn && optind < argc)
		conn = argv[optind];
	if (!conn) {
		usage();
		return 2;
	}

	if (gk_start(root, memory) < 0) {
		fprintf(stderr, "cellgate-gap: GAP failed to load its helpers\n");
		return 1;
	}

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);

	rc = kside_run(conn, &gap_backend, &err);
	if (rc)
		fprintf(stderr, "cellgate-gap: %s\n", err.msg);
	return rc ? 1 : 0;
}
