-- Alias accounts: the business context of one Midaz ledger account.
-- data_enc (AES-256-GCM, bound to table, organization and id) holds the bank account
-- number, the IBAN, the participant document and the related parties (with their names
-- and documents). Blind indexes (HMAC-SHA256, scoped to organization and field) make the
-- searchable ones findable: *_hash columns, and related_party_hashes, which holds for
-- each related party one token for its document and one for its role + document.
CREATE TABLE alias_accounts (
    id                        uuid        PRIMARY KEY,
    organization_id           uuid        NOT NULL,
    holder_id                 uuid        NOT NULL REFERENCES holders (id) ON DELETE RESTRICT,
    ledger_id                 uuid        NOT NULL,
    account_id                uuid        NOT NULL,
    branch                    text,
    bank_type                 text,
    country_code              text,
    bank_id                   text,
    opening_date              date,
    closing_date              date,
    data_enc                  bytea       NOT NULL,
    bank_account_hash         bytea,
    iban_hash                 bytea,
    participant_document_hash bytea,
    related_party_hashes      bytea[]     NOT NULL DEFAULT '{}',
    related_party_roles       text[]      NOT NULL DEFAULT '{}',
    metadata                  jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    version                   integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    deleted_at                timestamptz,
    CHECK (closing_date IS NULL OR opening_date IS NULL OR closing_date >= opening_date)
);

-- At most one active alias account per (organization, ledger account): race-proof.
CREATE UNIQUE INDEX alias_accounts_account_id_active_key
    ON alias_accounts (organization_id, account_id) WHERE deleted_at IS NULL;

CREATE INDEX alias_accounts_organization_id_id_idx ON alias_accounts (organization_id, id);
CREATE INDEX alias_accounts_holder_id_idx ON alias_accounts (holder_id, id);
CREATE INDEX alias_accounts_organization_id_ledger_id_idx ON alias_accounts (organization_id, ledger_id);
CREATE INDEX alias_accounts_bank_account_hash_idx ON alias_accounts (bank_account_hash) WHERE bank_account_hash IS NOT NULL;
CREATE INDEX alias_accounts_iban_hash_idx ON alias_accounts (iban_hash) WHERE iban_hash IS NOT NULL;
CREATE INDEX alias_accounts_participant_document_hash_idx ON alias_accounts (participant_document_hash)
    WHERE participant_document_hash IS NOT NULL;
CREATE INDEX alias_accounts_related_party_hashes_idx ON alias_accounts USING gin (related_party_hashes);
CREATE INDEX alias_accounts_related_party_roles_idx ON alias_accounts USING gin (related_party_roles);
CREATE INDEX alias_accounts_metadata_idx ON alias_accounts USING gin (metadata jsonb_path_ops);
