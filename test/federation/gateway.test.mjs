// Gateway end to end: @apollo/gateway over a stand-in ledger subgraph (owner of Account,
// served from this process) and our real subgraph, resolving
//   accounts { id holder { name } aliasAccount { bankingDetails { iban } } }
// with the organization header forwarded from the incoming request to our subgraph.
//
// Run by federation_test.go (TestFederation), which starts the real server, seeds a
// holder with alias accounts in one organization (and one in another) and passes
// their ids. Only 127.0.0.1 is contacted.

// No telemetry or usage reporting to Apollo's cloud: the gateway reads this in its
// constructor (otherwise it also probes cloud metadata endpoints), Apollo Server reports
// only with an APOLLO_KEY.
process.env.APOLLO_TELEMETRY_DISABLED = 'true';
for (const k of Object.keys(process.env)) {
  if (k.startsWith('APOLLO_') && k !== 'APOLLO_TELEMETRY_DISABLED') delete process.env[k];
}

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'graphql';
import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';

const SUBGRAPH_URL = requiredEnv('CRM_SUBGRAPH_URL');
const ORG = requiredEnv('CRM_ORGANIZATION_ID');
const ACCOUNT_IDS = requiredEnv('CRM_ACCOUNT_IDS').split(',');
const IBANS = requiredEnv('CRM_IBANS').split(',');
const HOLDER_NAME = requiredEnv('CRM_HOLDER_NAME');
const OTHER_ORG_ACCOUNT_ID = requiredEnv('CRM_OTHER_ORG_ACCOUNT_ID');
// A ledger account the registry has never heard of.
const UNKNOWN_ACCOUNT_ID = '0190f000-0000-7000-8000-00000000dead';

const LEDGER_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

  type Account @key(fields: "id") {
    id: ID!
    name: String
  }

  type Query {
    accounts: [Account!]!
  }
`;

const QUERY = `query Accounts {
  accounts { id holder { name } aliasAccount { bankingDetails { iban } } }
}`;

function requiredEnv(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through "go test -run TestFederation ."`);
  return v;
}

const LISTEN = { listen: { host: '127.0.0.1', port: 0 } };

// Forwards the caller's organization to every subgraph request (the registry needs it;
// the ledger ignores it).
class OrganizationForwardingDataSource extends RemoteGraphQLDataSource {
  willSendRequest({ request, context }) {
    if (context?.organizationId) request.http.headers.set('x-organization-id', context.organizationId);
  }
}

async function postGateway(url, headers) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query: QUERY, operationName: 'Accounts' }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`gateway answered ${res.status} with non-JSON: ${text}`);
  }
  return { status: res.status, body, text };
}

describe('Apollo Gateway over the ledger stand-in and the registry', { timeout: 90_000 }, () => {
  let ledger, gatewayServer, gatewayUrl;
  const ledgerAccounts = [...ACCOUNT_IDS, OTHER_ORG_ACCOUNT_ID, UNKNOWN_ACCOUNT_ID].map((id, i) => ({ id, name: `Ledger account ${i + 1}` }));

  before(async () => {
    const byId = new Map(ledgerAccounts.map((a) => [a.id, a]));
    ledger = new ApolloServer({
      schema: buildSubgraphSchema({
        typeDefs: parse(LEDGER_SDL),
        resolvers: {
          Query: { accounts: () => ledgerAccounts },
          Account: { __resolveReference: (ref) => byId.get(ref.id) ?? null },
        },
      }),
      plugins: [ApolloServerPluginInlineTraceDisabled()],
    });
    const { url: ledgerUrl } = await startStandaloneServer(ledger, LISTEN);

    // Our SDL, fetched like composition tools do (introspection is off on the server).
    const res = await fetch(SUBGRAPH_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ _service { sdl } }' }),
      signal: AbortSignal.timeout(10_000),
    });
    const sdl = (await res.json()).data?._service?.sdl;
    assert.equal(typeof sdl, 'string', `_service { sdl } answered ${res.status} without SDL`);

    const composed = composeServices([
      { name: 'ledger', url: ledgerUrl, typeDefs: parse(LEDGER_SDL) },
      { name: 'crm', url: SUBGRAPH_URL, typeDefs: parse(sdl) },
    ]);
    assert.deepEqual((composed.errors ?? []).map((e) => e.message), []);

    const gateway = new ApolloGateway({
      supergraphSdl: composed.supergraphSdl,
      // Node's own fetch: no proxy settings from the environment, loopback only.
      buildService: ({ url }) => new OrganizationForwardingDataSource({ url, fetcher: fetch }),
    });
    gatewayServer = new ApolloServer({ gateway });
    ({ url: gatewayUrl } = await startStandaloneServer(gatewayServer, {
      ...LISTEN,
      context: async ({ req }) => ({ organizationId: req.headers['x-organization-id'] }),
    }));
  });

  after(async () => {
    await gatewayServer?.stop();
    await ledger?.stop();
  });

  test('accounts resolve holder and alias account from the registry', { timeout: 30_000 }, async () => {
    const { status, body, text } = await postGateway(gatewayUrl, { 'x-organization-id': ORG });
    assert.equal(status, 200, text);
    assert.equal(body.errors, undefined, `errors: ${JSON.stringify(body.errors)}`);
    const byId = new Map(body.data.accounts.map((a) => [a.id, a]));
    assert.deepEqual(body.data.accounts.map((a) => a.id), ledgerAccounts.map((a) => a.id), 'ledger order kept');

    ACCOUNT_IDS.forEach((id, i) => {
      assert.deepEqual(byId.get(id), { id, holder: { name: HOLDER_NAME }, aliasAccount: { bankingDetails: { iban: IBANS[i] } } });
    });
    // Another organization's account is invisible; an unknown account has nothing.
    assert.deepEqual(byId.get(OTHER_ORG_ACCOUNT_ID), { id: OTHER_ORG_ACCOUNT_ID, holder: null, aliasAccount: null });
    assert.deepEqual(byId.get(UNKNOWN_ACCOUNT_ID), { id: UNKNOWN_ACCOUNT_ID, holder: null, aliasAccount: null });
  });

  test('without the organization header the registry part fails with MISSING_ORGANIZATION', { timeout: 30_000 }, async () => {
    const { body, text } = await postGateway(gatewayUrl, {});
    const codes = (body.errors ?? []).map((e) => e.extensions?.code);
    assert.ok(codes.includes('MISSING_ORGANIZATION'), `want a MISSING_ORGANIZATION error, got ${text}`);
    // Nothing from the registry leaks: no names, no IBANs.
    assert.ok(!text.includes(HOLDER_NAME), `holder name leaked: ${text}`);
    for (const iban of IBANS) assert.ok(!text.includes(iban), `IBAN leaked: ${text}`);
    for (const a of body.data?.accounts ?? []) {
      assert.equal(a.holder ?? null, null, `holder leaked: ${text}`);
      assert.equal(a.aliasAccount ?? null, null, `alias account leaked: ${text}`);
    }
  });
});
