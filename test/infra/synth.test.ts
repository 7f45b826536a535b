import { describe, expect, it } from 'vitest';
import { JOB_DEFINITION_ARN, JOB_QUEUE_ARN, lambdaArn, stateMachineDefinition, synthTemplate, trainerJobDefinition } from '../../infra/synth.js';

// One synthesis for the file (cached by synthTemplate).
const template = synthTemplate();

describe('infra/synth: the definition the local run executes', () => {
  it('resolves every deploy-time reference of the state machine to a placeholder ARN', () => {
    const asl = stateMachineDefinition(template);
    const text = JSON.stringify(asl);

    expect(asl.StartAt).toBe('Workers');
    expect(text).not.toMatch(/Fn::|"Ref"/);
    const slot = (asl.States.Workers as { ItemProcessor: { States: Record<string, Record<string, unknown>> } }).ItemProcessor.States;
    expect(Object.keys(slot).sort()).toEqual(['HasTrial', 'Propose', 'Record', 'SlotDone', 'Train']);
    expect((slot.Propose!.Parameters as { FunctionName: string }).FunctionName).toBe(lambdaArn('propose'));
    expect((slot.Record!.Parameters as { FunctionName: string }).FunctionName).toBe(lambdaArn('record'));
    expect((asl.States.Finalize!.Parameters as { FunctionName: string }).FunctionName).toBe(lambdaArn('finalize'));
    expect(slot.Train!.Parameters).toMatchObject({ JobQueue: JOB_QUEUE_ARN, JobDefinition: JOB_DEFINITION_ARN });
  });

  it('reads the trainer job definition: retry strategy of the contract, 1 GPU, a timeout', () => {
    const job = trainerJobDefinition(template);

    expect(job.retryStrategy).toEqual({
      attempts: 3,
      evaluateOnExit: [
        { action: 'RETRY', onStatusReason: 'Host EC2*' },
        { action: 'RETRY', onExitCode: '75' },
        { action: 'EXIT', onReason: '*' },
      ],
    });
    expect(job.resources.gpus).toBe(1);
    expect(job.timeoutSeconds).toBe(240 * 60);
    expect(job.propagateTags).toBe(true);
  });
});
