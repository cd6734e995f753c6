/* kn_pagetoken: opaque keyset page tokens. A token carries the sort key of
 * the last row returned (a time in microseconds and an id) and a hash of the
 * query it belongs to (tenant, caller, filters), so a token used with other
 * filters or by another tenant is refused with INVALID_ARGUMENT. The token is
 * base64url; it is not secret but it is checked. */
#ifndef KN_PAGETOKEN_H
#define KN_PAGETOKEN_H

#include <stddef.h>
#include <stdint.h>
#include "kn_status.h"

typedef struct {
    int64_t time_us; /* or any int64 sort key */
    char id[64];     /* tie-breaker (a UUID, or a text key) */
} kn_page_key;

/* 64-bit FNV-1a over a list of strings; call with the tenant, the caller and
 * every filter that shapes the query. NULL strings hash as empty. */
uint64_t kn_page_query_hash(const char *const *parts, size_t n);

/* Writes a NUL-terminated token into out; returns its length or -1. */
int kn_page_token_encode(const kn_page_key *key, uint64_t query_hash, char *out, size_t outlen);

/* KN_OK with *key filled; KN_INVALID_ARGUMENT naming `field` when the token
 * does not decode or belongs to another query. */
kn_code kn_page_token_decode(const char *field, const char *token, uint64_t query_hash,
                             kn_page_key *key, kn_status *st);

#endif
