package main

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestFederation proves the federation subgraph and the GraphQL-over-HTTP transport with
// the real tools, in Node (test/federation/): Apollo composition of our _service SDL with
// a stand-in ledger subgraph, @apollo/gateway resolving ledger accounts' holders and
// alias accounts end to end, and the graphql-http server audits. The federated server
// runs with introspection off (federation must not need it) and is seeded through its
// API; the audits run against a second one in the development default.
func TestFederation(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("Node.js not installed: federation and GraphQL-over-HTTP checks skipped")
	}
	nodeDir := filepath.Join("test", "federation")
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules")); err != nil {
		t.Fatalf("%s/node_modules is missing: run `make node-deps` (make test does it)", nodeDir)
	}
	files, err := filepath.Glob(filepath.Join(nodeDir, "*.test.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Node tests in %s: %v", nodeDir, err)
	}

	dir := reachableTempDir(t)
	env := map[string]string{
		"SERVER_ADDRESS":             "127.0.0.1:0",
		"DATA_DIR":                   filepath.Join(dir, "data"),
		"LCRYPTO_ENCRYPT_SECRET_KEY": strings.Repeat("0f1e2d3c4b5a6978", 4),
		"LCRYPTO_HASH_SECRET_KEY":    strings.Repeat("8796a5b4c3d2e1f0", 4),
		"GRAPHQL_INTROSPECTION":      "false",
		"GRAPHQL_PLAYGROUND":         "false",
	}
	logs := &syncBuffer{}
	base, stop := startServer(t, env, filepath.Join(dir, ".env"), logs)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	// The GraphQL-over-HTTP audits run against a second server in the development default
	// (introspection on): two of their MUST checks query __type, which a server with
	// introspection off rightly refuses.
	auditEnv := maps.Clone(env)
	auditEnv["DATA_DIR"] = filepath.Join(dir, "audit-data")
	auditEnv["GRAPHQL_INTROSPECTION"] = "true"
	auditLogs := &syncBuffer{}
	auditBase, stopAudit := startServer(t, auditEnv, filepath.Join(dir, ".env"), auditLogs)
	defer func() {
		if err := stopAudit(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()

	// Seed: one holder with two alias accounts in org, and one account in another organization.
	org, otherOrg := uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
	ledger := uuid.Must(uuid.NewV7()).String()
	const holderName = "Federated Holder"
	ibans := []string{"BR1500000000000010932840814P2", "GB82WEST12345698765432"}
	createHolder := func(org, document string) string {
		data := gqlPost(t, base, org, `mutation($in: CreateHolderInput!) { createHolder(input: $in) { holder { id } } }`,
			map[string]any{"in": map[string]any{"type": "NATURAL_PERSON", "name": holderName, "document": document}})
		return data["createHolder"].(map[string]any)["holder"].(map[string]any)["id"].(string)
	}
	createAlias := func(org, holderID, iban string) string {
		account := uuid.Must(uuid.NewV7()).String()
		gqlPost(t, base, org, `mutation($in: CreateAliasAccountInput!) { createAliasAccount(input: $in) { aliasAccount { id } } }`,
			map[string]any{"in": map[string]any{"holderId": holderID, "ledgerId": ledger, "accountId": account,
				"bankingDetails": map[string]any{"iban": iban}}})
		return account
	}
	holder := createHolder(org, "FED-0001")
	var accounts []string
	for _, iban := range ibans {
		accounts = append(accounts, createAlias(org, holder, iban))
	}
	otherAccount := createAlias(otherOrg, createHolder(otherOrg, "FED-0002"), "DE89370400440532013000")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append([]string{"--test", "--test-reporter=spec", "--test-timeout=180000"}, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.WaitDelay = 10 * time.Second // node's test files are child processes that may hold the output pipe
	cmd.Env = append(nodeEnviron(),
		"APOLLO_TELEMETRY_DISABLED=true", // no telemetry from @apollo/gateway to Apollo's cloud
		"NO_COLOR=1",
		"CRM_SUBGRAPH_URL="+base+"/graphql",
		"CRM_AUDIT_URL="+auditBase+"/graphql",
		"CRM_ORGANIZATION_ID="+org,
		"CRM_ACCOUNT_IDS="+strings.Join(accounts, ","),
		"CRM_IBANS="+strings.Join(ibans, ","),
		"CRM_HOLDER_NAME="+holderName,
		"CRM_OTHER_ORG_ACCOUNT_ID="+otherAccount,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test %s: %v\n%s\nserver logs:\n%s\naudited server logs:\n%s", nodeDir, err, out, logs.String(), auditLogs.String())
	}
	t.Logf("node --test %s:\n%s", nodeDir, out)
}

// nodeEnviron is this process's environment without Apollo's cloud settings (a key or
// graph ref would make Apollo Server report usage) and without Node options that could
// change how the tests run.
func nodeEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "APOLLO_") || strings.HasPrefix(kv, "NODE_OPTIONS=") || strings.HasPrefix(kv, "NODE_TEST_CONTEXT=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
