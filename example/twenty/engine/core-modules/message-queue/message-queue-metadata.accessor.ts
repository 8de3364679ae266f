import { Injectable, type Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

import { type MessageQueueProcessOptions } from './decorators/process.decorator';
import { type MessageQueueProcessorOptions } from './decorators/processor.decorator';
import { PROCESS_METADATA, PROCESSOR_METADATA } from './message-queue.constants';

@Injectable()
export class MessageQueueMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  isProcessor(target: Type | Function | undefined): boolean {
    return !!target && !!this.reflector.get(PROCESSOR_METADATA, target);
  }

  isProcess(target: Type | Function | undefined): boolean {
    return !!target && !!this.reflector.get(PROCESS_METADATA, target);
  }

  getProcessorMetadata(target: Type | Function): MessageQueueProcessorOptions | undefined {
    return this.reflector.get(PROCESSOR_METADATA, target);
  }

  getProcessMetadata(target: Type | Function): MessageQueueProcessOptions | undefined {
    return this.reflector.get(PROCESS_METADATA, target);
  }
}
