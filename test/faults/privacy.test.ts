import path from 'path';
import { ATTR } from '../../src/semconv';
import { presentId } from '../../src/engine/ids';
import { OtlpReceiver } from '../helpers/otlp-receiver';
import { lastJsonLine, REGISTER, ROOT, runNode } from '../helpers/run-node';

/**
 * Everything exported over OTLP during a run is scanned for the record field
 * values the scenario wrote and for the raw user, workspace-member and
 * workspace ids: none may appear. Ids are hashed by default and absent with
 * TWENTY_SSE_OTEL_CAPTURE_IDS=none.
 */
const SECRET = 'PRIVATE-CUSTOMER-NAME-7f3a';
const RAW_IDS = ['user-workload', 'wm-workload', 'ws-workload'];

async function exportRun(captureIds?: string): Promise<OtlpReceiver> {
  const receiver = new OtlpReceiver();
  const url = await receiver.start();
  const run = await runNode(['--require', REGISTER, path.join(ROOT, 'test/fixtures/workload.js')], {
    TWENTY_SSE_OTEL_ENABLED: 'true',
    OTEL_EXPORTER_OTLP_ENDPOINT: url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_METRIC_EXPORT_INTERVAL: '300',
    WORKLOAD_EVENTS: '30',
    WORKLOAD_NAME_PREFIX: SECRET,
    ...(captureIds ? { TWENTY_SSE_OTEL_CAPTURE_IDS: captureIds } : {}),
  });
  await receiver.stop();
  lastJsonLine(run, 'workload');
  return receiver;
}

describe('privacy of what is exported', () => {
  it('default (hashed): no record value, no raw id; ids present only as hashes', async () => {
    const receiver = await exportRun();
    const everything = receiver.raw.join('\n');
    expect(receiver.spans.length).toBeGreaterThan(50);
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain('Acme');
    for (const id of RAW_IDS) expect(everything).not.toContain(id);
    const workspaceIds = new Set(receiver.spans.map((s) => s.attributes[ATTR.WORKSPACE_ID]).filter(Boolean));
    expect([...workspaceIds]).toEqual([presentId('ws-workload', 'hashed')]);
    expect(
      receiver.spans.some((s) => String(s.attributes[ATTR.SUBSCRIBER_USER_WORKSPACE_ID] ?? '').startsWith('sha256:')),
    ).toBe(true);
    // metric labels never carry ids at all
    expect(
      receiver.points.every((p) => Object.values(p.attributes).every((v) => !String(v).startsWith('sha256:'))),
    ).toBe(true);
  });

  it('none: id attributes are absent', async () => {
    const receiver = await exportRun('none');
    const everything = receiver.raw.join('\n');
    expect(receiver.spans.length).toBeGreaterThan(50);
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain('sha256:');
    for (const id of RAW_IDS) expect(everything).not.toContain(id);
    expect(
      receiver.spans.some(
        (s) =>
          s.attributes[ATTR.WORKSPACE_ID] !== undefined ||
          s.attributes[ATTR.SUBSCRIBER_USER_WORKSPACE_ID] !== undefined,
      ),
    ).toBe(false);
  });
});
