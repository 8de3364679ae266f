import { Injectable } from '@nestjs/common';

// Stand-in for the nested-relation enrichment run before a stream publish
// (V8 and the ObjectRecordEventPublisher). It leaves records unchanged; a test
// can make the next calls throw to reproduce D10 (V8: the error escapes and
// the remaining streams are skipped; publisher: caught, logged, still sent).
@Injectable()
export class ProcessNestedRelationsHelper {
  private failuresToInject = 0;

  failNextCalls(times: number): void {
    this.failuresToInject = times;
  }

  async processNestedRelations({
    parentObjectRecords,
  }: {
    parentObjectMetadataItem: { nameSingular: string };
    parentObjectRecords: Record<string, unknown>[];
    authContext: unknown;
    limit: number;
  }): Promise<void> {
    if (this.failuresToInject > 0) {
      this.failuresToInject -= 1;
      throw new Error(`Nested relation enrichment failed for ${parentObjectRecords.length} record(s)`);
    }
  }
}

export const QUERY_MAX_RECORDS_FROM_RELATION = 60;
