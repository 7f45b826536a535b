/**
 * Lambda `propose` (state `Propose`): one new trial or promotion for a worker
 * slot, or `done` with the reason (docs/design/aws-contract.md).
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { ENV } from '../shared/contract.js';
import { committedDollars, type AdmissionLedger } from '../shared/steps/caps.js';
import { proposeStep, type ProposeOutput } from '../shared/steps/propose.js';
import type { StepPorts } from '../shared/steps/ports.js';
import { admissionFromEnv, invoke, observability, parseEvent, portsFromEnv, type Observability } from './lib/runtime.js';

export const proposeEventSchema = z.object({
  experimentId: z.string().min(1),
  slot: z.int().nonnegative(),
  generation: z.int().nonnegative(),
  executionStart: z.string().optional(),
});

export interface StepHandlerDeps {
  /** The ports, or how to build them on first use. */
  readonly ports: StepPorts | (() => StepPorts);
  readonly observability?: Observability;
  /** Trials per execution before the slots drain (default `MAX_TRIALS_PER_EXECUTION`). */
  readonly maxTrialsPerExecution?: number;
  /** The account's monthly budget: propose starts no trial past it (`MONTHLY_BUDGET_DOLLARS`). */
  readonly monthlyBudgetDollars?: number;
  /**
   * The account's admission ledger: the month's committed dollars are read
   * from it (bounded by the running experiments), and Finalize releases a
   * finished experiment's admission.
   */
  readonly admission?: AdmissionLedger | (() => AdmissionLedger);
}

/** The admission ledger of a handler, if it has one: given, or built on first use. */
export const resolveAdmission = (deps: StepHandlerDeps): (() => AdmissionLedger) | undefined => {
  const a = deps.admission;
  if (a === undefined) return undefined;
  let got: AdmissionLedger | undefined = typeof a === 'function' ? undefined : a;
  return () => (got ??= (a as () => AdmissionLedger)());
};

/** Ports of a handler: given, or built on first use. */
export const resolvePorts = (deps: StepHandlerDeps): (() => StepPorts) => {
  let p: StepPorts | undefined = typeof deps.ports === 'function' ? undefined : deps.ports;
  return () => (p ??= (deps.ports as () => StepPorts)());
};

export function createProposeHandler(deps: StepHandlerDeps): (event: unknown, context?: Context) => Promise<ProposeOutput> {
  const ports = resolvePorts(deps);
  const admission = resolveAdmission(deps);
  return async (event, context) => {
    const obs = deps.observability ?? observability();
    const input = parseEvent(proposeEventSchema, event, 'propose event');
    return invoke(obs, context, { experimentId: input.experimentId, slot: input.slot, generation: input.generation }, async (log) => {
      const out = await proposeStep(ports(), input, {
        ...(deps.maxTrialsPerExecution !== undefined ? { maxTrialsPerExecution: deps.maxTrialsPerExecution } : {}),
        ...(deps.monthlyBudgetDollars !== undefined ? { monthlyBudgetDollars: deps.monthlyBudgetDollars } : {}),
        ...(admission ? { committedDollars: async () => committedDollars(ports().store, await admission().read(), ports().now(), true, input.experimentId) } : {}),
      });
      if (out.action === 'train') {
        obs.metrics.addMetric('TrialsProposed', MetricUnit.Count, 1);
        log.info('proposed', { trialId: out.trialId, fidelity: out.fidelity });
      } else {
        obs.metrics.addMetric('SlotsDone', MetricUnit.Count, 1);
        log.info('slot done', { reason: out.reason });
      }
      return out;
    });
  };
}

const maxFromEnv = Number(process.env[ENV.maxTrialsPerExecution]);
const monthlyFromEnv = process.env[ENV.monthlyBudgetDollars] ? Number(process.env[ENV.monthlyBudgetDollars]) : NaN;
export const handler = createProposeHandler({
  ports: () => portsFromEnv(),
  admission: () => admissionFromEnv(),
  ...(Number.isInteger(maxFromEnv) && maxFromEnv > 0 ? { maxTrialsPerExecution: maxFromEnv } : {}),
  ...(Number.isFinite(monthlyFromEnv) && monthlyFromEnv >= 0 ? { monthlyBudgetDollars: monthlyFromEnv } : {}),
});
