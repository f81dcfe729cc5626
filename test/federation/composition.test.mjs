// Composition: our subgraph's `_service { sdl }` composed with a stand-in ledger subgraph
// that owns Account, using Apollo's own composition library (what rover and the router use).
//
// Run by federation_test.go (TestFederation), which starts the real server, seeds it and
// sets CRM_SUBGRAPH_URL. Only 127.0.0.1 is contacted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kind, parse } from 'graphql';
import { composeServices } from '@apollo/composition';

const SUBGRAPH_URL = requiredEnv('CRM_SUBGRAPH_URL');

// The ledger (Midaz) subgraph as far as this registry cares: it owns Account.
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

function requiredEnv(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through "go test -run TestFederation ."`);
  return v;
}

// fetchServiceSDL asks our subgraph for its SDL the way composition tools do: no
// organization header, no token, introspection switched off on the server.
async function fetchServiceSDL(url) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query: '{ _service { sdl } }' }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = await res.json();
  assert.equal(res.status, 200, `_service answered ${res.status}: ${JSON.stringify(body)}`);
  assert.equal(body.errors, undefined, `_service errors: ${JSON.stringify(body.errors)}`);
  const sdl = body.data?._service?.sdl;
  assert.equal(typeof sdl, 'string', '_service { sdl } returned no SDL');
  return sdl;
}

// ourTypeNames: the named types our SDL defines or extends (federation's own _Any,
// _Service, link__*, FieldSet… excluded), Query and Mutation included.
function ourTypeNames(sdl) {
  const kinds = new Set([
    Kind.OBJECT_TYPE_DEFINITION, Kind.OBJECT_TYPE_EXTENSION,
    Kind.INPUT_OBJECT_TYPE_DEFINITION, Kind.INPUT_OBJECT_TYPE_EXTENSION,
    Kind.ENUM_TYPE_DEFINITION, Kind.ENUM_TYPE_EXTENSION,
    Kind.SCALAR_TYPE_DEFINITION, Kind.SCALAR_TYPE_EXTENSION,
    Kind.INTERFACE_TYPE_DEFINITION, Kind.INTERFACE_TYPE_EXTENSION,
    Kind.UNION_TYPE_DEFINITION, Kind.UNION_TYPE_EXTENSION,
  ]);
  const names = new Set();
  for (const def of parse(sdl).definitions) {
    if (!kinds.has(def.kind)) continue;
    const name = def.name.value;
    if (name.startsWith('_') || name.includes('__') || name === 'FieldSet') continue;
    names.add(name);
  }
  return [...names];
}

test('our _service SDL composes with a ledger subgraph that owns Account', { timeout: 60_000 }, async () => {
  const sdl = await fetchServiceSDL(SUBGRAPH_URL);
  for (const want of ['type Holder @key(fields: "id")', 'type AliasAccount @key(fields: "id")', 'type Account @key(fields: "id")']) {
    assert.ok(sdl.includes(want), `SDL lacks ${want}`);
  }

  const result = composeServices([
    { name: 'ledger', url: 'http://127.0.0.1:1/graphql', typeDefs: parse(LEDGER_SDL) },
    { name: 'crm', url: SUBGRAPH_URL, typeDefs: parse(sdl) },
  ]);

  const errors = (result.errors ?? []).map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`);
  assert.deepEqual(errors, [], `composition failed:\n${errors.join('\n')}`);
  assert.equal(typeof result.supergraphSdl, 'string', 'composition produced no supergraph');

  const hints = (result.hints ?? []).map((h) => `${h.definition?.code ?? 'HINT'}: ${h.message}`);
  for (const h of hints) console.log(`composition hint: ${h}`);
  console.log(`composition: ${hints.length} hint(s)`);

  const names = ourTypeNames(sdl);
  assert.ok(names.includes('Holder') && names.includes('AliasAccount') && names.includes('Account'));
  const mentions = new RegExp(`\\b(${names.join('|')})\\b`);
  const ours = hints.filter((h) => mentions.test(h));
  assert.deepEqual(ours, [], `composition hints about our types:\n${ours.join('\n')}`);

  // The supergraph carries what we contribute to the ledger's Account.
  const supergraph = result.supergraphSdl;
  assert.match(supergraph, /type Account\b[^{]*\{[^}]*\bholder: Holder\b[^}]*\baliasAccount: AliasAccount\b/s);
});
