-- SearchActivity (location_store.c: activity_exact_stmt, activity_prefix_stmt,
-- activity_partial_stmt) is right only with plans made for the values: an
-- index range for a rare prefix, a newest-first walk for a common one, the
-- "$n = '' OR" filter arms folded away; a generic plan of `LIKE $n` can use
-- no index range at all. Every other statement of this service is a key
-- or small-index lookup whose planning is cheap, so the whole database
-- plans with the actual parameters (as order-svc's does). No JIT: a large
-- row estimate passes jit_above_cost and compiling costs more than the
-- query. No parallel workers: a LIMITed index read gains nothing from them
-- on a busy server. Applies to connections opened after this migration
-- (the workers connect after migrations ran).
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET plan_cache_mode = force_custom_plan',
                   current_database());
    EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
    EXECUTE format('ALTER DATABASE %I SET max_parallel_workers_per_gather = 0',
                   current_database());
END $$;
