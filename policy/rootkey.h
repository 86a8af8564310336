/* The server's root key for capability tokens. See rootkey.c. */
#ifndef CELLGATE_POLICY_ROOTKEY_H
#define CELLGATE_POLICY_ROOTKEY_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/err.h"
#include "policy.h"

/* Reads STATE/policy.key into key, creating it when may_create. */
int policy_root_key(const char *state_dir, bool may_create, uint8_t key[POLICY_KEY_LEN],
		    err_t *err);

#endif
