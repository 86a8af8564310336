/* The pending-prompt table. See prompts.h. */
#include "prompts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"

struct policy_prompts {
	policy_prompt_t *items; /* oldest first */
	size_t count;
	double timeout_s;
};

static const char *const state_names[] = { "pending", "allowed_once", "allowed_session",
					   "denied", "timed_out", "used", "withdrawn" };

const char *policy_prompt_state_name(policy_prompt_state_t s)
{
	return (size_t)s < sizeof state_names / sizeof *state_names ? state_names[s] : "?";
}

const char *policy_prompt_action_name(const policy_prompt_t *p)
{
	return p->effect[0] ? "effect" : policy_action_name(p->action);
}

policy_prompts_t *policy_prompts_new(double timeout_s)
{
	policy_prompts_t *all = calloc(1, sizeof *all);

	if (!all)
		return NULL;
	all->items = calloc(PROMPTS_MAX, sizeof *all->items);
	if (!all->items) {
		free(all);
		return NULL;
	}
	all->timeout_s = timeout_s;
	return all;
}

void policy_prompts_free(policy_prompts_t **self_p)
{
	policy_prompts_t *all = self_p ? *self_p : NULL;

	if (!all)
		return;
	free(all->items);
	free(all);
	*self_p = NULL;
}

static bool matches(const policy_prompt_t *p, const char *token_id, policy_action_t action,
		    const char *resource)
{
	return !p->effect[0] && p->action == action && strcmp(p->token_id, token_id) == 0 &&
	       strcmp(p->resource, resource) == 0;
}

bool policy_prompts_take(policy_prompts_t *all, const char *token_id, policy_action_t action,
			 const char *resource, const policy_prompt_t **which)
{
	for (size_t i = 0; i < all->count; i++) {
		policy_prompt_t *p = &all->items[i];

		if (!matches(p, token_id, action, resource))
			continue;
		if (p->state == PROMPT_ALLOWED_ONCE)
			p->state = PROMPT_USED;
		else if (p->state != PROMPT_ALLOWED_SESSION)
			continue;
		if (which)
			*which = p;
		return true;
	}
	return false;
}

/* Room for one more: drops the oldest settled prompt (never an action's
 * session allow still in force, nor a pending one) when the table is full. */
static bool make_room(policy_prompts_t *all)
{
	if (all->count < PROMPTS_MAX)
		return true;
	for (size_t i = 0; i < all->count; i++) {
		policy_prompt_state_t s = all->items[i].state;

		/* an effect's session allow is kept by whoever holds the effect */
		if (s == PROMPT_PENDING || s == PROMPT_ALLOWED_ONCE ||
		    (s == PROMPT_ALLOWED_SESSION && !all->items[i].effect[0]))
			continue;
		memmove(&all->items[i], &all->items[i + 1],
			(all->count - i - 1) * sizeof *all->items);
		all->count--;
		return true;
	}
	return false;
}

/* Pending prompts of principal. */
static size_t pending_of(const policy_prompts_t *all, const char *principal)
{
	size_t n = 0;

	for (size_t i = 0; i < all->count; i++)
		if (all->items[i].state == PROMPT_PENDING &&
		    strcmp(all->items[i].principal, principal) == 0)
			n++;
	return n;
}

/* A new pending prompt at the end of the table, or NULL with err. */
static policy_prompt_t *add(policy_prompts_t *all, const char *principal, const char *token_id,
			    const char *resource, const char *path, const char *request,
			    double now, err_t *err)
{
	policy_prompt_t *p;

	if (pending_of(all, principal) >= PROMPTS_MAX_PENDING || !make_room(all)) {
		err_set(err, CG_ETOOBIG, "too many prompts are waiting for an answer");
		return NULL;
	}
	p = &all->items[all->count];
	memset(p, 0, sizeof *p);
	if (util_uuid4(p->id)) {
		err_set(err, CG_ESYS, "cannot make a prompt id");
		return NULL;
	}
	snprintf(p->principal, sizeof p->principal, "%s", principal);
	snprintf(p->token_id, sizeof p->token_id, "%s", token_id);
	snprintf(p->resource, sizeof p->resource, "%s", resource);
	snprintf(p->request, sizeof p->request, "%s", request);
	p->has_path = path != NULL;
	snprintf(p->path, sizeof p->path, "%s", path ? path : "");
	p->created = now;
	p->deadline = now + all->timeout_s;
	p->state = PROMPT_PENDING;
	all->count++;
	return p;
}

const policy_prompt_t *policy_prompts_ask(policy_prompts_t *all, const policy_cap_t *cap,
					  policy_action_t action, const char *resource,
					  const char *path, const char *request, double now,
					  bool *is_new, err_t *err)
{
	const char *token_id = policy_cap_token_id(cap);
	policy_prompt_t *p;

	*is_new = false;
	for (size_t i = 0; i < all->count; i++) {
		p = &all->items[i];
		if (p->state == PROMPT_PENDING && matches(p, token_id, action, resource))
			return p;
	}
	p = add(all, policy_cap_principal(cap), token_id, resource, path, request, now, err);
	if (!p)
		return NULL;
	p->action = action;
	*is_new = true;
	return p;
}

const policy_prompt_t *policy_prompts_ask_effect(policy_prompts_t *all,
						 const policy_effect_ask_t *q, double now,
						 err_t *err)
{
	policy_prompt_t *p = add(all, q->principal, q->token_id ? q->token_id : "", q->effect,
				 q->path, q->request, now, err);

	if (!p)
		return NULL;
	snprintf(p->effect, sizeof p->effect, "%s", q->effect);
	snprintf(p->kernel, sizeof p->kernel, "%s", q->kernel ? q->kernel : "");
	snprintf(p->execution, sizeof p->execution, "%s", q->execution ? q->execution : "");
	snprintf(p->cell, sizeof p->cell, "%s", q->cell ? q->cell : "");
	return p;
}

policy_prompt_t *policy_prompts_find(policy_prompts_t *all, const char *id)
{
	for (size_t i = 0; id && i < all->count; i++)
		if (strcmp(all->items[i].id, id) == 0)
			return &all->items[i];
	return NULL;
}

policy_prompt_t *policy_prompts_next(policy_prompts_t *all, policy_prompt_t *prev)
{
	size_t i = prev ? (size_t)(prev - all->items) + 1 : 0;

	return i < all->count ? &all->items[i] : NULL;
}

int policy_prompts_answer(policy_prompt_t *p, const char *answer, const char *by, double now,
			  err_t *err)
{
	policy_prompt_state_t to;

	if (strcmp(answer, "allow_once") == 0)
		to = PROMPT_ALLOWED_ONCE;
	else if (strcmp(answer, "allow_session") == 0)
		to = PROMPT_ALLOWED_SESSION;
	else if (strcmp(answer, "deny") == 0)
		to = PROMPT_DENIED;
	else
		return err_set(err, CG_EINVAL, "the answer is allow_once, allow_session or deny");
	if (p->state != PROMPT_PENDING)
		return err_set(err, CG_ESTATE, "the prompt was already settled: %s",
			       policy_prompt_state_name(p->state));
	p->state = to;
	p->answered_at = now;
	snprintf(p->answered_by, sizeof p->answered_by, "%s", by);
	return 0;
}

bool policy_prompts_withdraw(policy_prompt_t *p, double now)
{
	if (!p || p->state != PROMPT_PENDING)
		return false;
	p->state = PROMPT_WITHDRAWN;
	p->answered_at = now;
	return true;
}

size_t policy_prompts_expire(policy_prompts_t *all, double now,
			     void (*fn)(void *arg, const policy_prompt_t *p), void *arg)
{
	size_t n = 0;

	for (size_t i = 0; i < all->count; i++) {
		policy_prompt_t *p = &all->items[i];

		if (p->state != PROMPT_PENDING || now < p->deadline)
			continue;
		p->state = PROMPT_TIMED_OUT;
		p->answered_at = now;
		n++;
		if (fn)
			fn(arg, p);
	}
	return n;
}

json_t *policy_prompt_json(const policy_prompt_t *p)
{
	char created[ISO_TIME_LEN], deadline[ISO_TIME_LEN], answered[ISO_TIME_LEN];

	util_iso_time(p->created, created);
	util_iso_time(p->deadline, deadline);
	util_iso_time(p->answered_at, answered);
	if (p->effect[0])
		return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s, s:s, "
				 "s:s, s:s?, s:s?}", "id", p->id, "principal", p->principal,
				 "action", "effect", "effect", p->effect, "resource", p->resource,
				 "kernel", p->kernel, "execution", p->execution[0] ? p->execution : NULL,
				 "cell", p->cell[0] ? p->cell : NULL,
				 "path", p->has_path ? p->path : NULL, "request", p->request,
				 "state", policy_prompt_state_name(p->state), "created", created,
				 "deadline", deadline,
				 "answered_by", p->answered_by[0] ? p->answered_by : NULL,
				 "answered_at", p->answered_at > 0 ? answered : NULL);
	return json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:s?, s:s?}", "id", p->id,
			 "principal", p->principal, "action", policy_action_name(p->action),
			 "resource", p->resource, "path", p->has_path ? p->path : NULL,
			 "request", p->request, "state", policy_prompt_state_name(p->state),
			 "created", created, "deadline", deadline,
			 "answered_by", p->answered_by[0] ? p->answered_by : NULL,
			 "answered_at", p->answered_at > 0 ? answered : NULL);
}
