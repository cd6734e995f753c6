/* kn_validate: checks of client input shared by every service. Each returns
 * KN_OK or KN_INVALID_ARGUMENT with a message naming the field. */
#ifndef KN_VALIDATE_H
#define KN_VALIDATE_H

#include <stddef.h>
#include "kn_status.h"

/* Canonical lower- or upper-case 8-4-4-4-12 hex UUID. */
int kn_is_uuid(const char *s);
kn_code kn_check_uuid(const char *field, const char *value, kn_status *st);
/* Like kn_check_uuid but an empty string is allowed (means "not set"). */
kn_code kn_check_uuid_opt(const char *field, const char *value, kn_status *st);

/* The len bytes at s are all of the base64url alphabet. Checked before
 * libsodium 1.0.18's decoder, which reads any byte >= 0x80 as '_' (its
 * constant-time character tests assume ASCII): without it one JWT
 * signature or page token could be spelled many ways (found by fuzzing,
 * tests/fuzz/regressions/jwt/ and pagetoken/). */
int kn_is_base64url(const char *s, size_t len);

/* Valid UTF-8, no control characters, length in bytes within [min, max]. */
kn_code kn_check_text(const char *field, const char *value, size_t min, size_t max, kn_status *st);
/* Like kn_check_text but newline, carriage return and tab are allowed
 * (descriptions, addresses, free-text details). */
kn_code kn_check_multiline_text(const char *field, const char *value, size_t min, size_t max,
                                kn_status *st);

/* YYYY-MM-DD that is a real calendar date. */
kn_code kn_check_date(const char *field, const char *value, kn_status *st);

/* page_size: 0 means def; negative is an error; values above max are capped. */
kn_code kn_page_size(const char *field, int value, int def, int max, int *out, kn_status *st);

#endif
