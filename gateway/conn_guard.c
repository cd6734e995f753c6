/* conn_guard: cuts off clients that take too long to send a request's
 * headers. libmicrohttpd's connection timeout counts only inactivity, so a
 * client dripping one header byte at a time ("slowloris") would hold its
 * connection forever. Each connection's header phase starts when it opens
 * or its previous request completes and ends when the request reaches the
 * access handler; a watchdog thread shuts down the socket of any connection
 * whose header phase outlasts KN_GATEWAY_CONN_TIMEOUT_S, and libmicrohttpd
 * then closes it as a client that went away. The list is locked only when a
 * connection opens or closes and once per sweep, never per request. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "gateway.h"
#include "kn_log.h"

struct gw_guard_conn {
    int fd;
    atomic_int in_request;
    atomic_llong phase_start_us;
    int cut;
    struct gw_guard_conn *prev, *next;
};

static pthread_mutex_t guard_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t guard_cv = PTHREAD_COND_INITIALIZER;
static struct gw_guard_conn *guard_head;
static pthread_t guard_thread;
static int guard_running, guard_stop;
static int64_t guard_limit_us;

gw_guard_conn *gw_guard_open(int fd)
{
    gw_guard_conn *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->fd = fd;
    atomic_store(&g->phase_start_us, gw_now_us());
    pthread_mutex_lock(&guard_mu);
    g->next = guard_head;
    if (guard_head != NULL)
        guard_head->prev = g;
    guard_head = g;
    pthread_mutex_unlock(&guard_mu);
    return g;
}

void gw_guard_close(gw_guard_conn *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&guard_mu);
    if (g->prev != NULL)
        g->prev->next = g->next;
    else
        guard_head = g->next;
    if (g->next != NULL)
        g->next->prev = g->prev;
    pthread_mutex_unlock(&guard_mu);
    free(g);
}

void gw_guard_request_started(gw_guard_conn *g)
{
    if (g != NULL)
        atomic_store(&g->in_request, 1);
}

void gw_guard_request_done(gw_guard_conn *g)
{
    if (g == NULL)
        return;
    atomic_store(&g->phase_start_us, gw_now_us());
    atomic_store(&g->in_request, 0);
}

static void *guard_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&guard_mu);
    while (!guard_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 250L * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&guard_cv, &guard_mu, &until);
        int64_t now = gw_now_us();
        /* Under the lock a connection cannot finish closing, so its fd is
         * still its own. */
        for (gw_guard_conn *g = guard_head; g != NULL; g = g->next) {
            if (g->cut || atomic_load(&g->in_request) ||
                now - atomic_load(&g->phase_start_us) <= guard_limit_us)
                continue;
            g->cut = 1;
            shutdown(g->fd, SHUT_RDWR);
            gw_metrics_slow_client();
        }
    }
    pthread_mutex_unlock(&guard_mu);
    return NULL;
}

int gw_guard_start(int64_t limit_us)
{
    guard_limit_us = limit_us;
    guard_stop = 0;
    if (pthread_create(&guard_thread, NULL, guard_main, NULL) != 0) {
        kn_log_error("cannot start the slow-client watchdog");
        return -1;
    }
    guard_running = 1;
    return 0;
}

void gw_guard_stop(void)
{
    if (!guard_running)
        return;
    pthread_mutex_lock(&guard_mu);
    guard_stop = 1;
    pthread_cond_signal(&guard_cv);
    pthread_mutex_unlock(&guard_mu);
    pthread_join(guard_thread, NULL);
    guard_running = 0;
}
