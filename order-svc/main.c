/* order-svc: orders (job and stock), their packages and stock lines, their
 * history and their current assignee. See docs/order-svc.md. */
#include "kn_config.h"
#include "kn_log.h"
#include "order_svc.h"

kn_channel *order_location_channel;

static kn_code setup(const kn_service_config *cfg, kn_status *st)
{
    const char *target = kn_config_str("KN_LOCATION_SVC_TARGET", "ipv4:127.0.0.1:7101");
    order_location_channel = kn_channel_new(target, (int)cfg->max_message_bytes);
    if (!order_location_channel)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "KN_LOCATION_SVC_TARGET is not usable");
    return KN_OK;
}

static void teardown(void)
{
    kn_channel_free(order_location_channel);
    order_location_channel = NULL;
}

static const kn_method_binding bindings[] = {
    {"CreateOrder", order_create, 0},
    {"GetOrder", order_get, 0},
    {"ListOrders", order_list, 0},
    {"UpdateOrder", order_update, 0},
    {"AddPackages", order_add_packages, 0},
    {"RemovePackages", order_remove_packages, 0},
    {"CancelOrder", order_cancel, 0},
    {"CollectOrder", order_collect, 0},
    {"ListOrderHistory", order_list_history, 0},
    {"SetAssignee", order_set_assignee, KN_METHOD_INTERNAL},
};

static const kn_service_def order_service = {
    .name = ORDER_SERVICE_NAME,
    .default_listen = "127.0.0.1:7102",
    .default_migrations_dir = KN_DEFAULT_MIGRATIONS_DIR,
    .service = &konnect__order__v1__order_service__descriptor,
    .bindings = bindings,
    .nbindings = sizeof(bindings) / sizeof(bindings[0]),
    .setup = setup,
    .teardown = teardown,
    .tick = order_repair_tick,
    .tick_interval_ms = 1000,
    .cache_key_pattern = "kn:order:*",
};

int main(int argc, char **argv)
{
    return kn_service_main(argc, argv, &order_service);
}
