/*
 * Pending prompts: when a principal's action needs a person's approval
 * ("ask" in the policy file), the server records who asks for what, and
 * holds the effect until a principal with approve on the resource answers
 * allow once, allow for the session (the asking token's identifier), or
 * deny, or until the prompt times out (deny). The asker sees the prompt as
 * its own status ("pending"), neither a failure nor a success, waits on it,
 * and asks again: an allow is then taken (once, or for the session).
 *
 * Effects a kernel's code asks for (a network destination through the
 * egress broker) are prompts too, asked in the name of the principal who
 * started the kernel: one per held connection (policy_prompts_ask_effect),
 * with the kernel and the effect; the broker that holds the connection
 * reads the answer from the table.
 *
 * The table is bounded: at most PROMPTS_MAX_PENDING pending per principal
 * (past that, policy denies rather than asks) and PROMPTS_MAX kept in all
 * (the oldest settled ones go first). It lives in memory.
 */
#ifndef CELLGATE_POLICY_PROMPTS_H
#define CELLGATE_POLICY_PROMPTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../common/err.h"
#include "policy.h"
#include "token.h"

#define PROMPTS_MAX 1024
#define PROMPTS_MAX_PENDING 32
#define PROMPT_RESOURCE_MAX 600

typedef enum policy_prompt_state {
	PROMPT_PENDING,
	PROMPT_ALLOWED_ONCE,    /* answered; not yet taken */
	PROMPT_ALLOWED_SESSION, /* answered; taken any number of times by the token */
	PROMPT_DENIED,
	PROMPT_TIMED_OUT,
	PROMPT_USED,            /* an allow-once that was taken */
	PROMPT_WITHDRAWN,       /* the asker stopped waiting (its connection or cell ended) */
} policy_prompt_state_t;

typedef struct policy_prompt {
	char id[37];
	char principal[POLICY_NAME_MAX + 1];
	char token_id[TOKEN_ID_MAX + 1];
	policy_action_t action;             /* 0 for an effect */
	char resource[PROMPT_RESOURCE_MAX]; /* as described to people; the match key */
	char effect[PROMPT_RESOURCE_MAX];   /* "network host:port"; "" for an action */
	char kernel[64];                    /* the kernel whose code asks; "" when none */
	char execution[128];                /* the kernel's current execute_request msg_id, if known */
	char cell[256];                     /* that request's cellId (the client's word), if known */
	char path[4096];                    /* for who may approve; "" when none */
	bool has_path;
	char request[320];                  /* "POST /api/kernels" */
	double created, deadline, answered_at;
	char answered_by[POLICY_NAME_MAX + 1];
	policy_prompt_state_t state;
} policy_prompt_t;

typedef struct policy_prompts policy_prompts_t;

policy_prompts_t *policy_prompts_new(double timeout_s);
void policy_prompts_free(policy_prompts_t **self_p);

/*
 * Is there an answered allow for this token, action and resource? Takes
 * it (an allow-once becomes used). *which (may be NULL) is the prompt.
 */
bool policy_prompts_take(policy_prompts_t *all, const char *token_id, policy_action_t action,
			 const char *resource, const policy_prompt_t **which);
/*
 * The pending prompt for this ask, or a new one. NULL with err when the
 * principal has too many pending (deny, never ask). *is_new says which.
 */
const policy_prompt_t *policy_prompts_ask(policy_prompts_t *all, const policy_cap_t *cap,
					  policy_action_t action, const char *resource,
					  const char *path, const char *request, double now,
					  bool *is_new, err_t *err);
/* An effect a kernel asks for, held until answered. */
typedef struct policy_effect_ask {
	const char *principal;  /* who started the kernel ("server-token" for the root token) */
	const char *token_id;   /* its token's identifier; "" for the root token */
	const char *effect;     /* "network host:port" */
	const char *kernel;     /* kernel id */
	const char *execution;  /* the cell's execute_request msg_id; NULL when not known */
	const char *cell;       /* its metadata's cellId; NULL when not known */
	const char *path;       /* the kernel's notebook, for who may approve; NULL when none */
	const char *request;    /* "CONNECT host:port", "GET http://..." */
} policy_effect_ask_t;

/*
 * A new prompt for the effect (always new: each held connection is
 * answered on its own). NULL with err when the principal has too many
 * pending (deny, never ask).
 */
const policy_prompt_t *policy_prompts_ask_effect(policy_prompts_t *all,
						 const policy_effect_ask_t *q, double now,
						 err_t *err);
policy_prompt_t *policy_prompts_find(policy_prompts_t *all, const char *id);
/* Iteration, oldest first. */
policy_prompt_t *policy_prompts_next(policy_prompts_t *all, policy_prompt_t *prev);
/* "allow_once", "allow_session" or "deny"; CG_ESTATE when not pending. */
int policy_prompts_answer(policy_prompt_t *p, const char *answer, const char *by, double now,
			  err_t *err);
/* The asker no longer waits: a pending prompt becomes withdrawn (true);
 * anything else stays as it is (false). */
bool policy_prompts_withdraw(policy_prompt_t *p, double now);
/* Times out every pending prompt past its deadline, calling fn for each. */
size_t policy_prompts_expire(policy_prompts_t *all, double now,
			     void (*fn)(void *arg, const policy_prompt_t *p), void *arg);
const char *policy_prompt_state_name(policy_prompt_state_t s);
/* The action's name, or "effect" for an effect's prompt. */
const char *policy_prompt_action_name(const policy_prompt_t *p);
/* {"id", "principal", "action", "resource", "path", "request", "state",
 *  "created", "deadline", "answered_by", "answered_at"}; an effect's has
 *  "action": "effect" and "effect", "kernel", "execution", "cell" besides. */
json_t *policy_prompt_json(const policy_prompt_t *p);

#endif
