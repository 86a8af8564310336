/*
 * Every REST handler the route table names, by the file that holds it.
 */
#ifndef CELLGATE_HANDLERS_H
#define CELLGATE_HANDLERS_H

#include "http.h"

/* api_core.c */
void api_root(http_req_t *req);
void api_status(http_req_t *req);
void api_me(http_req_t *req);
void api_events_subscribe_plain(http_req_t *req);

/* api_kernelspecs.c */
void api_kernelspecs_list(http_req_t *req);
void api_kernelspecs_get(http_req_t *req);
void kernelspec_resource(http_req_t *req);

/* api_kernels.c */
void api_kernels_list(http_req_t *req);
void api_kernels_start(http_req_t *req);
void api_kernel_get(http_req_t *req);
void api_kernel_delete(http_req_t *req);
void api_kernel_interrupt(http_req_t *req);
void api_kernel_restart(http_req_t *req);
void api_kernel_channels_plain(http_req_t *req);

/* api_sessions.c */
void api_sessions_list(http_req_t *req);
void api_sessions_create(http_req_t *req);
void api_session_get(http_req_t *req);
void api_session_patch(http_req_t *req);
void api_session_delete(http_req_t *req);

/* api_contents.c */
void api_contents(http_req_t *req);

/* api_versions.c */
void api_versions_log(http_req_t *req);
void api_version_get(http_req_t *req);
void api_versions_branches(http_req_t *req);
void api_versions_checkout(http_req_t *req);
void api_versions_diff(http_req_t *req);
/* egress_api.c: a kernel's egress decisions */
void api_egress_get(http_req_t *req);

/* api_provenance.c */
void api_provenance_get(http_req_t *req);
void api_execution_get(http_req_t *req);

/* api_replays.c */
void api_replays(http_req_t *req);
/* api_audit.c */
void api_audit_log(http_req_t *req);
/* api_publications.c: publishing a version (decided by policy, maybe a prompt) */
void api_publications(http_req_t *req);

/* api_secrets.c: named secrets (admin); their values only go to kernels */
void api_secrets(http_req_t *req);
/* app->secrets, opened on first use; NULL with err when it cannot be */
struct policy_secrets *app_secrets(app_t *app, err_t *err);

/* api_events.c: Server-Sent Events of prompts */
void api_events(http_req_t *req);
/* Sends what changed in the prompts table to every stream; drops streams
 * that are due (gone, over, expired) and keeps the others alive. Called
 * by prompts_notify. */
void events_notify(app_t *app);
/* Ends every stream: the server is stopping. */
void events_release(app_t *app);

/* api_prompts.c */
/* May req's caller see p (its own, or one it may answer)? */
struct policy_prompt;
bool prompts_visible(http_req_t *req, const struct policy_prompt *p);
void api_prompts_list(http_req_t *req);
void api_prompt_get(http_req_t *req);
void api_prompt_answer(http_req_t *req);
/* Answers the requests waiting on prompts (?wait=) that are due: called
 * when a prompt is asked, answered or timed out, and each second. */
void prompts_notify(app_t *app);
/* At stop: answers every waiting request 503. */
void prompts_release_waiters(app_t *app);

/* lab_page.c */
void lab_page(http_req_t *req);
void lab_page_tree(http_req_t *req);
void lab_page_doc(http_req_t *req);
void lab_page_workspace(http_req_t *req);
void lab_root_redirect(http_req_t *req);

/* lab_static.c */
void lab_static(http_req_t *req);
void lab_themes(http_req_t *req);

/* api_lab_settings.c */
void api_lab_settings(http_req_t *req);

/* api_lab_workspaces.c */
void api_lab_workspaces(http_req_t *req);

/* api_lab_translations.c */
void api_lab_translations(http_req_t *req);

/* api_absent.c */
void api_nbconvert_formats(http_req_t *req);

/* files.c */
void files_get(http_req_t *req);

#endif
