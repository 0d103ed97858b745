// The phone's database: WatermelonDB 0.28 on LokiJS, persisted to IndexedDB (incremental),
// with the schema the server publishes (GET /api/v1/sync/schema, cached for offline starts).
import { Database, Model, appSchema, tableSchema } from '@nozbe/watermelondb'
import LokiJSAdapter from '@nozbe/watermelondb/adapters/lokijs'
import { addColumns, createTable, schemaMigrations } from '@nozbe/watermelondb/Schema/migrations'

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

const columnOf = (c) => ({
  name: c.name,
  type: c.type,
  isOptional: Boolean(c.isOptional),
  isIndexed: Boolean(c.isIndexed),
})

// A newer server schema than the phone's (new tables or columns): the migrations that take
// the phone's database there, as plain JSON to keep beside the schema. WatermelonDB wants
// them without gaps, so the versions in between get empty steps. Its sync then tells the
// server which tables and columns are new, and the next pull sends them whole.
export function schemaUpgrade(oldJson, newJson) {
  if (!oldJson || !newJson || !(newJson.version > oldJson.version)) return []
  const before = new Map(oldJson.tables.map((t) => [t.name, new Set(t.columns.map((c) => c.name))]))
  const steps = []
  for (const table of newJson.tables) {
    const had = before.get(table.name)
    if (!had) steps.push({ type: 'create_table', name: table.name, columns: table.columns })
    else {
      const added = table.columns.filter((c) => !had.has(c.name))
      if (added.length) steps.push({ type: 'add_columns', table: table.name, columns: added })
    }
  }
  const out = []
  for (let v = oldJson.version + 1; v <= newJson.version; v++) {
    out.push({ toVersion: v, steps: v === newJson.version ? steps : [] })
  }
  return out
}

function migrationsFrom(list) {
  return schemaMigrations({
    migrations: (list || []).map((m) => ({
      toVersion: m.toVersion,
      steps: m.steps.map((s) =>
        s.type === 'create_table'
          ? createTable({ name: s.name, columns: s.columns.map(columnOf) })
          : addColumns({ table: s.table, columns: s.columns.map(columnOf) }),
      ),
    })),
  })
}

function modelFor(table) {
  // Generic models: fields are read from _raw and written with _setRaw (no decorators).
  const cls = class extends Model {}
  cls.table = table
  cls.associations = {}
  return cls
}

export async function openDatabase(
  schemaJson,
  { onQuotaExceeded, onSetUpError, migrations } = {},
) {
  const schema = buildSchema(schemaJson)
  const adapter = new LokiJSAdapter({
    schema,
    // docs/sync.md: sync migrations from version 1 need a migrations list on the adapter;
    // `migrations` are the upgrades this phone went through (schemaUpgrade, kept in kv).
    migrations: migrationsFrom(migrations),
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
