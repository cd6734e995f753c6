/* location-svc: locations, doors, packages, door contents, activity and the
 * locker stock (konnect.location.v1.LocationService). */
#include "loc.h"

static const kn_method_binding bindings[] = {
    {"CreateLocation", loc_create_location, 0},
    {"GetLocation", loc_get_location, 0},
    {"ListLocations", loc_list_locations, 0},
    {"CreateDoor", loc_create_door, 0},
    {"ListDoors", loc_list_doors, 0},
    {"UpdateDoor", loc_update_door, 0},
    {"RegisterPackage", loc_register_package, 0},
    {"GetPackage", loc_get_package, 0},
    {"ListPackages", loc_list_packages, 0},
    {"DeliverPackage", loc_deliver_package, 0},
    {"ListDoorContents", loc_list_door_contents, 0},
    {"CollectPackages", loc_collect_packages, 0},
    {"ReturnPackage", loc_return_package, 0},
    {"SearchActivity", loc_search_activity, 0},
    {"ListStock", loc_list_stock, 0},
    {"AdjustStock", loc_adjust_stock, 0},
    {"AttachPackages", loc_attach_packages, KN_METHOD_INTERNAL},
    {"DetachPackages", loc_detach_packages, KN_METHOD_INTERNAL},
    {"SetPackageAssignee", loc_set_package_assignee, KN_METHOD_INTERNAL},
    {"ReserveStock", loc_reserve_stock, KN_METHOD_INTERNAL},
    {"ReleaseStock", loc_release_stock, KN_METHOD_INTERNAL},
};

static const kn_service_def location_service = {
    .name = "location-svc",
    .default_listen = "127.0.0.1:7101",
    .default_migrations_dir = KN_DEFAULT_MIGRATIONS_DIR,
    .service = &konnect__location__v1__location_service__descriptor,
    .bindings = bindings,
    .nbindings = sizeof bindings / sizeof bindings[0],
    .cache_key_pattern = "kn:location:*",
};

int main(int argc, char **argv)
{
    return kn_service_main(argc, argv, &location_service);
}
