/* kn_admin: libmicrohttpd with one internal polling thread. Scrapes are a
 * few per minute, so one thread and a small connection limit are plenty,
 * and a misbehaving scraper cannot take threads from the gRPC workers. */
#include "kn_admin.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kn_log.h"
#include "kn_metrics.h"

struct kn_admin {
    struct MHD_Daemon *d;
    int port;
};

static enum MHD_Result kn_admin_reply(struct MHD_Connection *conn, unsigned status,
                                      const char *ctype, void *body, size_t len,
                                      enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (r == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result kn_admin_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                        const char *method, const char *version,
                                        const char *upload_data, size_t *upload_data_size,
                                        void **req_cls)
{
    static const char text[] = "text/plain; charset=utf-8";
    /* The first call only announces the headers; answering then would
     * leave a request body unread. */
    if (*req_cls == NULL) {
        *req_cls = conn;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    int is_metrics = strcmp(url, "/metrics") == 0;
    int is_health = strcmp(url, "/healthz") == 0;
    if (!is_metrics && !is_health)
        return kn_admin_reply(conn, MHD_HTTP_NOT_FOUND, text, "not found\n", 10,
                              MHD_RESPMEM_PERSISTENT);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return kn_admin_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text, "method not allowed\n", 19,
                              MHD_RESPMEM_PERSISTENT);
    if (is_health)
        return kn_admin_reply(conn, MHD_HTTP_OK, text, "ok\n", 3, MHD_RESPMEM_PERSISTENT);
    size_t len = 0;
    char *body = kn_metrics_render_alloc(&len);
    if (body == NULL)
        return kn_admin_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, text, "out of memory\n", 14,
                              MHD_RESPMEM_PERSISTENT);
    return kn_admin_reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
                          MHD_RESPMEM_MUST_FREE);
}

/* "host:port" or "[v6]:port" into host and port strings. */
static int kn_admin_split(const char *listen, char *host, size_t hostlen, char *port,
                          size_t portlen)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) >= portlen)
        return -1;
    const char *h = listen;
    size_t hl = (size_t)(colon - listen);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= hostlen)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    for (const char *p = colon + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
    }
    snprintf(port, portlen, "%s", colon + 1);
    return strtol(port, NULL, 10) <= 65535 ? 0 : -1;
}

kn_admin *kn_admin_start(const char *listen, kn_status *st)
{
    char host[256], port[8];
    if (listen == NULL || kn_admin_split(listen, host, sizeof host, port, sizeof port) != 0) {
        kn_status_set(st, KN_INVALID_ARGUMENT, "admin listen address \"%s\" is not host:port",
                      listen != NULL ? listen : "");
        return NULL;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0 || ai == NULL) {
        kn_status_set(st, KN_INVALID_ARGUMENT, "admin listen address \"%s\": %s", listen,
                      gai_strerror(gai));
        return NULL;
    }
    kn_admin *a = calloc(1, sizeof *a);
    if (a == NULL)
        abort();
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    a->d = MHD_start_daemon(flags, 0, NULL, NULL, kn_admin_handler, a, MHD_OPTION_SOCK_ADDR,
                            ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (a->d == NULL) {
        free(a);
        kn_status_set(st, KN_UNAVAILABLE, "cannot listen on %s (admin): address in use or invalid",
                      listen);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
    a->port = info != NULL ? info->port : (int)strtol(port, NULL, 10);
    kn_log_info("admin listener on %s (port %d): /metrics, /healthz", listen, a->port);
    return a;
}

int kn_admin_port(const kn_admin *a)
{
    return a != NULL ? a->port : -1;
}

void kn_admin_stop(kn_admin *a)
{
    if (a == NULL)
        return;
    MHD_stop_daemon(a->d);
    free(a);
}
