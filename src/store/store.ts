import type { Kysely } from 'kysely';
import type { Database } from './schema';
import type { Clock } from './sql';
import type { StackRef } from '../shared/names';
import type { DeploymentSettings } from '../shared/settings';
import type { DeploymentStatus, StepStatus } from '../shared/deployment';
import type { ResourceChanges } from '../shared/drift';
import type { RepositoryKey } from '../vcs/repository';
import { SettingsStore, type StoredSettings } from './settings';
import { RepositoryIndex } from './repositories';
import { DeploymentStore, type DeploymentRecord, type ListOptions, type NewDeployment } from './deployments';
import { DriftStore, type DriftRunRecord, type DriftStatus } from './drift';
import { LogStore, type LogLine } from './logs';
import { PauseStore } from './pauses';
import { ReviewStackStore } from './review-stacks';

export type { StoredSettings } from './settings';
export type { StepRecord, DeploymentRecord, NewDeployment, ListOptions, IdempotencyKey } from './deployments';
export type { DriftRunRecord, DriftStatus } from './drift';
export type { LogLine } from './logs';

/**
 * Stackwright's durable records: what must outlive Temporal's retention. One store per aggregate
 * (settings, repository index, deployments with their steps, drift runs, logs, pauses); this class
 * holds them and keeps their methods under one name.
 */
export class Store {
  readonly settings: SettingsStore;
  readonly repositories: RepositoryIndex;
  readonly deployments: DeploymentStore;
  readonly drift: DriftStore;
  readonly logs: LogStore;
  readonly pauses: PauseStore;
  readonly reviewStacks: ReviewStackStore;

  constructor(
    readonly db: Kysely<Database>,
    now: Clock = () => new Date(),
  ) {
    this.settings = new SettingsStore(db, now);
    this.repositories = new RepositoryIndex(db);
    this.deployments = new DeploymentStore(db, now);
    this.drift = new DriftStore(db, this.deployments);
    this.logs = new LogStore(db);
    this.pauses = new PauseStore(db, now);
    this.reviewStacks = new ReviewStackStore(db, now);
  }

  getSettings(ref: StackRef): Promise<StoredSettings | undefined> {
    return this.settings.getSettings(ref);
  }
  saveSettings(ref: StackRef, settings: DeploymentSettings): Promise<StoredSettings> {
    return this.settings.saveSettings(ref, settings);
  }
  deleteSettings(ref: StackRef): Promise<boolean> {
    return this.settings.deleteSettings(ref);
  }
  stacksForRepository(key: RepositoryKey): Promise<(StackRef & StoredSettings)[]> {
    return this.repositories.stacksForRepository(key);
  }

  createDeployment(ref: StackRef, d: NewDeployment): Promise<DeploymentRecord> {
    return this.deployments.createDeployment(ref, d);
  }
  findByIdempotencyKey(ref: StackRef, key: string): Promise<{ requestHash: string; deployment: DeploymentRecord } | undefined> {
    return this.deployments.findByIdempotencyKey(ref, key);
  }
  releaseIdempotencyKey(deploymentId: string): Promise<void> {
    return this.deployments.releaseIdempotencyKey(deploymentId);
  }
  listByStatus(statuses: readonly DeploymentStatus[], limit: number): Promise<DeploymentRecord[]> {
    return this.deployments.listByStatus(statuses, limit);
  }
  getDeploymentById(id: string): Promise<DeploymentRecord | undefined> {
    return this.deployments.getDeploymentById(id);
  }
  getDeployment(ref: StackRef, id: string): Promise<DeploymentRecord | undefined> {
    return this.deployments.getDeployment(ref, id);
  }
  /** `latest`: the stack's latest version, when the caller has just read it. */
  listDeployments(scope: StackRef | { org: string }, o: ListOptions, latest?: number): Promise<{ deployments: DeploymentRecord[]; total: number }> {
    return this.deployments.listDeployments(scope, o, latest);
  }
  getDeploymentByVersion(ref: StackRef, version: number): Promise<DeploymentRecord | undefined> {
    return this.deployments.getDeploymentByVersion(ref, version);
  }
  latestVersions(refs: StackRef[]): Promise<Map<string, number>> {
    return this.deployments.latestVersions(refs);
  }
  latestVersion(ref: StackRef): Promise<number> {
    return this.deployments.latestVersion(ref);
  }
  setStatus(id: string, status: DeploymentStatus, message?: string, from?: readonly DeploymentStatus[]): Promise<boolean> {
    return this.deployments.setStatus(id, status, message, from);
  }
  setStep(id: string, idx: number, status: StepStatus): Promise<void> {
    return this.deployments.setStep(id, idx, status);
  }
  finishDeployment(id: string, status: DeploymentStatus, message?: string, from?: readonly DeploymentStatus[]): Promise<boolean> {
    return this.deployments.finishDeployment(id, status, message, from);
  }
  closeOpenSteps(id: string, status: StepStatus): Promise<void> {
    return this.deployments.closeOpenSteps(id, status);
  }
  ensureStep(id: string, name: string): Promise<number> {
    return this.deployments.ensureStep(id, name);
  }
  countByStatus(org: string): Promise<Record<string, number>> {
    return this.deployments.countByStatus(org);
  }
  stacksWithQueued(org: string): Promise<StackRef[]> {
    return this.deployments.stacksWithQueued(org);
  }
  recordChanges(id: string, changes: ResourceChanges, driftDetected: boolean | null): Promise<void> {
    return this.deployments.recordChanges(id, changes, driftDetected);
  }
  linkDriftRemediation(detectionId: string, remediationId: string): Promise<void> {
    return this.deployments.linkDriftRemediation(detectionId, remediationId);
  }

  listDriftRuns(ref: StackRef, o: { page: number; pageSize: number }): Promise<{ runs: DriftRunRecord[]; total: number }> {
    return this.drift.listDriftRuns(ref, o);
  }
  driftStatus(ref: StackRef): Promise<DriftStatus> {
    return this.drift.driftStatus(ref);
  }

  appendLogs(id: string, step: number, lines: { seq: number; ts: string; line: string }[]): Promise<void> {
    return this.logs.appendLogs(id, step, lines);
  }
  countLogs(id: string, step: number): Promise<number> {
    return this.logs.countLogs(id, step);
  }
  readLogs(id: string, step: number, offset: number, count: number): Promise<LogLine[]> {
    return this.logs.readLogs(id, step, offset, count);
  }

  pause(org: string, ref?: StackRef): Promise<void> {
    return this.pauses.pause(org, ref);
  }
  resume(org: string, ref?: StackRef): Promise<void> {
    return this.pauses.resume(org, ref);
  }
  pauseState(ref: StackRef): Promise<{ stackPaused: boolean; organizationPaused: boolean }> {
    return this.pauses.pauseState(ref);
  }
  orgPauseState(org: string): Promise<{ paused: boolean; pausedStacks: string[] }> {
    return this.pauses.orgPauseState(org);
  }
}
