-- Usage records for billing: one row per account, key, model and UTC day, upserted in batches by
-- io.usageguard.metering.UsageMeter. Runs unchanged on H2 (MODE=PostgreSQL) and PostgreSQL.
-- Counts only: no prompt, completion, body, header or key material is ever stored here.

create table usage_records (
    account_id        varchar(128)  not null,
    key_id            varchar(64)   not null,
    model             varchar(200)  not null,
    usage_day         date          not null,
    requests          bigint        not null default 0,
    rejected_requests bigint        not null default 0,
    prompt_tokens     bigint        not null default 0,
    completion_tokens bigint        not null default 0,
    updated_at        timestamp with time zone not null,
    constraint usage_records_pk primary key (account_id, usage_day, model, key_id)
);
