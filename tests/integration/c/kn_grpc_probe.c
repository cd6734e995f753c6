/* kn_grpc_probe: a small gRPC client on kn_client, so that the interop test
 * proves the C client side against the services (the Node tests prove the
 * server side with an independent implementation).
 *
 *   kn_grpc_probe TARGET health [SERVICE] [--timeout MS]
 *   kn_grpc_probe TARGET call /pkg.Service/Method [--raw-hex HEX | --fill N]
 *                 [--token T | --auth "Bearer T" | --sign-token ROLE[:TENANT[:SUB]]]
 *                 [--request-id ID] [--caller SERVICE] [--timeout MS] [--retry N]
 *
 * Prints one line: `code=<n> name=<CODE> message=<text>`, then for a
 * successful call ` response_hex=<hex>` and for health ` status=<STATUS>`.
 * --sign-token signs an HS256 token with KN_JWT_SECRET (tenant and sub
 * default to fixed UUIDs); --caller signs the call as that service with
 * KN_INTERNAL_SECRET, as kn_call_downstream would. --fill N sends N bytes of
 * 0xff (for the message size limit).
 *
 * Exit status: call: 0 once a gRPC status was received (whatever its code);
 * health: 0 when SERVING, 1 otherwise; 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "grpc/health/v1/health.pb-c.h"
#include "kn_client.h"
#include "kn_jwt.h"
#include "kn_server.h"

#define KN_PROBE_TENANT "00000000-0000-4000-8000-000000000001"
#define KN_PROBE_USER   "00000000-0000-4000-8000-0000000000aa"

static int usage(void)
{
    fprintf(stderr, "usage: kn_grpc_probe TARGET health [SERVICE] [--timeout MS]\n"
                    "       kn_grpc_probe TARGET call /pkg.Service/Method [--raw-hex HEX | "
                    "--fill N]\n"
                    "              [--token T | --auth VALUE | --sign-token ROLE[:TENANT[:SUB]]]\n"
                    "              [--request-id ID] [--caller SERVICE] [--timeout MS] "
                    "[--retry N]\n");
    return 2;
}

/* Message on one line, whatever the server sent. */
static void print_status(kn_code code, const char *msg)
{
    printf("code=%d name=%s message=", (int)code, kn_code_name(code));
    for (const char *p = msg; *p != '\0'; p++)
        putchar(*p == '\n' || *p == '\r' ? ' ' : *p);
}

static char *sign_token(const char *spec, kn_arena *a)
{
    const char *secret = getenv("KN_JWT_SECRET");
    if (secret == NULL || *secret == '\0') {
        fprintf(stderr, "kn_grpc_probe: --sign-token needs KN_JWT_SECRET\n");
        return NULL;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    char *role = buf;
    char *tenant = strchr(role, ':');
    char *sub = NULL;
    if (tenant != NULL) {
        *tenant++ = '\0';
        sub = strchr(tenant, ':');
        if (sub != NULL)
            *sub++ = '\0';
    }
    kn_identity id;
    memset(&id, 0, sizeof id);
    snprintf(id.tenant_id, sizeof id.tenant_id, "%s", tenant ? tenant : KN_PROBE_TENANT);
    snprintf(id.user_id, sizeof id.user_id, "%s", sub ? sub : KN_PROBE_USER);
    id.role = strcmp(role, "technician") == 0 ? KN_ROLE_TECHNICIAN : KN_ROLE_HQ;
    int64_t now = (int64_t)time(NULL);
    id.exp = now + 3600;
    char *tok = kn_arena_alloc(a, 2048);
    if (kn_jwt_sign(&id, now, (const unsigned char *)secret, strlen(secret), tok, 2048) < 0)
        return NULL;
    return tok;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    const char *target = argv[1];
    const char *cmd = argv[2];
    const char *arg = NULL;
    int i = 3;
    if (i < argc && strncmp(argv[i], "--", 2) != 0)
        arg = argv[i++];

    const char *raw_hex = NULL, *token = NULL, *auth = NULL, *sign = NULL;
    const char *request_id = NULL, *caller = NULL;
    long timeout = 5000, retry = 0, fill = -1;
    for (; i < argc; i++) {
        const char *o = argv[i];
        if (i + 1 >= argc)
            return usage();
        const char *v = argv[++i];
        if (strcmp(o, "--raw-hex") == 0)
            raw_hex = v;
        else if (strcmp(o, "--fill") == 0)
            fill = strtol(v, NULL, 10);
        else if (strcmp(o, "--token") == 0)
            token = v;
        else if (strcmp(o, "--auth") == 0)
            auth = v;
        else if (strcmp(o, "--sign-token") == 0)
            sign = v;
        else if (strcmp(o, "--request-id") == 0)
            request_id = v;
        else if (strcmp(o, "--caller") == 0)
            caller = v;
        else if (strcmp(o, "--timeout") == 0)
            timeout = strtol(v, NULL, 10);
        else if (strcmp(o, "--retry") == 0)
            retry = strtol(v, NULL, 10);
        else
            return usage();
    }
    int is_health = strcmp(cmd, "health") == 0;
    if (!is_health && (strcmp(cmd, "call") != 0 || arg == NULL || arg[0] != '/'))
        return usage();

    kn_runtime_init();
    int rc = 0;
    kn_arena *a = kn_arena_new(0);
    kn_channel *ch = kn_channel_new(target, 64 * 1024 * 1024);
    kn_call_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.timeout_ms = (int)timeout;
    opts.request_id = request_id;
    if (retry > 0) {
        opts.idempotent = 1;
        opts.max_attempts = (int)retry;
    }
    kn_status st;
    kn_status_clear(&st);

    if (is_health) {
        Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
        req.service = (char *)(arg ? arg : "");
        ProtobufCMessage *resp = NULL;
        kn_code code = kn_channel_call(ch, "/grpc.health.v1.Health/Check", &req.base,
                                       &grpc__health__v1__health_check_response__descriptor, &resp,
                                       a, &opts, &st);
        print_status(code, code == KN_OK ? "" : st.message);
        rc = 1;
        if (code == KN_OK) {
            const Grpc__Health__V1__HealthCheckResponse *r = (const void *)resp;
            const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
                &grpc__health__v1__health_check_response__serving_status__descriptor, r->status);
            printf(" status=%s", ev ? ev->name : "?");
            rc = r->status != GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
        }
        printf("\n");
        goto done;
    }

    unsigned char *req = NULL;
    size_t req_len = 0;
    if (fill >= 0) {
        req_len = (size_t)fill;
        req = kn_arena_alloc(a, req_len + 1);
        memset(req, 0xff, req_len);
    } else if (raw_hex != NULL) {
        size_t hl = strlen(raw_hex);
        req = kn_arena_alloc(a, hl / 2 + 1);
        if (sodium_hex2bin(req, hl / 2 + 1, raw_hex, hl, NULL, &req_len, NULL) != 0) {
            fprintf(stderr, "kn_grpc_probe: --raw-hex is not hex\n");
            rc = 2;
            goto done;
        }
    }
    if (sign != NULL) {
        token = sign_token(sign, a);
        if (token == NULL) {
            rc = 2;
            goto done;
        }
    }
    if (token != NULL)
        opts.authorization = kn_arena_sprintf(a, "Bearer %s", token);
    if (auth != NULL)
        opts.authorization = auth;
    if (caller != NULL) {
        const char *secret = getenv("KN_INTERNAL_SECRET");
        if (secret == NULL || *secret == '\0') {
            fprintf(stderr, "kn_grpc_probe: --caller needs KN_INTERNAL_SECRET\n");
            rc = 2;
            goto done;
        }
        opts.caller_service = caller;
        opts.internal_secret = (const unsigned char *)secret;
        opts.internal_secret_len = strlen(secret);
    }

    void *resp = NULL;
    size_t resp_len = 0;
    kn_code code = kn_channel_call_raw(ch, arg, req, req_len, &resp, &resp_len, a, &opts, &st);
    print_status(code, code == KN_OK ? "" : st.message);
    if (code == KN_OK) {
        char *hex = kn_arena_alloc(a, resp_len * 2 + 1);
        sodium_bin2hex(hex, resp_len * 2 + 1, resp, resp_len);
        printf(" response_hex=%s", hex);
    }
    printf("\n");

done:
    fflush(stdout);
    kn_channel_free(ch);
    kn_arena_free(a);
    kn_runtime_shutdown();
    return rc;
}
