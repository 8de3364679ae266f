import { type Scope, SetMetadata } from '@nestjs/common';
import { SCOPE_OPTIONS_METADATA } from '@nestjs/common/constants';

import { type MessageQueue, PROCESSOR_METADATA } from '../message-queue.constants';

export interface MessageQueueProcessorOptions {
  queueName: MessageQueue;
  scope?: Scope;
}

export function Processor(queueName: MessageQueue): ClassDecorator;
export function Processor(processorOptions: MessageQueueProcessorOptions): ClassDecorator;
export function Processor(queueNameOrOptions: MessageQueue | MessageQueueProcessorOptions): ClassDecorator {
  const options = typeof queueNameOrOptions === 'object' ? queueNameOrOptions : { queueName: queueNameOrOptions };

  return (target: Function) => {
    SetMetadata(SCOPE_OPTIONS_METADATA, options)(target);
    SetMetadata(PROCESSOR_METADATA, options)(target);
  };
}
