/**
 * Latency in a real browser: a headless Chromium (NASFLOW_CHROMIUM, else an
 * installed one: shared/chromium.ts) driven by playwright-core, loading TensorFlow.js from
 * this installation's node_modules over a loopback server (nothing is
 * downloaded), each model handed over in memory and timed in the page.
 */
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CHROMIUM_CANDIDATES, CHROMIUM_ENV, findChromium } from '../chromium.js';
import { NasError } from '../errors.js';
import type { ModelArtifacts } from './runtimes.js';

const require = createRequire(import.meta.url);
/** The flags a root, offline machine's Chromium needs (as the dashboard tests use them). */
const FLAGS = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Files the page loads, by URL path: the tfjs bundles and the wasm binaries. */
function bundleFiles(): Map<string, string> {
  const dist = (pkg: string) => join(dirname(require.resolve(`${pkg}/package.json`)), 'dist');
  const files = new Map<string, string>([
    ['/tf-core.js', join(dist('@tensorflow/tfjs-core'), 'tf-core.min.js')],
    ['/tf-layers.js', join(dist('@tensorflow/tfjs-layers'), 'tf-layers.min.js')],
    ['/tf-backend-wasm.js', join(dist('@tensorflow/tfjs-backend-wasm'), 'tf-backend-wasm.min.js')],
  ]);
  for (const w of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) files.set(`/${w}`, join(dist('@tensorflow/tfjs-backend-wasm'), w));
  return files;
}

/**
 * nasflow's one custom layer (`ZeroLayer` of shared/model/build.ts: a cell node
 * whose incoming edges are all `none`), which the page must know to load a
 * cell network. Plain page script: a compiled function would carry the
 * compiler's helpers, which the page does not have.
 */
const ZERO_LAYER = `class NasflowZero extends tf.layers.Layer {
  call(inputs) { return tf.zerosLike(Array.isArray(inputs) ? inputs[0] : inputs); }
  getClassName() { return 'NasflowZero'; }
}
NasflowZero.className = 'NasflowZero';
tf.serialization.registerClass(NasflowZero);`;

const PAGE = `<!doctype html><script src="/tf-core.js"></script><script src="/tf-layers.js"></script><script src="/tf-backend-wasm.js"></script><script>${ZERO_LAYER}</script>`;

/** A browser session measuring models on one backend. */
export interface ChromiumSession {
  /** Median ms of a batch-1 inference of the model. */
  measure(model: ModelArtifacts, runs: number): Promise<number>;
  close(): Promise<void>;
}

/** Why no Chromium is found here (`NASFLOW_CHROMIUM` naming nothing, or none installed), or undefined. */
function chromiumMissing(): string | undefined {
  try {
    if (findChromium() !== undefined) return undefined;
  } catch (err) {
    return (err as Error).message;
  }
  return `no Chromium at ${CHROMIUM_CANDIDATES.join(', ')} (apt-get install chromium, or set ${CHROMIUM_ENV})`;
}

/** Why Chromium cannot measure here, or undefined. */
export function chromiumUnavailable(): string | undefined {
  const missing = chromiumMissing();
  if (missing !== undefined) return missing;
  try {
    require.resolve('playwright-core');
  } catch {
    return 'playwright-core is not installed (a development dependency of nasflow)';
  }
  return undefined;
}

/** Opens Chromium with the wasm backend ready in a page. */
export async function openChromium(backend: 'wasm'): Promise<ChromiumSession> {
  // Before the page server listens: a missing Chromium must not leave it open.
  const executablePath = findChromium();
  if (executablePath === undefined) throw new NasError(chromiumMissing() as string);
  const files = bundleFiles();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const file = files.get(path);
    if (path === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    else if (file) res.writeHead(200, { 'content-type': path.endsWith('.wasm') ? 'application/wasm' : 'text/javascript' }).end(readFileSync(file));
    else res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, headless: true, args: FLAGS });
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.evaluate(async ([b, base]) => {
    const g = globalThis as unknown as { tf: { wasm: { setWasmPaths(p: string): void }; setBackend(b: string): Promise<boolean>; ready(): Promise<void> } };
    g.tf.wasm.setWasmPaths(base);
    if (!(await g.tf.setBackend(b))) throw new Error(`the ${b} backend did not initialise in Chromium`);
    await g.tf.ready();
  }, [backend, `http://127.0.0.1:${port}/`] as const);
  return {
    async measure(model, runs) {
      return page.evaluate(async ([m, n]) => {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const tf = (globalThis as any).tf;
        const bytes = Uint8Array.from(atob(m.weightData), (c) => c.charCodeAt(0));
        const net = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: m.modelTopology, weightSpecs: m.weightSpecs, weightData: bytes.buffer }));
        const shape = net.inputs[0].shape.slice(1);
        const x = tf.zeros([1, ...shape]);
        const times: number[] = [];
        for (let i = 0; i < 3 + n; i++) {
          const t0 = performance.now();
          const y = net.predict(x);
          await y.data();
          y.dispose();
          if (i >= 3) times.push(performance.now() - t0);
        }
        x.dispose();
        net.dispose();
        times.sort((a, b) => a - b);
        return times[times.length >> 1] as number;
      }, [model, runs] as const);
    },
    async close() {
      await browser.close();
      server.close();
    },
  };
}
