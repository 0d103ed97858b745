// The phone's database: WatermelonDB 0.28 on LokiJS, persisted to IndexedDB (incremental),
// with the schema the server publishes (GET /api/v1/sync/schema, cached for offline starts).
import { Database, Model, appSchema, tableSchema } from '@nozbe/watermelondb'
import LokiJSAdapter from '@nozbe/watermelondb/adapters/lokijs'
import { schemaMigrations } from '@nozbe/watermelondb/Schema/migrations'

export const DB_NAME = 'minqing'

function buildSchema(json) {
  if (!json || typeof json.version !== 'number' || !Array.isArray(json.tables)) {
    throw new Error('bad schema')
  }
  return appSchema({
    version: json.version,
    tables: json.tables.map((t) =>
      tableSchema({
        name: t.name,
        columns: t.columns.map((c) => ({
          name: c.name,
          type: c.type,
          isOptional: Boolean(c.isOptional),
          isIndexed: Boolean(c.isIndexed),
        })),
      }),
    ),
  })
}

function modelFor(table) {
  // Generic models: fields are read from _raw and written with _setRaw (no decorators).
  const cls = class extends Model {}
  cls.table = table
  cls.associations = {}
  return cls
}

export async function openDatabase(schemaJson, { onQuotaExceeded, onSetUpError } = {}) {
  const schema = buildSchema(schemaJson)
  const adapter = new LokiJSAdapter({
    schema,
    // docs/sync.md: sync migrations from version 1 need a migrations list on the adapter.
    migrations: schemaMigrations({ migrations: [] }),
    dbName: DB_NAME,
    useWebWorker: false,
    useIncrementalIndexedDB: true,
    onQuotaExceededError: (err) => onQuotaExceeded && onQuotaExceeded(err),
    onSetUpError: (err) => onSetUpError && onSetUpError(err),
  })
  const database = new Database({
    adapter,
    modelClasses: schemaJson.tables.map((t) => modelFor(t.name)),
  })
  // The adapter sets up asynchronously: the first read waits for it.
  await database.get(schemaJson.tables[0].name).query().fetchCount()
  return database
}

// LokiJS saves to IndexedDB on a timer (autosave): a write followed by a closed tab within
// that time would be lost. Every write the collector must not lose is followed by flush(),
// which asks Loki to save now and waits until IndexedDB has it. `unsafeExecute({loki})` is
// WatermelonDB's documented escape hatch to the Loki instance.
export async function flush(database) {
  let loki = null
  await database.adapter.unsafeExecute({ loki: (l) => (loki = l) })
  if (!loki) return
  await new Promise((resolve, reject) =>
    loki.saveDatabase((err) => (err ? reject(err) : resolve())),
  )
}

export const raw = (record) => record._raw

export async function createRecord(database, table, fields) {
  const record = await database.write(() =>
    database.get(table).create((r) => {
      for (const [k, v] of Object.entries(fields)) r._setRaw(k, v)
    }),
  )
  await flush(database)
  return record
}

export async function updateRecord(database, record, fields) {
  await database.write(() =>
    record.update((r) => {
      for (const [k, v] of Object.entries(fields)) r._setRaw(k, v)
    }),
  )
  await flush(database)
  return record
}

export async function all(database, table) {
  return (await database.get(table).query().fetch()).map(raw)
}

// Records created or changed here and not yet accepted by the server.
export async function pending(database, tables) {
  const out = {}
  for (const table of tables) {
    const rows = await all(database, table)
    const mine = rows.filter((r) => r._status !== 'synced')
    if (mine.length) out[table] = mine
  }
  return out
}
