// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The layers, as import rules (`test/unit/lint-layers.test.ts` proves each one
// fails a forbidden import). `no-restricted-imports` takes one option set per
// file — a later block replaces an earlier one — so every block below lists
// all the rules that hold for its folder. Type-only imports count too: a type
// is a dependency. (Dynamic `import()` is not checked by this rule.)

/** The core runs without AWS: only its adapters (`shared/aws/`) import the SDK. */
const AWS_SDK = { group: ['@aws-sdk/*'], message: 'Only shared/aws/ (and the Lambda handlers, the CDK app and tests) import the AWS SDK: the core runs without AWS.' };

/** Neither the CDK app nor test machinery ships: what runs never imports them. */
const NO_INFRA_OR_TEST = {
  regex: '^(\\.\\./)+(infra|test)/',
  message: 'Runtime code (shared/, functions/, cli/, containers/, bench/, dashboard/) never imports infra/ (the CDK app) or test/ (test machinery): neither ships.',
};

/** The steps are the search protocol both drivers call; they depend on neither. */
const STEPS_DRIVER_FREE = {
  regex: '^(\\.\\./)+(shared/)?(runner|api)/',
  message: 'shared/steps is the search protocol the local runner and the state machine both call: it never imports a driver (shared/runner) or the REST API (shared/api).',
};

/** A handler parses its event, calls steps over ports and maps errors; the search logic is not its business. */
const HANDLER_IMPORTS = {
  regex: '^(\\.\\./)+shared/(?!(steps|store|aws|api|experiment|spec)/|(errors|contract)\\.js$|train/ports\\.js$)',
  message:
    'A Lambda handler imports from shared/ only steps/, the ports (store/, aws/, train/ports), api/ (the router the API serves), experiment/, spec/, errors and contract: the search logic lives in the steps.',
};

/** @param {...object} patterns */
const only = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'cdk.out/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      ...only(AWS_SDK),
    },
  },
  { files: ['shared/**', 'cli/**', 'containers/**', 'bench/**', 'dashboard/**'], rules: only(AWS_SDK, NO_INFRA_OR_TEST) },
  { files: ['shared/aws/**'], rules: only(NO_INFRA_OR_TEST) },
  { files: ['shared/steps/**'], rules: only(AWS_SDK, NO_INFRA_OR_TEST, STEPS_DRIVER_FREE) },
  { files: ['functions/**'], rules: only(NO_INFRA_OR_TEST, HANDLER_IMPORTS) },
  { files: ['infra/**', 'test/**'], rules: { 'no-restricted-imports': 'off' } },
);
