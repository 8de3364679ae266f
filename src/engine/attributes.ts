import { Attributes } from '@opentelemetry/api';
import { Telemetry } from '../otel/telemetry';
import { ATTR } from '../semconv';
import { WorkflowMark } from './context';
import { presentId } from './ids';
import { BatchView } from './model';

/**
 * Merges attribute sets. Used instead of object spread on the hot path: on
 * Node 20 a literal that starts with a spread takes a slow generic path.
 */
export function mergeAttributes(...parts: (Attributes | undefined)[]): Attributes {
  return Object.assign({}, ...parts) as Attributes;
}

export const NO_ATTRIBUTES: Attributes = Object.freeze({}) as Attributes;
const attributesByMark = new WeakMap<WorkflowMark, Attributes>();

/** The workflow attributes of a mark (built once per mark; one mark covers a whole step). */
export function workflowAttributes(mark: WorkflowMark | undefined): Attributes {
  if (!mark) return NO_ATTRIBUTES;
  let attributes = attributesByMark.get(mark);
  if (attributes) return attributes;
  attributes = {};
  if (mark.workflowRunId) attributes[ATTR.WORKFLOW_RUN_ID] = mark.workflowRunId;
  if (mark.stepId) attributes[ATTR.WORKFLOW_STEP_ID] = mark.stepId;
  if (mark.stepType) attributes[ATTR.WORKFLOW_STEP_TYPE] = mark.stepType;
  attributesByMark.set(mark, attributes);
  return attributes;
}

// One batch object travels through listen, publish, fanout and every stream: describe it once.
const attributesByBatch = new WeakMap<object, Attributes>();

export function batchAttributes(telemetry: Telemetry, batch: BatchView): Attributes {
  const cached = attributesByBatch.get(batch.raw);
  if (cached) return cached;
  const attributes = describeBatch(telemetry, batch);
  attributesByBatch.set(batch.raw, attributes);
  return attributes;
}

export function describeBatch(telemetry: Telemetry, batch: BatchView): Attributes {
  const attributes: Attributes = { [ATTR.EVENT_NAME]: batch.name };
  if (batch.objectName !== undefined) attributes[ATTR.OBJECT_NAME] = batch.objectName;
  if (batch.action !== undefined) attributes[ATTR.EVENT_ACTION] = batch.action;
  const workspaceId = presentId(batch.workspaceId, telemetry.config.captureIds);
  if (workspaceId) attributes[ATTR.WORKSPACE_ID] = workspaceId;
  return attributes;
}
