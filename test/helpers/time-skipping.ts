import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { resolveTools } from '../../src/tools';

const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };

/** The time-skipping test server (timers of days pass in seconds), from the tools the project pins. */
export const createTimeSkipping = (): Promise<TestWorkflowEnvironment> =>
  TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: resolveTools().temporalTestServer } } });

/** The SDK's runtime logs errors only; call it before anything starts the runtime. */
export const quietRuntime = (): void => void Runtime.install({ logger: new DefaultLogger('ERROR') });

/** Stackwright's workflows, bundled once per test file. */
export const bundleWorkflows = (): Promise<WorkflowBundleWithSourceMap> => bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: quietLogger });
