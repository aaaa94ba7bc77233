-- Key sharing (issue 4): per-key thresholds that override usage-guard.sharing.{warn,block}-networks.
-- Null means "use the configured value". Versioned 2.4 so it sorts after any V2 of another change.
alter table api_keys add column sharing_warn_networks integer;
alter table api_keys add column sharing_block_networks integer;
