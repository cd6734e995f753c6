-- ListOrders binds every filter as a range parameter (order_store.c). A
-- generic plan of such a statement multiplies the default selectivities of
-- a dozen unknown ranges into "1 row" and picks a sort over any index
-- (1.4 s on 200k rows, measured), while the custom plan walks the chosen
-- index in order and stops after a page (≈1 ms). So order-svc's sessions
-- always plan with the actual parameters; planning costs ≈0.5 ms, and every
-- other statement of this service is a primary-key or small-index lookup
-- whose planning is cheap. Applies to connections opened after this
-- migration (the workers connect after migrations ran).
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET plan_cache_mode = force_custom_plan',
                   current_database());
END $$;
