/**
 * Measuring a spec's device: `measure` architectures of its space, drawn
 * with the spec's seed, built as the trainer builds them and timed at batch
 * 1 on the named runtime (in this process on Node's WebAssembly backend, or
 * in a headless Chromium's), then the calibration fitted on them
 * (`./device.ts`). Loaded only by the step that calibrates (it pulls in
 * TensorFlow.js).
 */
import * as tf from '@tensorflow/tfjs-core';
import { SpecError } from '../errors.js';
import { buildModel } from '../model/build.js';
import { networkCost, type NetworkInput } from '../model/network-cost.js';
import { Rng } from '../rng.js';
import type { ExperimentSpec } from '../spec/experiment.js';
import type { Architecture } from '../space/space.js';
import { openChromium } from './chromium.js';
import { calibrate, deviceUnavailable, workOf, type DeviceCalibration, type DeviceMeasurement } from './device.js';
import { measureInNode, modelArtifacts, useNodeRuntime } from './runtimes.js';

/** Timed inferences per architecture (after three warm-up runs): the median of 10 is stable to a few per cent. */
export const DEVICE_RUNS = 10;

/** The architectures a device calibration measures: `count` distinct networks of the space, drawn with the spec's seed. */
export function calibrationSample(spec: ExperimentSpec, count: number): Architecture[] {
  const space = spec.compiledSpace;
  const rng = Rng.seeded(spec.seed + 0x1a7e);
  const byHash = new Map<string, Architecture>();
  // A small space may hold fewer distinct networks than asked for: stop after enough tries.
  for (let tries = 0; byHash.size < count && tries < 50 * count; tries++) {
    const arch = space.sample(rng);
    const hash = space.hash(arch);
    if (!byHash.has(hash)) byHash.set(hash, arch);
  }
  return [...byHash.values()];
}

/**
 * Measures the spec's `device` and fits its calibration. A runtime that
 * cannot run here is a SpecError on `device.runtime` saying why.
 */
export async function measureDevice(spec: ExperimentSpec, input: NetworkInput, now: () => Date = () => new Date()): Promise<DeviceCalibration> {
  const device = spec.device;
  if (!device) throw new SpecError([{ path: 'device', message: 'the spec names no device' }]);
  const runtime = device.runtime;
  const why = deviceUnavailable(runtime);
  if (why) throw new SpecError([{ path: 'device.runtime', message: `${runtime} cannot measure here: ${why}` }]);
  const space = spec.compiledSpace;
  const archs = calibrationSample(spec, device.measure);
  const measured: DeviceMeasurement[] = [];
  let backend = 'wasm';
  if (runtime === 'node-wasm') {
    const before = tf.getBackend();
    const reason = await useNodeRuntime('node-wasm');
    if (reason) throw new SpecError([{ path: 'device.runtime', message: `node-wasm cannot measure here: ${reason}` }]);
    try {
      for (const arch of archs) {
        const net = space.network(arch);
        const model = buildModel(net, input, { seed: 0 });
        try {
          measured.push({ hash: space.hash(arch), ms: measureInNode(model, DEVICE_RUNS), work: workOf(networkCost(net, input)) });
        } finally {
          model.dispose();
        }
      }
    } finally {
      // The process goes on with the backend it had (a local runner training in-process).
      if (before && before !== tf.getBackend()) await tf.setBackend(before);
    }
  } else {
    backend = 'wasm (Chromium)';
    // The models are built here, on whichever backend this process has ready, and run in the page.
    await tf.ready();
    const session = await openChromium('wasm');
    try {
      for (const arch of archs) {
        const net = space.network(arch);
        const model = buildModel(net, input, { seed: 0 });
        try {
          measured.push({ hash: space.hash(arch), ms: await session.measure(await modelArtifacts(model), DEVICE_RUNS), work: workOf(networkCost(net, input)) });
        } finally {
          model.dispose();
        }
      }
    } finally {
      await session.close();
    }
  }
  return calibrate(runtime, measured, backend, now());
}
