// ESLint (flat config): typescript-eslint's recommended rules plus the layer rules of docs/architecture.md.
import { defineConfig } from 'eslint/config';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX, createNodeResolver } from 'eslint-plugin-import-x';
import globals from 'globals';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(fileURLToPath(import.meta.url));

/**
 * The layers of docs/architecture.md, each with the src folders it must not import. Imports are
 * resolved to files, so `../peer`, `../../peer/api` and `./peer` are judged by where they land, not
 * by how they are spelt. src/extension may import anything in src; test/ and bench/ sit on top.
 */
const LAYERS = [
  { target: 'src/common', from: ['src/protocol', 'src/peer', 'src/server', 'src/cli', 'src/extension'], may: 'only Node built-ins' },
  { target: 'src/protocol', from: ['src/peer', 'src/server', 'src/cli', 'src/extension'], may: 'src/common and Node' },
  { target: 'src/peer', from: ['src/server', 'src/cli', 'src/extension'], may: 'src/protocol, src/common and Node' },
  { target: 'src/server', from: ['src/peer', 'src/cli', 'src/extension'], may: 'src/protocol, src/common and Node' },
  { target: 'src/cli', from: ['src/server', 'src/extension'], may: 'src/peer, src/protocol and src/common' },
  // The view model stays pure: the rest of src/extension is vscode-bound.
  { target: 'src/extension/view-model', from: ['src/server', 'src/cli'], may: 'src/peer, src/protocol and src/common' },
  { target: 'src/extension/view-model', from: 'src/extension', except: ['./view-model'], may: 'nothing from the vscode-bound rest of src/extension' },
  { target: 'src', from: ['test', 'bench'], may: 'nothing from test/ or bench/' },
];
const layerZones = LAYERS.map(({ target, from, except, may }) => ({
  target,
  from,
  ...(except ? { except } : {}),
  message: `Layer rule (docs/architecture.md): ${target} may import ${may}.`,
}));

export default defineConfig(
  { ignores: ['out/**', 'dist/**', '.vscode-test/**', 'bench/tmp/**', 'test/e2e/screenshots/**'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_` marks a name left unused on purpose; a caught error need not be looked at.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // A `let` read by a callback before its one assignment cannot become a `const` (TDZ).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Name rules and terminal output match control characters on purpose.
      'no-control-regex': 'off',
      // Typed events: `interface X { on<K>(...) }` merged into `class X extends EventEmitter`.
      '@typescript-eslint/no-unsafe-declaration-merging': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // Tests require() the very module instance a host loaded, and package.json outside rootDir.
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  // Codec tables and IPC handler maps take differently typed arguments; `any` is their honest type.
  { files: ['test/**/*.ts', 'bench/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json', '.node'] })] },
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: ROOT, zones: layerZones }],
      // An import the resolver cannot follow would slip past the layer rule unseen, so it is an error.
      'import-x/no-unresolved': ['error', { ignore: ['^vscode$'] }],
      // Only src/extension outside its view model may touch the editor API (turned off there below).
      'no-restricted-imports': ['error', {
        paths: [{ name: 'vscode', message: 'Layer rule (docs/architecture.md): only src/extension outside view-model may import vscode.' }],
      }],
    },
  },
  { files: ['src/extension/**/*.ts'], ignores: ['src/extension/view-model/**'], rules: { 'no-restricted-imports': 'off' } },
);
