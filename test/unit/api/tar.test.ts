import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tarGz } from '../../../shared/api/tar.js';

const dir = mkdtempSync(join(tmpdir(), 'nasflow-tar-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tarGz', () => {
  it('writes paths past ustar\'s 100-byte name field (prefix split, or a pax header) that the system tar unpacks', () => {
    const names = [
      'short/model.json',
      // A trial of a 64-character experiment name: 91 + 11 bytes, split into prefix and name.
      `${'n'.repeat(64)}-20260101-000000-abcd-t0001/model.json`,
      // No "/" leaves a name of 100 bytes or less with a prefix of 155 or less: a pax path record.
      `${'a'.repeat(120)}/${'b'.repeat(120)}`,
      `${'d/'.repeat(90)}weights.bin`,
    ];
    const entries = names.map((name, i) => ({ name, bytes: new Uint8Array(700 + i).map((_, j) => (i * 31 + j) % 251), mtime: 1_700_000_000 }));
    const out = join(dir, 'out');
    execFileSync('mkdir', ['-p', out]);
    execFileSync('tar', ['xzf', '-', '-C', out], { input: tarGz(entries) });
    for (const e of entries) expect(new Uint8Array(readFileSync(join(out, e.name))), e.name).toEqual(e.bytes);
    const listed = execFileSync('tar', ['tzf', '-'], { input: tarGz(entries) }).toString().trim().split('\n');
    expect(listed).toEqual(names);
  });
});
