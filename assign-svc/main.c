/* assign-svc: users, login, and the assignment of orders and packages.
 *
 *   assign-svc                 serve (configuration from the environment)
 *   assign-svc create-tenant   create a tenant and its first hq user
 *   assign-svc --version */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "assign.h"
#include "kn_config.h"
#include "kn_log.h"

#ifndef KN_DEFAULT_MIGRATIONS_DIR
#define KN_DEFAULT_MIGRATIONS_DIR "migrations"
#endif

assign_settings assign_cfg;

kn_code assign_settings_load(kn_status *st)
{
    long ops = 0, mem_kib = 0;
    if (kn_config_int("KN_ASSIGN_LOCK_TTL_MS", 5000, 10, 600000, &assign_cfg.lock_ttl_ms, st) !=
            KN_OK ||
        kn_config_int("KN_ASSIGN_LOCK_WAIT_MS", 5000, 0, 600000, &assign_cfg.lock_wait_ms, st) !=
            KN_OK ||
        kn_config_int("KN_ASSIGN_REPAIR_AFTER_MS", 5000, 100, 3600000, &assign_cfg.repair_after_ms,
                      st) != KN_OK ||
        kn_config_int("KN_ASSIGN_REPAIR_INTERVAL_MS", 1000, 50, 600000,
                      &assign_cfg.repair_interval_ms, st) != KN_OK ||
        kn_config_int("KN_ASSIGN_LOGIN_MAX_FAILURES", 10, 1, 1000000,
                      &assign_cfg.login_max_failures, st) != KN_OK ||
        kn_config_int("KN_ASSIGN_LOGIN_WINDOW_S", 900, 1, 86400L * 30, &assign_cfg.login_window_s,
                      st) != KN_OK ||
        kn_config_int("KN_ASSIGN_PWHASH_OPSLIMIT", crypto_pwhash_OPSLIMIT_INTERACTIVE,
                      crypto_pwhash_OPSLIMIT_MIN, 64, &ops, st) != KN_OK ||
        /* OWASP's Argon2id baseline (19 MiB, t=2): libsodium's
         * "interactive" 64 MiB took ~0.5 s per login on the 2-core target. */
        kn_config_int("KN_ASSIGN_PWHASH_MEMLIMIT_KIB", 19L * 1024,
                      crypto_pwhash_MEMLIMIT_MIN / 1024 + 1, 4L * 1024 * 1024, &mem_kib,
                      st) != KN_OK ||
        kn_config_bool("KN_TEST_HOOKS", 0, &assign_cfg.test_hooks, st) != KN_OK ||
        kn_config_int("KN_TEST_HOOK_ASSIGN_PAUSE_MS", 0, 0, 600000, &assign_cfg.test_pause_ms,
                      st) != KN_OK)
        return st->code;
    assign_cfg.pwhash_opslimit = (unsigned long long)ops;
    assign_cfg.pwhash_memlimit = (size_t)mem_kib * 1024;
    if (!assign_cfg.test_hooks)
        assign_cfg.test_pause_ms = 0;
    return KN_OK;
}

static kn_code setup(const kn_service_config *cfg, kn_status *st)
{
    assign_cfg.svc = cfg;
    if (assign_auth_init(st) != KN_OK || assign_downstream_init(cfg, st) != KN_OK)
        return st->code;
    kn_log_info("assign-svc: lock ttl %ld ms, wait %ld ms, repair after %ld ms every %ld ms%s",
                assign_cfg.lock_ttl_ms, assign_cfg.lock_wait_ms, assign_cfg.repair_after_ms,
                assign_cfg.repair_interval_ms, assign_cfg.test_hooks ? ", test hooks ON" : "");
    return KN_OK;
}

static void teardown(void)
{
    assign_downstream_free();
}

static const kn_method_binding bindings[] = {
    {"CreateUser", assign_create_user, 0},
    {"GetUser", assign_get_user, 0},
    {"ListUsers", assign_list_users, 0},
    {"UpdateUser", assign_update_user, 0},
    {"Authenticate", assign_authenticate, KN_METHOD_PUBLIC},
    {"AssignOrder", assign_assign_order, 0},
    {"UnassignOrder", assign_unassign_order, 0},
    {"SelfAssignOrder", assign_self_assign_order, 0},
    {"AssignPackage", assign_assign_package, 0},
    {"UnassignPackage", assign_unassign_package, 0},
    {"ListAssignments", assign_list_assignments, 0},
};

static kn_service_def assign_service = {
    .name = "assign-svc",
    .default_listen = "127.0.0.1:7103",
    .default_migrations_dir = KN_DEFAULT_MIGRATIONS_DIR,
    .service = &konnect__assign__v1__assign_service__descriptor,
    .bindings = bindings,
    .nbindings = sizeof(bindings) / sizeof(bindings[0]),
    .setup = setup,
    .teardown = teardown,
    .tick = assign_repair_tick,
    .tick_interval_ms = 1000,
};

int main(int argc, char **argv)
{
    /* A subcommand, handled before the server runtime starts. */
    if (argc > 1 && strcmp(argv[1], "create-tenant") == 0)
        return assign_create_tenant_main(argc - 1, argv + 1);
    kn_status st;
    kn_status_clear(&st);
    if (assign_settings_load(&st) != KN_OK) {
        fprintf(stderr, "assign-svc: %s\n", st.message);
        return 2;
    }
    assign_service.tick_interval_ms = (int)assign_cfg.repair_interval_ms;
    return kn_service_main(argc, argv, &assign_service);
}
