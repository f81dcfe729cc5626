// Copies the GraphiQL UMD bundle and React from node_modules into dist/, where the Go
// server serves them at /graphiql/assets/ (internal/playground). No bundler: GraphiQL 3
// ships a UMD build that expects the React and ReactDOM globals.
//
// Run by `make graphiql` (npm ci && npm run build). The build fails when an asset
// would fetch anything from another host at runtime: the page must work air-gapped.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const dist = join(root, 'dist');
const require = createRequire(join(root, 'package.json'));

const pkgDir = (name) => dirname(require.resolve(`${name}/package.json`));
const pkgVersion = (name) => JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version;

// dist name -> [package, path inside the package]. Keep in sync with internal/playground.
const assets = {
  'react.production.min.js': ['react', 'umd/react.production.min.js'],
  'react-dom.production.min.js': ['react-dom', 'umd/react-dom.production.min.js'],
  'graphiql.min.js': ['graphiql', 'graphiql.min.js'],
  'graphiql.min.css': ['graphiql', 'graphiql.min.css'],
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'licenses'), { recursive: true });

const problems = [];
for (const [name, [pkg, file]] of Object.entries(assets)) {
  const src = join(pkgDir(pkg), file);
  if (!existsSync(src)) {
    throw new Error(`${pkg}@${pkgVersion(pkg)} has no ${file}`);
  }
  cpSync(src, join(dist, name));
  const text = readFileSync(src, 'utf8');
  if (name.endsWith('.css')) {
    // Fonts and images must be inlined (data:) or absent: no @import, no remote url().
    for (const m of text.matchAll(/@import[^;]*;|url\(\s*['"]?(?!data:)[^)]*\)/g)) {
      problems.push(`${name}: ${m[0].slice(0, 120)}`);
    }
  } else {
    // Scripts must not load other scripts or styles from a host (links in comments and
    // error messages are fine: they are never fetched).
    for (const m of text.matchAll(/(?:import\(|importScripts\(|\.src\s*=|href\s*=)\s*['"`]https?:\/\/[^'"`]*/g)) {
      problems.push(`${name}: ${m[0].slice(0, 120)}`);
    }
  }
}
if (problems.length > 0) {
  throw new Error(`assets would fetch from the internet at runtime:\n  ${problems.join('\n  ')}`);
}

const versions = {};
for (const pkg of ['graphiql', 'react', 'react-dom', 'graphql']) {
  versions[pkg] = pkgVersion(pkg);
  const license = join(pkgDir(pkg), 'LICENSE');
  if (existsSync(license)) {
    cpSync(license, join(dist, 'licenses', `${pkg}.txt`));
  }
}
writeFileSync(join(dist, 'manifest.json'), JSON.stringify({ assets: Object.keys(assets), versions }, null, 2) + '\n');
console.log(`GraphiQL assets in ${dist}: ${Object.entries(versions).map(([p, v]) => `${p}@${v}`).join(', ')}`);
