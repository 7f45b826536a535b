/**
 * The CDK app (`cdk.json` runs it with tsx): one `NasflowStack`, caps from
 * context (`npx cdk synth -c maxGpus=8 -c spot=false`), cdk-nag AwsSolutions
 * checks as a validation plugin (a finding fails the synth).
 */
import { readFileSync } from 'node:fs';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CapsError, capsFromContext } from './caps.js';
import { REPO_ROOT } from './constructs/functions.js';
import { NasflowStack } from './stack.js';

/**
 * Run by the CDK CLI, the app gets cdk.json's context and `-c` values from the
 * CLI. Run directly (`npx tsx infra/app.ts [-c key=value]...`, which is what
 * `npm run synth` does), it reads them itself and writes the assembly to
 * cdk.out/ — the same output, without the CLI.
 */
function standaloneContext(): Record<string, unknown> | undefined {
  if (process.env.CDK_CONTEXT_JSON !== undefined || process.env.CDK_OUTDIR !== undefined) return undefined;
  const cdkJson = JSON.parse(readFileSync(`${REPO_ROOT}cdk.json`, 'utf8')) as { context?: Record<string, unknown> };
  const context: Record<string, unknown> = { ...cdkJson.context };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if ((argv[i] === '-c' || argv[i] === '--context') && argv[i + 1] !== undefined) {
      const [key, ...rest] = argv[++i]!.split('=');
      context[key!] = rest.join('=');
    }
  }
  return context;
}

const context = standaloneContext();
// aws-cdk-lib's built-in CloudFormation schema validation loads a WASM engine
// (~10 s of CPU here) and only warns; `-c cfnValidation=true` turns it on.
const cliContext = (): Record<string, unknown> => JSON.parse(process.env.CDK_CONTEXT_JSON ?? '{}') as Record<string, unknown>;
const cfnValidation = String((context ?? cliContext()).cfnValidation) === 'true';
const app = new App({
  builtinCloudFormationValidation: cfnValidation,
  ...(context === undefined ? {} : { context, outdir: `${REPO_ROOT}cdk.out` }),
});
try {
  const caps = capsFromContext((key) => app.node.tryGetContext(key));
  const alarmEmail = app.node.tryGetContext('alarmEmail') as string | undefined;
  new NasflowStack(app, (app.node.tryGetContext('stackName') as string | undefined) ?? 'Nasflow', {
    caps,
    ...(alarmEmail ? { alarmEmail } : {}),
    description: 'nasflow: neural architecture search on API Gateway, SQS, Step Functions, Lambda, GPU Batch, DynamoDB and S3',
  });
} catch (e) {
  if (e instanceof CapsError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
