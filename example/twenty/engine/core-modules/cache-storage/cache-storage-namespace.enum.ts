export enum CacheStorageNamespace {
  EngineWorkspace = 'engine:workspace',
  EngineLock = 'engine:lock',
  // Value not confirmed in Twenty's source (the enum there was read before it existed).
  EngineSubscriptions = 'engine:subscriptions',
  // Stand-ins for Postgres: the core schema and the workspace data schema.
  ExampleCore = 'example:core',
  ExampleRecords = 'example:records',
}
