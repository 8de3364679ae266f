import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { isTwentyGeneration, type TwentyGeneration } from './app/example-config';
import { startTwentyLikeApp, type TwentyLikeApp } from './harness';

// The two real processes, like a Twenty deployment: the API server
// (dist/example/app/main.js) and the queue worker, sharing Redis. A client
// opens a graphql-sse subscription, adds a query, then makes one UI update and
// two automatic workflow updates, and checks what reached the browser.
//   node dist/example/two-process-check.js [generation] [redisUrl] [port]
// Children inherit NODE_OPTIONS, so `--require <register>` instruments both;
// EXAMPLE_CHILD_NODE_OPTIONS instead instruments only the two children.

const startProcess = (script: string, env: NodeJS.ProcessEnv, label: string): ChildProcess => {
  const childNodeOptions = process.env.EXAMPLE_CHILD_NODE_OPTIONS;
  const child = spawn(process.execPath, [join(__dirname, script)], {
    env: { ...process.env, ...env, ...(childNodeOptions && { NODE_OPTIONS: childNodeOptions }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  child.stdout?.on('data', (chunk: Buffer) => process.stdout.write(`[${label}] ${chunk}`));
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[${label}] ${chunk}`));

  return child;
};

const waitForServer = async (url: string, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;

  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/metadata`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ twentyGeneration }' }),
      });

      if (response.ok) {
        return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`API server did not answer on ${url}`);
};

const check = (label: string, condition: boolean, failures: string[]) => {
  // eslint-disable-next-line no-console
  console.log(`${condition ? 'ok  ' : 'FAIL'} ${label}`);
  if (!condition) {
    failures.push(label);
  }
};

const main = async () => {
  const [generationArg = 'v5', redisUrl = 'redis://127.0.0.1:6390', portArg = '3901'] = process.argv.slice(2);

  if (!isTwentyGeneration(generationArg)) {
    throw new Error(`Unknown generation ${generationArg}`);
  }
  const generation: TwentyGeneration = generationArg;
  const url = `http://127.0.0.1:${portArg}`;
  const groundTruthFile = join(mkdtempSync(join(tmpdir(), 'twenty-like-')), 'ground-truth.jsonl');
  const env = {
    EXAMPLE_TWENTY_GENERATION: generation,
    REDIS_URL: redisUrl,
    MESSAGE_QUEUE_TYPE: 'redis',
    PORT: portArg,
    EXAMPLE_GROUND_TRUTH_FILE: groundTruthFile,
  };
  const children = [
    startProcess('app/main.js', env, 'server'),
    startProcess('app/queue-worker/queue-worker.js', env, 'worker'),
  ];
  let client: TwentyLikeApp | undefined;
  const failures: string[] = [];

  try {
    await waitForServer(url);
    client = await startTwentyLikeApp({ generation, mode: 'client', url, redisUrl, groundTruthFile });

    const { workspaceId } = await client.seed.workspace();
    const user = await client.seed.user({ workspaceId });
    const company = await client.seed.record({
      workspaceId,
      objectNameSingular: 'company',
      data: { name: 'Acme', stage: 'LEAD' },
    });
    const stream = await client.streams.open({ token: user.token });
    const queryId = 'record-table-virtualized-company';

    check(
      'addQueryToEventStream over GraphQL',
      await stream.addQuery({
        queryId,
        operationSignature: { objectNameSingular: 'company', variables: { filter: { stage: { eq: 'LEAD' } } } },
      }),
      failures,
    );

    await client.ui.updateRecord({ token: user.token, objectNameSingular: 'companies', id: company.id, data: { name: 'Acme UI' } });
    await stream.waitForEvents((events) => events.length >= 1);

    const leaving = await client.workflows.runAutomatic({
      workspaceId,
      steps: [client.workflows.steps.updateRecord('company', company.id, { stage: 'WON' })],
    });
    const staying = await client.workflows.runAutomatic({
      workspaceId,
      steps: [client.workflows.steps.updateRecord('company', company.id, { name: 'Acme WF', stage: 'LEAD' })],
    });

    await client.settle({ quietMs: 300 });
    await new Promise((resolve) => setTimeout(resolve, 200));

    const events = stream.events();
    const groundTruth = client.readGroundTruth().filter((record) => record.workspaceId === workspaceId);

    // eslint-disable-next-line no-console
    console.log('\nSSE events received:');
    for (const { queryIds, event } of events) {
      // eslint-disable-next-line no-console
      console.log(
        `  ${event.action} ${event.objectNameSingular} fields=${JSON.stringify(event.properties.updatedFields)} userId=${event.userId ?? '-'} queries=${queryIds.join(',')}`,
      );
    }
    // eslint-disable-next-line no-console
    console.log('\nGround truth:');
    for (const record of groundTruth) {
      // eslint-disable-next-line no-console
      console.log(
        `  [${record.process}] ${record.kind}${record.kind === 'dropped' ? ` ${record.dCode}/${record.reason}` : ''} ${record.eventName} origin=${record.origin} x${record.count}`,
      );
    }
    // eslint-disable-next-line no-console
    console.log('');

    check('workflow runs completed', leaving.status === 'COMPLETED' && staying.status === 'COMPLETED', failures);
    check('UI update delivered with its author', events[0]?.event.userId === user.userId, failures);
    const workflowEvents = events.slice(1);
    const expectedWorkflowEvents = generation === 'publisher' || generation === 'v1' ? 2 : 1;

    check(
      `${expectedWorkflowEvents} workflow update(s) delivered (a record leaving the filter is ${expectedWorkflowEvents === 2 ? '' : 'not '}delivered)`,
      workflowEvents.length === expectedWorkflowEvents && workflowEvents.every(({ event }) => !event.userId),
      failures,
    );
    check(
      'workflow events were published by the worker process',
      groundTruth.some((record) => record.process === 'worker' && record.origin === 'workflow' && record.kind === 'forwarded'),
      failures,
    );
    check(
      'ground truth matches: UI forwarded by the server',
      groundTruth.some((record) => record.process === 'server' && record.origin === 'ui' && record.kind === 'forwarded'),
      failures,
    );
    if (expectedWorkflowEvents === 1) {
      check(
        'the update leaving the filter is a D8 drop in the worker',
        groundTruth.some((record) => record.process === 'worker' && record.kind === 'dropped' && record.dCode === 'D8'),
        failures,
      );
    }
    stream.close();
  } finally {
    await client?.close();
    for (const child of children) {
      child.kill('SIGTERM');
    }
  }

  if (failures.length > 0) {
    // eslint-disable-next-line no-console
    console.error(`${failures.length} check(s) failed`);
    process.exit(1);
  }
  // eslint-disable-next-line no-console
  console.log(`two-process check passed for ${generation}`);
};

main().catch((error) => {
  // eslint-disable-next-line no-console
  console.error(error);
  process.exit(1);
});
