import { OnEvent } from '@nestjs/event-emitter';

import { type DatabaseEventAction } from '../enums/database-event-action';

// Twenty: `OnDatabaseBatchEvent(object, action)` is `OnEvent(`${object}.${action}`)`,
// so the 'event-emitter:metadata' key sits on the method function itself.
export const OnDatabaseBatchEvent = (object: string, action: DatabaseEventAction): MethodDecorator =>
  OnEvent(`${object}.${action}`);
