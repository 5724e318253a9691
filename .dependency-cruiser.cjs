/**
 * The boundaries the layout promises, held by `npm run lint:deps` (run by `npm test`); which
 * module touches which table is held by test/architecture/tables.test.ts.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'A cycle makes two files one: neither can change or be tested alone (a cycle of types too).',
      from: { path: '^src' },
      to: { circular: true },
    },
    {
      name: 'no-foreign-store',
      severity: 'error',
      comment: "A module reaches another only through that module's service: its store (its tables) is its own.",
      from: { path: '^src/modules/([^/]+)/' },
      to: { path: '^src/modules/([^/]+)/store[a-z-]*\\.ts$', pathNot: '^src/modules/$1/' },
    },
    {
      name: 'no-foreign-routes',
      severity: 'error',
      comment: "Routes are a module's HTTP edge: shared shapes live in its schemas.ts, never borrowed from its routes.",
      from: { path: '^src/modules/([^/]+)/' },
      to: { path: '^src/modules/([^/]+)/routes[^/]*\\.ts$', pathNot: '^src/modules/$1/' },
    },
    {
      name: 'lib-is-a-leaf',
      severity: 'error',
      comment: 'src/lib holds small shared pieces: it depends on no module, no queue and no HTTP code.',
      from: { path: '^src/lib/' },
      to: { path: '^src/(modules|queue|jobs|http)/' },
    },
    {
      name: 'lib-has-no-tables',
      severity: 'error',
      comment: "Shared pieces take their rows from the caller's store rather than reading tables.",
      from: { path: '^src/lib/' },
      to: { path: '^src/db/' },
    },
    {
      name: 'queue-knows-no-module',
      severity: 'error',
      comment: 'The queue moves work for every kind; the kinds depend on it, never the reverse.',
      from: { path: '^src/queue/' },
      to: { path: '^src/(modules|jobs)/' },
    },
    {
      name: 'routes-do-not-query',
      severity: 'error',
      comment: 'A route never touches SQL: it calls services.',
      from: { path: '^src/modules/[^/]+/routes[^/]*\\.ts$' },
      to: { path: '(^node_modules/kysely/|^src/db/)' },
    },
    {
      name: 'no-dev-deps-at-runtime',
      severity: 'error',
      comment: 'The image installs production dependencies only (npm ci --omit=dev): the server may import types, not code, from devDependencies.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|web|test|bench)/' },
  },
};
