/* gateway: HTTP/JSON -> gRPC for Konnect (see gateway.h, docs/gateway.md).
 *
 *   gateway                 serve (configuration from KN_* variables)
 *   gateway --print-routes  print "METHOD PATH" per route and exit
 *   gateway --version */
#include "gateway.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kn_config.h"
#include "kn_log.h"
#include "kn_server.h"

#ifndef KN_DEFAULT_WEB_DIR
#define KN_DEFAULT_WEB_DIR "gateway/web"
#endif

gw_config gw_cfg;
kn_channel *gw_channels[GW_SVC_COUNT];

static int load_int(const char *name, long def, long min, long max, long *out)
{
    kn_status st;
    if (kn_config_int(name, def, min, max, out, &st) != KN_OK) {
        fprintf(stderr, "gateway: %s\n", st.message);
        return -1;
    }
    return 0;
}

static int load_config(void)
{
    static char openapi_default[4096];
    gw_config *c = &gw_cfg;
    c->listen = kn_config_str("KN_GATEWAY_LISTEN", "127.0.0.1:8080");
    c->web_dir = kn_config_str("KN_GATEWAY_WEB_DIR", KN_DEFAULT_WEB_DIR);
    snprintf(openapi_default, sizeof openapi_default, "%s/../openapi.yaml", c->web_dir);
    c->openapi_path = kn_config_str("KN_GATEWAY_OPENAPI", openapi_default);
    c->cors_origins = kn_config_str("KN_CORS_ORIGINS", "");
    c->targets[GW_SVC_ORDER] = kn_config_str("KN_ORDER_SVC_TARGET", "127.0.0.1:7102");
    c->targets[GW_SVC_ASSIGN] = kn_config_str("KN_ASSIGN_SVC_TARGET", "127.0.0.1:7103");
    c->targets[GW_SVC_LOCATION] = kn_config_str("KN_LOCATION_SVC_TARGET", "127.0.0.1:7101");
    const char *secret = kn_config_str("KN_JWT_SECRET", "");
    c->jwt_secret = (const unsigned char *)secret;
    c->jwt_secret_len = strlen(secret);
    const char *verify_secret = kn_config_str("KN_JWT_VERIFY_SECRET", "");
    c->jwt_verify_secret = (const unsigned char *)verify_secret;
    c->jwt_verify_secret_len = strlen(verify_secret);
    if (load_int("KN_GATEWAY_THREADS", 2, 1, 64, &c->threads) ||
        load_int("KN_GATEWAY_CQ_THREADS", 1, 1, 8, &c->cq_threads) ||
        load_int("KN_GATEWAY_MAX_CONNECTIONS", 4096, 16, 1000000, &c->max_connections) ||
        load_int("KN_GATEWAY_PER_IP_CONNECTIONS", 0, 0, 1000000, &c->per_ip_connections) ||
        load_int("KN_GATEWAY_CONN_TIMEOUT_S", 30, 1, 3600, &c->conn_timeout_s) ||
        load_int("KN_GATEWAY_CONN_MEMORY", 32768, 4096, 16L << 20, &c->conn_memory) ||
        load_int("KN_GATEWAY_MAX_BODY_BYTES", 1L << 20, 1024, 64L << 20, &c->max_body) ||
        load_int("KN_GATEWAY_CALL_TIMEOUT_MS", 5000, 100, 600000, &c->call_timeout_ms) ||
        load_int("KN_GATEWAY_MAX_PAGE_SIZE", 500, 1, 10000, &c->max_page_size) ||
        load_int("KN_JWT_TTL_S", 900, 30, 86400, &c->jwt_ttl_s) ||
        load_int("KN_GATEWAY_RATE_LIMIT_RPS", 100, 0, 1000000, &c->rate_rps) ||
        load_int("KN_GATEWAY_RATE_LIMIT_BURST", 200, 1, 1000000, &c->rate_burst) ||
        load_int("KN_GATEWAY_LOGIN_MAX_FAILURES", 5, 1, 1000, &c->login_max_failures) ||
        load_int("KN_GATEWAY_LOGIN_WINDOW_S", 60, 1, 86400, &c->login_window_s) ||
        load_int("KN_MAX_MESSAGE_BYTES", 4L << 20, 1024, 256L << 20, &c->max_message_bytes))
        return -1;
    return 0;
}

/* One line per route: method, path, gRPC method (or the gateway's own
 * handler), the fields the path variables fill, flags; tab-separated. The
 * first two columns are what the OpenAPI test compares. */
static void print_routes(void)
{
    static const char *const kinds[] = {"grpc",   "create-order", "login",   "healthz",
                                        "readyz", "metrics",      "openapi", "static"};
    static const char *const flags[] = {
        "body", "query", "idempotency", "if-match", "if-match-required", "etag", "public", "paged"};
    for (size_t i = 0; i < gw_nroutes; i++) {
        const gw_route *r = &gw_routes[i];
        const ProtobufCServiceDescriptor *sd = gw_svc_descriptor(r->svc);
        printf("%s\t%s\t", r->method, r->path);
        if (sd != NULL && r->rpc != NULL)
            printf("%s/%s", sd->name, r->rpc);
        else
            printf("-");
        printf("\t%s\t%s%s%s\t", kinds[r->kind], r->vars[0] ? r->vars[0] : "-",
               r->vars[1] ? "," : "", r->vars[1] ? r->vars[1] : "");
        int n = 0;
        for (unsigned b = 0; b < 8; b++)
            if (r->flags & (1u << b))
                printf("%s%s", n++ ? "," : "", flags[b]);
        printf("%s\n", n ? "" : "-");
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--print-routes") == 0) {
            print_routes();
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("gateway %s\n", KN_VERSION);
            return 0;
        }
        fprintf(stderr, "usage: gateway [--print-routes | --version]\n");
        return 2;
    }
    kn_log_init("gateway");
    if (load_config() != 0)
        return 2;
    if (gw_cfg.jwt_secret_len == 0)
        kn_log_warn("KN_JWT_SECRET is empty: login cannot sign tokens and tokens are checked "
                    "only by the services");
    kn_runtime_init();
    kn_client_set_async_threads((int)gw_cfg.cq_threads);
    int rc = 1;
    for (int s = 0; s < GW_SVC_COUNT; s++) {
        gw_channels[s] = kn_channel_new(gw_cfg.targets[s], (int)gw_cfg.max_message_bytes);
        if (gw_channels[s] == NULL)
            kn_log_warn("no channel to the %s service (target \"%s\")", gw_svc_label(s),
                        gw_cfg.targets[s]);
    }
    if (gw_api_init() != 0 || gw_auth_init() != 0)
        goto done;
    if (gw_http_start(kn_config_str("KN_GATEWAY_ADMIN_LISTEN", "")) != 0)
        goto done;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    sigwait(&set, &sig);
    kn_log_info("signal %d: stopping", sig);
    rc = 0;
done:
    gw_http_stop();
    /* Every call has completed (gw_http_stop waited); join the threads. */
    kn_client_shutdown();
    gw_api_shutdown();
    for (int s = 0; s < GW_SVC_COUNT; s++)
        kn_channel_free(gw_channels[s]);
    kn_runtime_shutdown();
    return rc;
}
