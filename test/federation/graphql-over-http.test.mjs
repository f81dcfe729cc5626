// GraphQL over HTTP: the graphql-http package's server audits (the reference suite of
// the GraphQL-over-HTTP specification) against our endpoint. Every MUST and every SHOULD
// has to pass; MAY failures are printed so they can be documented (README).
//
// Run by federation_test.go (TestFederation), which starts the real server in its
// development default (introspection on: two MUST audits query __type) and sets
// CRM_AUDIT_URL and CRM_ORGANIZATION_ID. Only 127.0.0.1 is contacted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAudits } from 'graphql-http';

const URL_ = requiredEnv('CRM_AUDIT_URL');
const ORG = requiredEnv('CRM_ORGANIZATION_ID');

function requiredEnv(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through "go test -run TestFederation ."`);
  return v;
}

// Every request of the audit carries the tenant header (our API needs it) and a timeout.
function fetchWithOrganization(input, init = {}) {
  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
  headers.set('X-Organization-Id', ORG);
  return fetch(input, { ...init, headers, signal: AbortSignal.timeout(10_000) });
}

async function describeResponse(res) {
  if (!res) return '(no response)';
  let body = '';
  try {
    body = await res.clone().text();
  } catch {
    body = '(body already read)';
  }
  return `${res.status} ${res.headers.get('content-type') ?? '(no content-type)'} ${body.slice(0, 500)}`;
}

test('GraphQL-over-HTTP server audits', { timeout: 120_000 }, async (t) => {
  const audits = serverAudits({ url: URL_, fetchFn: fetchWithOrganization });
  assert.ok(audits.length > 0, 'graphql-http returned no audits');
  const failures = { MUST: [], SHOULD: [], MAY: [] };
  let passed = 0;

  for (const audit of audits) {
    const level = audit.name.split(' ')[0];
    await t.test(`${audit.id} ${audit.name}`, { timeout: 15_000 }, async () => {
      let result;
      try {
        result = await audit.fn();
      } catch (err) {
        // graphql-http throws only on fatal problems (e.g. the connection failed).
        result = { status: 'error', reason: `audit threw: ${err?.stack ?? err}` };
      }
      if (result.status === 'ok') {
        passed++;
        return;
      }
      const line = `${audit.id} ${audit.name}: ${result.reason} [response: ${await describeResponse(result.response)}]`;
      (failures[level] ?? failures.MUST).push(line);
      if (level !== 'MAY') assert.fail(line);
    });
  }

  console.log(`GraphQL-over-HTTP audits: ${audits.length} run, ${passed} passed, ` +
    `${failures.MUST.length} MUST, ${failures.SHOULD.length} SHOULD, ${failures.MAY.length} MAY failed`);
  for (const level of ['SHOULD', 'MAY']) {
    for (const f of failures[level]) console.log(`${level} not followed: ${f}`);
  }
  assert.deepEqual(failures.MUST, [], 'MUST audits failed');
  assert.deepEqual(failures.SHOULD, [], 'SHOULD audits failed');
});
