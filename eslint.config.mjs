// Lint: the mistakes types cannot catch (a promise nobody awaits) and functions grown too long to read as a story.
// Formatting is Prettier's (.prettierrc); `npm run lint` runs both, and `npm test` runs lint.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'public/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
      'max-lines-per-function': ['warn', { max: 60, skipBlankLines: true, skipComments: true }],
    },
  },
  // A test's describe() holds its cases: its length says nothing about a function's.
  { files: ['test/**/*.ts'], rules: { 'max-lines-per-function': 'off' } },
);
