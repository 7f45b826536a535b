/**
 * The layers of `eslint.config.js` hold: for each rule, an import it forbids
 * fails the lint with the rule's reason, and an import it allows passes.
 * The code is linted as if it were a file in the named folder (nothing is
 * written), through the project's own ESLint configuration.
 */
import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: ROOT });
});

/** The problems ESLint reports for `code` as the file `filePath` (relative to the root). */
async function lint(filePath: string, code: string): Promise<{ rule: string | null; message: string }[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(ROOT, filePath) });
  return (result?.messages ?? []).map((m) => ({ rule: m.ruleId, message: m.message }));
}

/** A module that imports one type from `source` and uses it, so the import is the only thing to object to. */
const importing = (source: string): string => `import type { X } from '${source}';\nexport type Y = X;\n`;

interface Case {
  readonly file: string;
  readonly source: string;
}

const RULES: readonly { readonly name: string; readonly reason: RegExp; readonly forbidden: readonly Case[]; readonly allowed: readonly Case[] }[] = [
  {
    name: 'the core never imports the AWS SDK outside shared/aws',
    reason: /Only shared\/aws\//,
    forbidden: [
      { file: 'shared/store/x.ts', source: '@aws-sdk/client-dynamodb' },
      { file: 'shared/steps/x.ts', source: '@aws-sdk/client-s3' },
      { file: 'containers/trainer/x.ts', source: '@aws-sdk/client-s3' },
    ],
    allowed: [
      { file: 'shared/aws/x.ts', source: '@aws-sdk/client-dynamodb' },
      { file: 'functions/x.ts', source: '@aws-sdk/client-sfn' },
    ],
  },
  {
    name: 'shared/steps never imports shared/runner or shared/api',
    reason: /never imports a driver/,
    forbidden: [
      { file: 'shared/steps/x.ts', source: '../runner/evaluator.js' },
      { file: 'shared/steps/x.ts', source: '../api/stop.js' },
    ],
    allowed: [
      { file: 'shared/steps/x.ts', source: '../experiment/outcome.js' },
      { file: 'shared/runner/x.ts', source: '../steps/state.js' },
    ],
  },
  {
    name: 'runtime code never imports infra/ or test/',
    reason: /never imports infra\/ \(the CDK app\) or test\//,
    forbidden: [
      { file: 'bench/x.ts', source: '../test/support/local-aws.js' },
      { file: 'shared/report/x.ts', source: '../../infra/synth.js' },
      { file: 'shared/steps/x.ts', source: '../../test/support/sfn/batch.js' },
      { file: 'shared/aws/x.ts', source: '../../test/support/local-aws.js' },
      { file: 'functions/x.ts', source: '../infra/synth.js' },
      { file: 'cli/x.ts', source: '../test/unit/report/fixtures.js' },
      { file: 'containers/trainer/x.ts', source: '../../test/support/sfn/trainer.js' },
    ],
    allowed: [
      { file: 'bench/x.ts', source: '../shared/bench/table.js' },
      { file: 'test/bench/x.ts', source: '../support/local-aws.js' },
      { file: 'test/e2e/x.ts', source: '../../infra/synth.js' },
    ],
  },
  {
    name: 'handlers import steps and ports only',
    reason: /A Lambda handler imports from shared\/ only/,
    forbidden: [
      { file: 'functions/x.ts', source: '../shared/runner/search.js' },
      { file: 'functions/x.ts', source: '../shared/strategies/index.js' },
      { file: 'functions/lib/x.ts', source: '../../shared/train/trainer.js' },
    ],
    allowed: [
      { file: 'functions/x.ts', source: '../shared/steps/submit.js' },
      { file: 'functions/x.ts', source: '../shared/train/ports.js' },
      { file: 'functions/x.ts', source: '../shared/contract.js' },
      { file: 'functions/lib/x.ts', source: '../../shared/errors.js' },
      { file: 'functions/lib/x.ts', source: '../../shared/aws/index.js' },
    ],
  },
];

describe('layer lint rules (eslint.config.js)', () => {
  for (const rule of RULES) {
    describe(rule.name, () => {
      for (const c of rule.forbidden) {
        it(`forbids ${c.source} in ${c.file}`, async () => {
          const problems = await lint(c.file, importing(c.source));
          expect(problems).toHaveLength(1);
          expect(problems[0]?.rule).toBe('no-restricted-imports');
          expect(problems[0]?.message).toMatch(rule.reason);
        });
      }
      for (const c of rule.allowed) {
        it(`allows ${c.source} in ${c.file}`, async () => {
          expect(await lint(c.file, importing(c.source))).toEqual([]);
        });
      }
    });
  }

  it('a re-export counts as an import', async () => {
    const problems = await lint('shared/steps/x.ts', "export { SearchRunner } from '../runner/search.js';\n");
    expect(problems.map((p) => p.rule)).toEqual(['no-restricted-imports']);
  });
});
