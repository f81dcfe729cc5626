// Starts GraphiQL on the offline playground page. Served from /graphiql/assets/init.js
// so the page's Content-Security-Policy can allow scripts from 'self' only: the
// configuration comes from the <script type="application/json" id="graphiql-config">
// block written by the Go server (internal/playground).
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('graphiql-config').textContent);
  var root = document.getElementById('graphiql');
  // CSSOM changes are allowed by a CSP without 'unsafe-inline' styles.
  document.documentElement.style.height = '100%';
  document.body.style.height = '100%';
  document.body.style.margin = '0';
  root.style.height = '100vh';

  var props = {
    fetcher: GraphiQL.createFetcher({ url: config.endpoint }),
    defaultQuery: config.defaultQuery,
    // The headers pane starts with the configured headers (e.g. X-Organization-Id); they are
    // not persisted, so every visit shows them again.
    headers: config.headers,
    defaultHeaders: config.headers,
    shouldPersistHeaders: false,
    defaultEditorToolsVisibility: 'headers',
  };
  // /graphiql?query=...&variables=... opens that operation (links from docs or tickets).
  var params = new URLSearchParams(window.location.search);
  if (params.has('query')) {
    props.query = params.get('query');
  }
  if (params.has('variables')) {
    props.variables = params.get('variables');
  }
  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, props));
})();
