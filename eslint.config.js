// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'cdk.out/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { patterns: [{ group: ['@aws-sdk/*'], message: 'The core imports the AWS SDK only in shared/aws/.' }] }],
    },
  },
  { files: ['shared/aws/**', 'functions/**', 'infra/**', 'test/**'], rules: { 'no-restricted-imports': 'off' } },
);
