import { SetMetadata } from '@nestjs/common';

import { PROCESS_METADATA } from '../message-queue.constants';

export interface MessageQueueProcessOptions {
  jobName: string;
  concurrency?: number;
}

// SetMetadata on a method stores the metadata on the method function itself.
export function Process(jobName: string): MethodDecorator;
export function Process(options: MessageQueueProcessOptions): MethodDecorator;
export function Process(nameOrOptions: string | MessageQueueProcessOptions): MethodDecorator {
  const options = typeof nameOrOptions === 'string' ? { jobName: nameOrOptions } : nameOrOptions;

  return SetMetadata(PROCESS_METADATA, options);
}
