// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', 'coverage/**', 'dashboards/grafana/**', 'dashboards/prometheus/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        fetch: 'readonly',
        performance: 'readonly',
      },
    },
    rules: {
      // `_`-prefixed names mark parameters a signature requires but the body ignores (wrapped methods keep Twenty's arity).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // An instrumentation wraps arbitrary methods of classes it does not own: `Function` is the honest type there.
      '@typescript-eslint/no-unsafe-function-type': 'off',
      // Lazy require() is deliberate: modules load after the instrumentation's hooks are installed, or only on the
      // path that needs them (optional peers, bench/demo variants).
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // Plain CommonJS scripts (test fixtures, jest config) run by node directly.
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        __filename: 'readonly',
        exports: 'writable',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
