#!/usr/bin/env node
// One real WatermelonDB device (the published @nozbe/watermelondb package, LokiJS adapter in
// memory) driven over stdin/stdout, for the conformance test of the sync protocol.
//
//   node tests/conformance/device.js --server http://127.0.0.1:8000 --token mq_dev_... [--name A]
//
// At start it fetches GET /api/v1/sync/schema, builds the appSchema and one Model class per
// table, and prints {"event":"ready", ...}. Then it reads one JSON command per line and answers
// one JSON line each:
//   {"cmd":"create","table":T,"fields":{...}}        -> {ok, id, record}
//   {"cmd":"update","table":T,"id":I,"fields":{...}} -> {ok, record}
//   {"cmd":"delete","table":T,"id":I}                -> {ok}            (markAsDeleted)
//   {"cmd":"query","table":T}                        -> {ok, records, deleted}
//   {"cmd":"sync","pauseAfterPull":bool}             -> {ok, pulled, pushed, rejected, ...}
//        with pauseAfterPull it first prints {"event":"pulled",...} and waits for
//        {"cmd":"continue"} before applying the pull and pushing.
//        With "dropPushResponse":true the push reaches the server but its answer is thrown
//        away, as when the network drops it: synchronize() fails and the phone keeps its
//        changes unsynced (the retry must change nothing twice).
//   {"cmd":"exit"}                                   -> {ok}, then the process ends
// A failure is {"ok":false,"error":...,"status":<HTTP status or null>,"phase":...}.
// stdout carries only these JSON lines; WatermelonDB's and LokiJS's console output goes to
// stderr and is also returned in `warnings` (so a test can see "[Sync] Server wants client to
// create record ... already exists" and similar protocol complaints).
'use strict'

const readline = require('readline')
const util = require('util')

const REQUEST_TIMEOUT_MS = 30000

// --- console: keep stdout for the protocol ----------------------------------------------------

const warnings = []
for (const level of ['log', 'info', 'debug', 'warn', 'error']) {
  console[level] = (...args) => {
    const text = util.format(...args)
    process.stderr.write(`[${level}] ${text}\n`)
    if (level === 'warn' || level === 'error') warnings.push(text.split('\n')[0].slice(0, 500))
  }
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function die(message) {
  process.stderr.write(`device.js fatal: ${message}\n`)
  emit({ event: 'fatal', error: String(message) })
  process.exit(1)
}

process.on('unhandledRejection', (err) => die(err && err.stack ? err.stack : err))
process.on('uncaughtException', (err) => die(err && err.stack ? err.stack : err))

// --- arguments ----------------------------------------------------------------------------------

function parseArgs(argv) {
  const args = { name: 'device', appVersion: 'watermelondb-0.28.0-conformance' }
  for (let i = 0; i < argv.length; i += 1) {
    const key = argv[i]
    const value = argv[i + 1]
    if (key === '--server') args.server = value
    else if (key === '--token') args.token = value
    else if (key === '--name') args.name = value
    else if (key === '--app-version') args.appVersion = value
    else die(`unknown argument ${key}`)
    i += 1
  }
  if (!args.server || !args.token) die('usage: device.js --server URL --token TOKEN [--name N]')
  args.server = args.server.replace(/\/+$/, '')
  return args
}

const args = parseArgs(process.argv.slice(2))

// --- stdin: a queue of lines, so that a sync can wait for "continue" mid-way -------------------

const pending = []
const waiters = []
let stdinClosed = false
const rl = readline.createInterface({ input: process.stdin, terminal: false })
rl.on('line', (line) => {
  if (!line.trim()) return
  if (waiters.length) waiters.shift()(line)
  else pending.push(line)
})
rl.on('close', () => {
  stdinClosed = true
  while (waiters.length) waiters.shift()(null)
})

function nextLine() {
  if (pending.length) return Promise.resolve(pending.shift())
  if (stdinClosed) return Promise.resolve(null)
  return new Promise((resolve) => waiters.push(resolve))
}

// --- HTTP ---------------------------------------------------------------------------------------

class HttpError extends Error {
  constructor(status, body, phase) {
    super(`${phase}: HTTP ${status}: ${typeof body === 'string' ? body : JSON.stringify(body)}`)
    this.status = status
    this.body = body
    this.phase = phase
  }
}

async function request(method, path, phase, body) {
  const headers = {
    Authorization: `Bearer ${args.token}`,
    Accept: 'application/json',
    'X-App-Version': args.appVersion,
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  let response
  try {
    response = await fetch(args.server + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
  } catch (err) {
    const e = new Error(`${phase}: ${method} ${path} failed: ${err && err.message}`)
    e.status = null
    e.phase = phase
    throw e
  }
  const text = await response.text()
  let parsed = text
  try {
    parsed = text ? JSON.parse(text) : null
  } catch (_) {
    // keep the text: a non-JSON answer is itself worth reporting
  }
  if (!response.ok) throw new HttpError(response.status, parsed, phase)
  if (typeof parsed === 'string') throw new HttpError(response.status, `not JSON: ${text}`, phase)
  return parsed
}

// --- the database, built from the server's schema -----------------------------------------------

const { Database, Model, appSchema, tableSchema } = require('@nozbe/watermelondb')
const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default
const { synchronize } = require('@nozbe/watermelondb/sync')
const { sanitizedRaw } = require('@nozbe/watermelondb/RawRecord')
const { schemaMigrations } = require('@nozbe/watermelondb/Schema/migrations')

function buildSchema(json) {
  if (!json || typeof json.version !== 'number' || !Array.isArray(json.tables)) {
    throw new Error(`schema: expected {version, tables: [...]}, got ${JSON.stringify(json)}`)
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

function modelClassFor(table) {
  // A generic model: fields are read and written through _getRaw/_setRaw (no decorators).
  const cls = class extends Model {}
  cls.table = table
  cls.associations = {}
  return cls
}

async function openDatabase(schemaJson) {
  const schema = buildSchema(schemaJson)
  const adapter = new LokiJSAdapter({
    schema,
    // As docs/sync.md's example: sync migrations enabled from version 1, which needs a
    // migrations list on the adapter (empty at version 1; a later server schema version
    // would need real steps, so the device then syncs without migrations).
    migrations: schema.version === 1 ? schemaMigrations({ migrations: [] }) : undefined,
    useWebWorker: false,
    useIncrementalIndexedDB: false,
    dbName: `conformance-${args.name}-${process.pid}`,
    extraLokiOptions: { autosave: false },
    onSetUpError: (err) => die(`LokiJS set-up: ${err && err.stack ? err.stack : err}`),
  })
  const modelClasses = schemaJson.tables.map((t) => modelClassFor(t.name))
  const database = new Database({ adapter, modelClasses })
  // The adapter sets up asynchronously: a first read waits until it is ready.
  await database.get(schemaJson.tables[0].name).query().fetchCount()
  return { database, schema }
}

// --- commands -----------------------------------------------------------------------------------

let db = null
let columnsByTable = {}

function collection(table) {
  if (!columnsByTable[table]) {
    const e = new Error(`unknown table ${table}`)
    e.status = null
    throw e
  }
  return db.get(table)
}

function setFields(record, table, fields) {
  for (const [name, value] of Object.entries(fields || {})) {
    if (!columnsByTable[table].has(name)) throw new Error(`${table} has no column ${name}`)
    record._setRaw(name, value)
  }
}

async function find(table, id) {
  return collection(table).find(id)
}

async function cmdCreate({ table, fields }) {
  const c = collection(table)
  const record = await db.write(() => c.create((r) => setFields(r, table, fields)))
  return { id: record.id, record: { ...record._raw } }
}

async function cmdUpdate({ table, id, fields }) {
  const record = await find(table, id)
  await db.write(() => record.update((r) => setFields(r, table, fields)))
  return { record: { ...record._raw } }
}

async function cmdDelete({ table, id }) {
  const record = await find(table, id)
  await db.write(() => record.markAsDeleted())
  return {}
}

async function cmdQuery({ table }) {
  const records = await collection(table).query().fetch()
  const deleted = await db.adapter.getDeletedRecords(table)
  return {
    records: records.map((r) => ({ ...r._raw })).sort((a, b) => (a.id < b.id ? -1 : 1)),
    deleted,
  }
}

function summarise(changes) {
  // {table: {created: [ids], updated: [ids], deleted: [ids]}} for the tables that changed
  const out = {}
  for (const [table, set] of Object.entries(changes || {})) {
    const created = (set.created || []).map((r) => r.id)
    const updated = (set.updated || []).map((r) => r.id)
    const deleted = set.deleted || []
    if (created.length || updated.length || deleted.length) out[table] = { created, updated, deleted }
  }
  return out
}

// What WatermelonDB would silently change or drop in a pulled record: columns the schema does
// not have (ignored), columns missing (set to null / '' / 0 / false), values of the wrong type
// (sanitizedRaw coerces them: an integer id in a string column becomes ''). Each is a protocol
// mismatch that the device would not report.
function pulledProblems(changes) {
  const problems = []
  for (const [table, set] of Object.entries(changes || {})) {
    const schema = db.schema.tables[table]
    if (!schema) {
      problems.push(`${table}: not in the schema`)
      continue
    }
    for (const kind of ['created', 'updated']) {
      for (const raw of (set && set[kind]) || []) {
        const clean = sanitizedRaw({ ...raw, _status: 'synced', _changed: '' }, schema)
        for (const key of Object.keys(raw)) {
          if (key !== 'id' && !(key in schema.columns)) {
            problems.push(`${table}#${raw.id}: column ${key} is not in the schema`)
          }
        }
        for (const column of schema.columnArray) {
          const name = column.name
          if (!Object.prototype.hasOwnProperty.call(raw, name)) {
            problems.push(`${table}#${raw.id}: column ${name} missing`)
          } else if (JSON.stringify(clean[name]) !== JSON.stringify(raw[name])) {
            problems.push(
              `${table}#${raw.id}: ${name} sent ${JSON.stringify(raw[name])}, ` +
                `stored as ${JSON.stringify(clean[name])} (${column.type}` +
                `${column.isOptional ? ', optional' : ''})`,
            )
          }
        }
      }
    }
    for (const id of (set && set.deleted) || []) {
      if (typeof id !== 'string') problems.push(`${table}: deleted id ${JSON.stringify(id)} is not a string`)
    }
  }
  return problems.slice(0, 50)
}

async function cmdSync({ pauseAfterPull, dropPushResponse }) {
  const report = {
    pulled: null, // ids per table and kind, from the server's answer
    pulledRecords: null, // the raw changes as pulled, for field checks
    pullTimestamp: null,
    pushed: null, // ids per table and kind, as WatermelonDB pushed them
    pushedRecords: null,
    pushResponse: null,
    rejected: null,
    problems: [], // what WatermelonDB would silently coerce or drop in the pulled records
  }
  warnings.length = 0
  const pullChanges = async ({ lastPulledAt, schemaVersion, migration }) => {
    const query = new URLSearchParams({
      last_pulled_at: lastPulledAt == null ? 'null' : String(lastPulledAt),
      schema_version: String(schemaVersion),
      migration: JSON.stringify(migration == null ? null : migration),
    })
    report.lastPulledAt = lastPulledAt == null ? null : lastPulledAt
    const answer = await request('GET', `/api/v1/sync/pull?${query}`, 'pull')
    report.pulled = summarise(answer && answer.changes)
    report.problems = pulledProblems(answer && answer.changes)
    report.pulledRecords = answer && answer.changes
    report.pullTimestamp = answer && answer.timestamp
    if (pauseAfterPull) {
      emit({ event: 'pulled', pulled: report.pulled, timestamp: report.pullTimestamp })
      const line = await nextLine()
      if (line === null) die('stdin closed while paused after pull')
      let cmd
      try {
        cmd = JSON.parse(line)
      } catch (_) {
        cmd = null
      }
      if (!cmd || cmd.cmd !== 'continue') die(`expected {"cmd":"continue"}, got ${line}`)
    }
    return answer
  }
  const pushChanges = async ({ changes, lastPulledAt }) => {
    report.pushed = summarise(changes)
    report.pushedRecords = changes
    report.pushLastPulledAt = lastPulledAt
    const path = `/api/v1/sync/push?last_pulled_at=${encodeURIComponent(String(lastPulledAt))}`
    const answer = await request('POST', path, 'push', changes)
    if (dropPushResponse) {
      report.droppedPushResponse = answer
      const lost = new Error('push: the answer was lost on the way back (simulated)')
      lost.status = null
      lost.phase = 'push'
      throw lost
    }
    report.pushResponse = answer
    report.rejected = (answer && answer.experimentalRejectedIds) || null
    return answer || {}
  }
  try {
    await synchronize({
      database: db,
      pullChanges,
      pushChanges,
      migrationsEnabledAtVersion: db.schema.version === 1 ? 1 : undefined,
    })
  } catch (err) {
    return {
      ok: false,
      error: err && err.body !== undefined ? err.body : String(err && err.message ? err.message : err),
      status: err && err.status !== undefined ? err.status : null,
      phase: (err && err.phase) || 'apply',
      ...report,
      warnings: warnings.slice(),
    }
  }
  return { ...report, warnings: warnings.slice() }
}

const COMMANDS = {
  create: cmdCreate,
  update: cmdUpdate,
  delete: cmdDelete,
  query: cmdQuery,
  sync: cmdSync,
}

async function main() {
  let schemaJson
  try {
    schemaJson = await request('GET', '/api/v1/sync/schema', 'schema')
  } catch (err) {
    emit({ event: 'fatal', error: err.body !== undefined ? err.body : err.message, status: err.status })
    process.exit(2)
  }
  const opened = await openDatabase(schemaJson)
  db = opened.database
  columnsByTable = {}
  for (const t of schemaJson.tables) columnsByTable[t.name] = new Set(t.columns.map((c) => c.name))
  emit({
    event: 'ready',
    name: args.name,
    schema: {
      version: opened.schema.version,
      tables: Object.fromEntries(
        Object.entries(opened.schema.tables).map(([name, t]) => [name, Object.keys(t.columns)]),
      ),
    },
  })

  for (;;) {
    const line = await nextLine()
    if (line === null) break
    let cmd
    try {
      cmd = JSON.parse(line)
    } catch (err) {
      emit({ ok: false, error: `not JSON: ${line}`, status: null })
      continue
    }
    if (cmd.cmd === 'exit') {
      emit({ ok: true })
      break
    }
    const handler = COMMANDS[cmd.cmd]
    if (!handler) {
      emit({ ok: false, error: `unknown command ${cmd.cmd}`, status: null })
      continue
    }
    try {
      const result = await handler(cmd)
      emit(result.ok === false ? result : { ok: true, ...result })
    } catch (err) {
      emit({
        ok: false,
        error: err && err.body !== undefined ? err.body : String(err && err.message ? err.message : err),
        status: err && err.status !== undefined ? err.status : null,
        phase: err && err.phase ? err.phase : cmd.cmd,
      })
    }
  }
  // LokiJS keeps timers alive; nothing is persisted, so leave at once.
  process.stdout.write('', () => process.exit(0))
}

main()
