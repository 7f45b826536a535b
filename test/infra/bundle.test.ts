/**
 * The Lambda bundles: each handler of functions/ bundled by local esbuild (no
 * Docker) as ESM with a `require` shim, the AWS SDK v3 left to the runtime;
 * the trainer image only staged (synth needs no Docker).
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp, resourcesOfType, type Template } from '../../infra/synth.js';

const { app, stack, outdir } = buildApp({ bundle: true, nag: false });
const assembly = app.synth();
const template = JSON.parse(readFileSync(join(assembly.directory, assembly.getStackByName(stack.stackName).templateFile), 'utf8')) as Template;
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const assets = JSON.parse(readFileSync(join(assembly.directory, `${stack.stackName}.assets.json`), 'utf8')) as {
  files: Record<string, { source: { path: string; packaging?: string } }>;
  dockerImages: Record<string, { source: { directory: string; dockerFile?: string } }>;
};
/** The staged asset folder of a Lambda function (its Code.S3Key is `<asset hash>.zip`). */
const assetDir = (code: unknown): string => {
  const hash = String((code as { S3Key: string }).S3Key).replace(/\.zip$/, '');
  return join(assembly.directory, assets.files[hash]!.source.path);
};

describe('Lambda bundles', () => {
  const functions = resourcesOfType(template, 'AWS::Lambda::Function');

  it('bundles every handler to one ESM file with the require banner and without the AWS SDK', () => {
    expect(functions).toHaveLength(6);
    for (const [id, fn] of functions) {
      const dir = assetDir(fn.Properties!.Code);
      const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
      expect(code.startsWith("import { createRequire as __nasflowCreateRequire } from 'node:module';"), id).toBe(true);
      expect(code, id).toMatch(/export\s*\{[^}]*handler/);
      // The SDK stays an import of the runtime's copy, never bundled.
      expect(code, id).toMatch(/from\s*"@aws-sdk\/client-dynamodb"/);
      expect(code, id).not.toMatch(/class DynamoDBClient\b|DynamoDBClient=class/);
      expect(existsSync(join(dir, 'index.mjs.map')), id).toBe(true);
    }
  });
});

describe('trainer image', () => {
  it('stages only what the Dockerfile copies, for a build at deploy time', () => {
    const images = Object.values(assets.dockerImages);
    expect(images).toHaveLength(1);
    const dir = join(assembly.directory, images[0]!.source.directory);

    expect(images[0]!.source.dockerFile).toBe('containers/trainer/Dockerfile');
    expect(readdirSync(dir).sort()).toEqual(['containers', 'package-lock.json', 'package.json', 'shared', 'tsconfig.json']);
    expect(existsSync(join(dir, 'containers/trainer/entrypoint.ts'))).toBe(true);
  });
});
