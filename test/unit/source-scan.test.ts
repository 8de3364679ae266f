import { scanClasses } from '../../src/twenty/source-scan';
import { detectGenerationFrom } from '../../src/twenty/detect';

describe('scanClasses', () => {
  it('SWC output: `let X = class X {`, async methods, decorators applied outside', () => {
    const source = `
"use strict";
let ObjectRecordEventPublisher = class ObjectRecordEventPublisher {
    async publish(eventBatch) { const x = { a: () => { return '}'; } }; if (x) { return; } }
    async processObjectRecordStreamEvents({ streamChannelId, streamData }) { for (const e of []) { continue; } }
    resolveStreamRoleIds(subscriberAuthContext, permissionsContext) { return \`\${'{'}\`; }
    constructor(subscriptionService){ _define_property(this, "logger", void 0); }
};
ObjectRecordEventPublisher = _ts_decorate([ (0, _common.Injectable)() ], ObjectRecordEventPublisher);
`;
    const classes = scanClasses(source);
    expect([...classes.get('ObjectRecordEventPublisher')!].sort()).toEqual([
      'processObjectRecordStreamEvents',
      'publish',
      'resolveStreamRoleIds',
    ]);
  });

  it('TypeScript sources: export, extends, modifiers, typed parameters, decorators with objects; no fields, getters or arrow properties', () => {
    const source = `
// class NotThis { fake() {} }
@Injectable()
export class EntityEventsToDbListener extends Base<T> implements OnModuleInit {
  private readonly logger = new Logger(EntityEventsToDbListener.name);
  handler = async (x: string) => { return x; };
  /* private commented() {} */
  constructor(private readonly a: A) { super(); }

  @OnDatabaseBatchEvent('*', DatabaseEventAction.CREATED)
  async handleCreate(batchEvent: WorkspaceEventBatch<ObjectRecordCreateEvent>) {
    return this.handleEvent(batchEvent, DatabaseEventAction.CREATED);
  }

  @OnEvent('x', { async: true, promisify: true })
  public handleOther(): void {}

  private async handleEvent<T extends ObjectRecordEvent>(
    batchEvent: WorkspaceEventBatch<T>,
    action: DatabaseEventAction,
  ): Promise<void> {
    const text = "class Inner { nope() {} }";
  }

  get name(): string { return 'x'; }
  static create(): EntityEventsToDbListener { return new EntityEventsToDbListener(null as never); }
}
`;
    const classes = scanClasses(source);
    expect(classes.has('NotThis')).toBe(false);
    expect(classes.has('Inner')).toBe(false);
    expect([...classes.get('EntityEventsToDbListener')!].sort()).toEqual([
      'create',
      'handleCreate',
      'handleEvent',
      'handleOther',
    ]);
  });

  it('the scanned methods feed the same detection the runtime uses', () => {
    const source = `
export class ObjectRecordEventPublisher {
  async publish(eventBatch: WorkspaceEventBatch<ObjectRecordEvent>): Promise<void> {}
  private async processObjectRecordStreamEvents({ streamChannelId }: { streamChannelId: string }): Promise<void> {}
  private buildSubscriberRowAccessPolicySubject({ roleIds }: { roleIds: string[] }): RowAccessPolicySubject { return {} as never; }
  private getMatchingObjectRecordQueryIds({ queries }: { queries: Q }): string[] { return []; }
}
export class RecordAccessPolicyService {
  buildEventRecordAccessGate({ workspaceId }: WorkspaceEventBatch<ObjectRecordEvent>): EventRecordAccessGate { return { resolveAdmittedRecordIds: async () => new Set() }; }
}`;
    const classes = scanClasses(source);
    expect(detectGenerationFrom((name) => classes.get(name))?.id).toBe('record_access');
    const older = scanClasses(
      source
        .replace(
          'private getMatchingObjectRecordQueryIds',
          'private filterRestrictedFieldsFromEvent(event: E): E { return event; }\n  private getMatchingObjectRecordQueryIds',
        )
        .replace('buildEventRecordAccessGate', 'buildEventRecordShareGate'),
    );
    expect(detectGenerationFrom((name) => older.get(name))?.id).toBe('record_share');
  });
});
