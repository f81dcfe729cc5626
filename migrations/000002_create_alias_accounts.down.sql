DROP TABLE IF EXISTS alias_accounts;
