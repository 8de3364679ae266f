import { Inject } from '@nestjs/common';

import { getQueueToken, type MessageQueue } from '../message-queue.constants';

export const InjectMessageQueue = (queueName: MessageQueue): ParameterDecorator => Inject(getQueueToken(queueName));
