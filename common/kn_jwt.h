/* kn_jwt: the caller's identity, carried as an HS256 JWT in the
 * `authorization: Bearer <token>` metadata of every call. Claims: sub (user
 * id), tenant (tenant id), role ("hq" | "technician"), exp, and optionally
 * iat/nbf. Verification is strict: header alg must be exactly HS256 (alg
 * none, RS256 and any other are refused), the signature is compared in
 * constant time, exp is required and nbf honoured (both with 30 s of leeway
 * for clock skew between hosts), sub and tenant must be UUIDs; tokens over
 * 8 KiB are refused unparsed. Secrets come from KN_JWT_SECRET and are never logged. */
#ifndef KN_JWT_H
#define KN_JWT_H

#include <stddef.h>
#include <stdint.h>
#include "kn_status.h"

typedef enum { KN_ROLE_NONE = 0, KN_ROLE_HQ = 1, KN_ROLE_TECHNICIAN = 2 } kn_role;

#define KN_UUID_STR_LEN 36

typedef struct {
    char user_id[KN_UUID_STR_LEN + 1];
    char tenant_id[KN_UUID_STR_LEN + 1];
    kn_role role;
    int64_t exp; /* seconds since the epoch */
} kn_identity;

/* Verifies token (without the "Bearer " prefix) at time now (seconds).
 * KN_OK and *out filled, or KN_UNAUTHENTICATED with a message that says
 * what was wrong (never echoing the token). */
kn_code kn_jwt_verify(const char *token, size_t token_len, const unsigned char *secret,
                      size_t secret_len, int64_t now, kn_identity *out, kn_status *st);

/* kn_jwt_verify with secret, then with verify_secret when it is set: the
 * second secret of a rotation, accepted but never used to sign
 * (KN_JWT_VERIFY_SECRET). A failure reports what `secret` found. */
kn_code kn_jwt_verify_any(const char *token, size_t token_len, const unsigned char *secret,
                          size_t secret_len, const unsigned char *verify_secret,
                          size_t verify_secret_len, int64_t now, kn_identity *out, kn_status *st);

/* Signs a token for id (id->exp is written as exp, now as iat) into out.
 * Returns the token length, or -1 if outlen is too small. */
int kn_jwt_sign(const kn_identity *id, int64_t now, const unsigned char *secret, size_t secret_len,
                char *out, size_t outlen);

const char *kn_role_name(kn_role role); /* "hq", "technician", "" */

#endif
