export enum EventStreamExceptionCode {
  EVENT_STREAM_ALREADY_EXISTS = 'EVENT_STREAM_ALREADY_EXISTS',
  EVENT_STREAM_DOES_NOT_EXIST = 'EVENT_STREAM_DOES_NOT_EXIST',
  NOT_AUTHORIZED = 'NOT_AUTHORIZED',
}

export class EventStreamException extends Error {
  constructor(
    message: string,
    readonly code: EventStreamExceptionCode,
  ) {
    super(message);
    this.name = 'EventStreamException';
  }
}
