-- Holders: the people and companies behind ledger accounts.
-- Every value that identifies a person lives in data_enc (AES-256-GCM, bound to
-- table, organization and id); document_hash is the blind index of the normalised
-- document (HMAC-SHA256 scoped to the organization) used for search and uniqueness.
CREATE TABLE holders (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL,
    type            text        NOT NULL CHECK (type IN ('NATURAL_PERSON', 'LEGAL_PERSON')),
    external_id     text,
    data_enc        bytea       NOT NULL,
    document_hash   bytea       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    version         integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    deleted_at      timestamptz
);

-- At most one active holder per (organization, document): a race cannot create two.
CREATE UNIQUE INDEX holders_document_hash_active_key
    ON holders (organization_id, document_hash) WHERE deleted_at IS NULL;

-- Keyset pagination within an organization (ids are UUIDv7, so id order is creation order).
CREATE INDEX holders_organization_id_id_idx ON holders (organization_id, id);
CREATE INDEX holders_organization_id_external_id_idx ON holders (organization_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX holders_document_hash_idx ON holders (document_hash);
CREATE INDEX holders_metadata_idx ON holders USING gin (metadata jsonb_path_ops);
