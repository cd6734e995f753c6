/* loc_text: pure helpers of location-svc (no I/O), unit-tested in
 * tests/unit/test_location_text.c. */
#ifndef LOC_TEXT_H
#define LOC_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Escapes LIKE metacharacters (% _ \) of s into out (backslash is the
 * default LIKE escape in PostgreSQL) and wraps it: prefix "s%" when
 * contains == 0, "%s%" when contains == 1. Returns the length written or
 * -1 when outlen is too small. */
int loc_like_pattern(const char *s, int contains, char *out, size_t outlen);

/* The PostgreSQL array literal "{a,b,c}" of already-validated UUIDs.
 * Returns the length or -1 when outlen is too small. */
int loc_uuid_array(char *const *ids, size_t n, char *out, size_t outlen);

/* The PostgreSQL array literal {"a","b"} of any texts: every element
 * quoted, '"' and '\\' escaped by a backslash, so commas, braces, spaces
 * and the word NULL are plain text. Returns the length or -1 when outlen
 * is too small. */
int loc_text_array(const char *const *v, size_t n, char *out, size_t outlen);

/* 1 when a value occurs twice in ids (compared case-insensitively, as
 * UUIDs are). */
int loc_has_duplicate(char *const *ids, size_t n);

typedef enum {
    LOC_FENCE_APPLY = 0, /* newer token: apply and store it */
    LOC_FENCE_NOOP = 1,  /* same token and same assignee: a retry, no change */
    LOC_FENCE_STALE = 2, /* older token, or same token with another assignee */
} loc_fence;

/* The fencing rule shared with order-svc SetAssignee. Assignees are UUID
 * text ("" = none), compared case-insensitively. */
loc_fence loc_fence_decide(int64_t token, const char *assignee, int64_t stored_token,
                           const char *stored_assignee);

#endif
