// 民情采集 — the collectors' offline field app. One page; the route is the #hash.
// Data lives on the phone (WatermelonDB on IndexedDB) and syncs with /api/v1/sync/*.
import { all, createRecord, flush, openDatabase, pending, schemaUpgrade, updateRecord } from './db.js'
import { StorageFull, kvDel, kvGet, kvSet, photoAll, photoGet, wipeKv } from './kv.js'
import { NotAnImage, addPhoto, photoUrl, photosOf, removedFrom, setPersonal } from './photos.js'
import { HttpError, NetworkError, PUSH_TABLES, SyncEngine, api, clockSkewMs } from './sync.js'

// ------------------------------------------------------------------ language, helpers

let lang = localStorage.getItem('minqing.lang') === 'en' ? 'en' : 'zh'
const t = (zh, en) => (lang === 'en' ? en : zh)
const esc = (s) =>
  String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
const $ = (sel) => document.querySelector(sel)
const main = () => $('#main')
const pad = (n) => String(n).padStart(2, '0')
const hhmm = (ms) => {
  const d = new Date(ms)
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`
}
const dayTime = (ms) => {
  const d = new Date(ms)
  return `${d.getMonth() + 1}-${pad(d.getDate())} ${hhmm(ms)}`
}
const parseJson = (s, fallback) => {
  try {
    const v = JSON.parse(s)
    return v == null ? fallback : v
  } catch (_) {
    return fallback
  }
}

const STATUS = {
  reported: ['已上报', 'reported'],
  accepted: ['已受理', 'accepted'],
  rejected: ['不予受理', 'rejected'],
  merged: ['已合并', 'merged'],
  dispatched: ['已派遣', 'dispatched'],
  in_progress: ['办理中', 'in progress'],
  handled: ['待核查', 'handled, to verify'],
  awaiting_rating: ['待评价', 'awaiting rating'],
  reopened: ['已返工', 'reopened'],
  closed: ['已结案', 'closed'],
}
const statusText = (s) => (STATUS[s] ? t(...STATUS[s]) : t('待同步', 'not synced yet'))
const OPEN = new Set(['reported', 'accepted', 'dispatched', 'in_progress', 'handled', 'reopened', ''])

// ------------------------------------------------------------------ geometry

function haversine(a, b) {
  const R = 6371008.8
  const rad = Math.PI / 180
  const dLat = (b[1] - a[1]) * rad
  const dLon = (b[0] - a[0]) * rad
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[1] * rad) * Math.cos(b[1] * rad) * Math.sin(dLon / 2) ** 2
  return 2 * R * Math.asin(Math.sqrt(h))
}
const trackLength = (track) => track.reduce((sum, p, i) => (i ? sum + haversine(track[i - 1], p) : 0), 0)

function rings(polygonText) {
  const g = parseJson(polygonText, null)
  if (!g) return []
  if (g.type === 'Polygon') return [g.coordinates]
  if (g.type === 'MultiPolygon') return g.coordinates
  return []
}
function inRing(pt, ring) {
  let inside = false
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]
    const [xj, yj] = ring[j]
    if (yi > pt[1] !== yj > pt[1] && pt[0] < ((xj - xi) * (pt[1] - yi)) / (yj - yi) + xi) inside = !inside
  }
  return inside
}
const inPolygon = (pt, polys) => polys.some((p) => inRing(pt, p[0]) && !p.slice(1).some((h) => inRing(pt, h)))
function gridAt(pt) {
  if (!pt) return null
  return state.grids.find((g) => inPolygon(pt, rings(g.polygon))) || null
}

// ------------------------------------------------------------------ app state

const state = {
  token: null,
  me: null,
  database: null,
  sync: null,
  grids: [],
  categories: [],
  lastFix: null, // [lon, lat, ms, accuracy]
  watchId: null,
  activePatrolId: null,
  newVersion: false,
}

async function loadReference() {
  state.grids = (await all(state.database, 'grids')).sort((a, b) => (a.code < b.code ? -1 : 1))
  state.categories = (await all(state.database, 'categories')).filter((c) => c.active !== false)
}

// ------------------------------------------------------------------ status bar and nav

function renderStatus() {
  const el = $('#status')
  if (!el) return
  if (!state.sync) {
    el.innerHTML = `<strong class="brand">${t('民情采集', 'Minqing field app')}</strong>${langButton()}`
    return
  }
  const s = state.sync.state
  const phase = {
    idle: t('等待同步', 'waiting'),
    syncing: t('同步中', 'syncing'),
    offline: t('离线', 'offline'),
    ok: t('已同步', 'synced'),
    failed: `${t('失败', 'failed')}（${esc(lang === 'zh' ? s.errorZh || s.error : s.error)}）`,
    revoked: t('此设备已停用', 'device revoked'),
  }[s.phase]
  const pendingText =
    s.pendingRecords || s.pendingPhotos
      ? t(`待同步 ${s.pendingRecords} 条记录、${s.pendingPhotos} 张照片`, `${s.pendingRecords} records, ${s.pendingPhotos} photos to send`)
      : t('没有待同步的记录', 'nothing waiting')
  const last = s.lastOkAt ? t(`上次同步 ${dayTime(s.lastOkAt)}`, `last sync ${dayTime(s.lastOkAt)}`) : t('尚未同步', 'never synced')
  const skew = Math.abs(clockSkewMs) > 5 * 60 * 1000
    ? `<p class="warn">${t(`手机时间与服务器相差 ${Math.round(clockSkewMs / 60000)} 分钟：以服务器时间为准。`, `The phone's clock is off by ${Math.round(clockSkewMs / 60000)} min: the server's time counts.`)}</p>`
    : ''
  const revoked = s.phase === 'revoked'
    ? `<p class="alert" id="revoked">${t('此设备已被管理员停用，不再同步。手机上未同步的记录仍然保留，可在“更多”中导出，或重新绑定。', 'This device was revoked by an administrator and no longer syncs. Unsynced records stay on the phone: export them under “More”, or pair again.')}</p>`
    : ''
  const update = state.newVersion
    ? `<p class="info">${t('新版本已下载，下次打开时启用。', 'A new version is ready; it starts next time.')}</p>`
    : ''
  el.innerHTML = `
    <div class="status-row">
      <span class="phase phase-${s.phase}" data-phase="${s.phase}">${phase}</span>
      <button type="button" class="sync-now" data-action="sync" ${s.phase === 'revoked' ? 'disabled' : ''}>${t('立即同步', 'Sync now')}</button>
    </div>
    <div class="status-row small"><span id="pending">${pendingText}</span><span>${last}</span></div>
    ${revoked}${skew}${update}`
}

function langButton() {
  return `<button type="button" class="lang" data-action="lang" lang="${lang === 'zh' ? 'en' : 'zh-CN'}">${lang === 'zh' ? 'English' : '中文'}</button>`
}

function renderNav() {
  const nav = $('#nav')
  if (!state.database) {
    nav.innerHTML = ''
    return
  }
  const route = location.hash.split('/')[1] || 'today'
  const items = [
    ['today', t('今日', 'Today')],
    ['patrol', t('巡查', 'Patrol')],
    ['log', t('日志', 'Log')],
    ['report', t('上报', 'Report')],
    ['more', t('更多', 'More')],
  ]
  nav.innerHTML = `<ul>${items
    .map(([r, label]) => `<li><a href="#/${r}" ${route === r ? 'aria-current="page"' : ''}>${label}</a></li>`)
    .join('')}</ul>`
}

// ------------------------------------------------------------------ screens

function page(title, body) {
  document.title = `${title} · ${t('民情采集', 'Minqing field app')}`
  main().innerHTML = `<h1>${esc(title)}</h1>${body}`
}

function flash(text, kind = 'info') {
  const el = document.createElement('p')
  el.className = kind
  el.setAttribute('role', kind === 'alert' ? 'alert' : 'status')
  el.textContent = text
  main().prepend(el)
}

function localDate(ms) {
  const d = new Date(ms)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
}

async function todaySlots() {
  const schedules = (await kvGet('schedules')) || []
  const patrols = await all(state.database, 'patrols')
  const now = new Date()
  const today = localDate(now.getTime())
  const weekday = ((now.getDay() + 6) % 7) + 1 // 1 = Monday
  const slots = []
  for (const s of schedules) {
    if (!s.active || !(s.weekdays || []).includes(weekday)) continue
    if (s.valid_from && s.valid_from > today) continue
    if (s.valid_to && s.valid_to < today) continue
    for (const time of s.times || []) {
      const [h, m] = time.split(':').map(Number)
      const at = new Date(now)
      at.setHours(h, m, 0, 0)
      const tol = (s.tolerance_minutes || 60) * 60000
      const done = patrols.some(
        (p) => String(p.grid_id) === String(s.grid_id) && Math.abs(p.started_at - at.getTime()) <= tol,
      )
      const status = done ? 'done' : now.getTime() > at.getTime() + tol ? 'missed' : 'todo'
      const grid = state.grids.find((g) => g.id === String(s.grid_id))
      slots.push({ time, at: at.getTime(), status, grid: grid ? grid.name : `#${s.grid_id}` })
    }
  }
  return slots.sort((a, b) => a.at - b.at)
}

async function screenToday() {
  const slots = await todaySlots()
  const cases = await all(state.database, 'cases')
  const gridIds = new Set(state.grids.map((g) => g.id))
  const mineOpen = cases.filter((c) => OPEN.has(c.status || '') && (!c.grid_id || gridIds.has(c.grid_id)))
  const toVerify = mineOpen.filter((c) => c.status === 'handled')
  const rejections = await all(state.database, 'sync_rejections')
  const slotText = { done: t('已完成', 'done'), todo: t('待巡查', 'to do'), missed: t('已错过', 'missed') }
  const caseItem = (c) => `<li><a class="row-link" href="#/case/${esc(c.id)}">
      <span>${esc(c.number || t('（待编号）', '(no number yet)'))} · ${esc(statusText(c.status))}</span>
      <span class="muted">${esc((c.description || '').slice(0, 40))}</span></a></li>`
  page(
    t('今日', 'Today'),
    `<section aria-labelledby="h-slots"><h2 id="h-slots">${t('今日巡查安排', "Today's patrols")}</h2>
      ${slots.length ? `<ul class="list" id="slots">${slots.map((s) => `<li class="slot slot-${s.status}"><span>${s.time} · ${esc(s.grid)}</span><span class="badge">${slotText[s.status]}</span></li>`).join('')}</ul>` : `<p class="muted">${t('今天没有排班。', 'Nothing scheduled today.')}</p>`}
    </section>
    <section aria-labelledby="h-grids"><h2 id="h-grids">${t('我的网格', 'My grids')}</h2>
      <ul class="list" id="grids">${state.grids.map((g) => `<li>${esc(g.name)} <span class="muted">${esc(g.code)}</span></li>`).join('') || `<li class="muted">${t('尚未同步网格', 'No grids synced yet')}</li>`}</ul>
    </section>
    <section aria-labelledby="h-verify"><h2 id="h-verify">${t('待我核查', 'To verify on site')} (${toVerify.length})</h2>
      <ul class="list" id="to-verify">${toVerify.map(caseItem).join('') || `<li class="muted">${t('没有', 'None')}</li>`}</ul>
    </section>
    <section aria-labelledby="h-open"><h2 id="h-open">${t('网格内未结事件', 'Open cases in my grids')} (${mineOpen.length})</h2>
      <ul class="list" id="open-cases">${mineOpen.slice(0, 50).map(caseItem).join('') || `<li class="muted">${t('没有', 'None')}</li>`}</ul>
    </section>
    ${await civicSummary()}
    ${rejections.length ? `<p><a class="button secondary" href="#/rejections">${t(`被退回的记录 (${rejections.length})`, `Refused records (${rejections.length})`)}</a></p>` : ''}`,
  )
}

// ---- deliberation topics and 阳光五务 notices (pull only: shown to residents on the street)

const CLOSED_TOPIC = new Set(['declined', 'closed'])
const NOTICE_CATEGORY = {
  party: ['党务', 'Party affairs'],
  village: ['村(居)务', 'Community affairs'],
  finance: ['财务', 'Finances'],
  service: ['服务', 'Services'],
  affairs: ['事务', 'General affairs'],
}
const hasTable = (name) => Boolean(state.database && state.database.collections.map[name])

async function openTopics() {
  if (!hasTable('topics')) return []
  const rows = await all(state.database, 'topics')
  return rows.filter((r) => !CLOSED_TOPIC.has(r.status)).sort((a, b) => b.created_at - a.created_at)
}

// Notices in their publication period, now (the phone checks the period: it may be offline).
async function currentNotices() {
  if (!hasTable('notices')) return []
  const now = Date.now()
  const rows = await all(state.database, 'notices')
  return rows
    .filter((n) => !n.withdrawn && n.published_from <= now && now < n.published_until)
    .sort((a, b) => b.published_from - a.published_from)
}

async function civicSummary() {
  if (!hasTable('topics')) return ''
  const topics = await openTopics()
  const notices = await currentNotices()
  return `<section aria-labelledby="h-civic"><h2 id="h-civic">${t('社区议事与公开', 'Deliberation and notices')}</h2>
    <p><a class="button secondary" id="civic-link" href="#/civic">${t(`议题 ${topics.length} 个 · 公告 ${notices.length} 条`, `${topics.length} topics · ${notices.length} notices`)}</a></p>
  </section>`
}

const publicLink = (path) => `${location.origin}${path}`

async function screenCivic() {
  if (!hasTable('topics')) {
    page(t('社区议事与公开', 'Deliberation and notices'), `<p class="muted">${t('需要更新应用：请关闭后重新打开。', 'The app needs an update: close it and open it again.')}</p>`)
    return
  }
  const topics = await openTopics()
  const notices = await currentNotices()
  const communities = new Map((await all(state.database, 'communities')).map((c) => [c.id, c.name]))
  const topicItem = (tp) => `<li><a class="row-link" href="#/topic/${esc(tp.id)}">
      <span>${esc(tp.title)}</span>
      <span class="muted">${esc(tp.status_zh)}${tp.closes_at ? ` · ${t('截止', 'until')} ${esc(dayTime(tp.closes_at))}` : ''} · ${esc(communities.get(tp.community_id) || '')}</span></a></li>`
  const noticeItem = (n) => `<li class="notice-item"><details><summary>[${esc(t(...(NOTICE_CATEGORY[n.category] || [n.category, n.category])))}] ${esc(n.title)}</summary>
      <p class="muted small">${esc(communities.get(n.community_id) || '')} · ${t('公示至', 'until')} ${esc(dayTime(n.published_until))}</p>
      <p class="notice-body">${esc(n.body)}</p></details></li>`
  page(
    t('社区议事与公开', 'Deliberation and notices'),
    `<p class="muted small">${t('只读：可向居民展示，居民可用议题链接发表意见。', 'Read only: show residents; they give their views through the topic link.')}</p>
    <section aria-labelledby="h-topics"><h2 id="h-topics">${t('正在议事的议题', 'Open topics')} (${topics.length})</h2>
      <ul class="list" id="topics">${topics.map(topicItem).join('') || `<li class="muted">${t('没有', 'None')}</li>`}</ul>
    </section>
    <section aria-labelledby="h-notices"><h2 id="h-notices">${t('阳光五务公告', 'Public affairs notices')} (${notices.length})</h2>
      <ul class="list" id="notices">${notices.map(noticeItem).join('') || `<li class="muted">${t('没有', 'None')}</li>`}</ul>
    </section>`,
  )
}

async function screenTopic(id) {
  let tp = null
  try {
    tp = hasTable('topics') ? (await state.database.get('topics').find(id))._raw : null
  } catch (_) {
    tp = null
  }
  if (!tp) {
    page(t('议题', 'Topic'), `<p class="muted">${t('手机上没有这个议题。', 'This topic is not on the phone.')}</p>`)
    return
  }
  const link = publicLink(tp.public_path)
  page(
    tp.title,
    `<p><span class="badge" id="topic-status">${esc(tp.status_zh)}</span></p>
    <p>${esc(tp.description)}</p>
    <dl class="facts">
      ${tp.address ? `<dt>${t('地点', 'Place')}</dt><dd>${esc(tp.address)}</dd>` : ''}
      ${tp.proposer ? `<dt>${t('提议人', 'Proposed by')}</dt><dd>${esc(tp.proposer)}</dd>` : ''}
      ${tp.closes_at ? `<dt>${t('截止时间', 'Open until')}</dt><dd>${esc(dayTime(tp.closes_at))}</dd>` : ''}
      ${tp.decision ? `<dt>${t('决议', 'Decision')}</dt><dd>${esc(tp.decision)}</dd>` : ''}
    </dl>
    <p>${t('居民意见、评论和评议请通过议题链接（需要议事码）：', 'Residents give views, comments and evaluations through the topic link (with a voting code):')}</p>
    <p><a id="topic-link" href="${esc(link)}" rel="noopener">${esc(link)}</a></p>
    <p><a class="button secondary" href="#/civic">${t('返回', 'Back')}</a></p>`,
  )
}

// ---- patrol

// The patrol this phone is recording (its id is kept, so it survives syncs and restarts).
async function activePatrol() {
  const id = await kvGet('activePatrol')
  if (!id) return null
  try {
    const record = (await state.database.get('patrols').find(id))._raw
    return record.status === 'active' ? record : null
  } catch (_) {
    return null
  }
}

async function appendFix(position) {
  const c = position.coords
  const fix = [
    Math.round(c.longitude * 1e7) / 1e7,
    Math.round(c.latitude * 1e7) / 1e7,
    Date.now(),
    c.accuracy == null ? null : Math.round(c.accuracy * 10) / 10,
  ]
  state.lastFix = fix
  const id = state.activePatrolId
  if (!id) return
  // Each fix goes into the database at once (and to disk): nothing lives only in memory.
  await state.database.write(async () => {
    const record = await state.database.get('patrols').find(id)
    if (record._raw.status !== 'active') return
    await record.update((r) => {
      const track = parseJson(r._raw.track, [])
      track.push(fix)
      r._setRaw('track', JSON.stringify(track))
    })
  })
  await flush(state.database)
  if (location.hash.startsWith('#/patrol')) updatePatrolFigures()
}

const fixQueue = { chain: Promise.resolve() }
function onFix(position) {
  fixQueue.chain = fixQueue.chain.then(() => appendFix(position)).catch(storageError)
}

function startWatching() {
  if (state.watchId != null || !navigator.geolocation) return
  state.watchId = navigator.geolocation.watchPosition(onFix, (err) => showGeoError(err), {
    enableHighAccuracy: true,
    maximumAge: 0,
    timeout: 60000,
  })
}
function stopWatching() {
  if (state.watchId != null) navigator.geolocation.clearWatch(state.watchId)
  state.watchId = null
}
function showGeoError(err) {
  const el = $('#geo-error')
  if (el) el.textContent = t(`无法获取位置：${err.message}`, `No location: ${err.message}`)
}

async function updatePatrolFigures() {
  if (!state.activePatrolId) return
  const record = await state.database.get('patrols').find(state.activePatrolId)
  const track = parseJson(record._raw.track, [])
  const minutes = Math.floor((Date.now() - record._raw.started_at) / 60000)
  const el = $('#patrol-figures')
  if (el) {
    el.innerHTML = `<span><b id="fix-count">${track.length}</b> ${t('个定位点', 'fixes')}</span>
      <span><b id="distance">${Math.round(trackLength(track))}</b> ${t('米', 'm')}</span>
      <span><b>${minutes}</b> ${t('分钟', 'min')}</span>`
  }
}

async function screenPatrol() {
  const active = await activePatrol()
  state.activePatrolId = active ? active.id : null
  if (active) {
    startWatching()
    const grid = state.grids.find((g) => g.id === active.grid_id)
    page(
      t('巡查中', 'Patrolling'),
      `<p>${t('网格', 'Grid')}：<strong>${esc(grid ? grid.name : active.grid_id)}</strong>，${t('开始于', 'since')} ${hhmm(active.started_at)}</p>
      <p class="figures" id="patrol-figures" aria-live="polite"></p>
      <p id="geo-error" class="warn" role="status"></p>
      <p class="muted">${t('轨迹逐点保存在手机上，断网也不会丢失（WGS84 坐标）。', 'Each fix is saved on the phone at once, online or not (WGS84).')}</p>
      <div class="actions">
        <a class="button secondary" href="#/log">${t('写日志', 'Add a log')}</a>
        <button type="button" class="button danger" data-action="end-patrol">${t('结束巡查', 'End patrol')}</button>
      </div>`,
    )
    updatePatrolFigures()
    return
  }
  const here = gridAt(state.lastFix)
  page(
    t('开始巡查', 'Start a patrol'),
    state.grids.length
      ? `<form id="patrol-form" class="form">
        <label for="grid">${t('网格', 'Grid')}</label>
        <select id="grid" name="grid" required>${state.grids.map((g) => `<option value="${esc(g.id)}" ${here && here.id === g.id ? 'selected' : ''}>${esc(g.name)}</option>`).join('')}</select>
        <button type="submit" class="button primary">${t('开始巡查', 'Start patrol')}</button>
      </form>`
      : `<p class="muted">${t('还没有同步到网格：请联网后同步一次。', 'No grids yet: sync once while online.')}</p>`,
  )
  const form = $('#patrol-form')
  if (form) {
    form.addEventListener('submit', async (e) => {
      e.preventDefault()
      const record = await createRecord(state.database, 'patrols', {
        grid_id: form.grid.value,
        status: 'active',
        started_at: Date.now(),
        ended_at: null,
        track: '[]',
        crs: 'wgs84',
      }).catch(storageError)
      if (!record) return
      await kvSet('activePatrol', record.id)
      state.activePatrolId = record.id
      state.sync.soon()
      startWatching()
      screenPatrol()
    })
  }
}

async function endPatrol() {
  const id = state.activePatrolId
  if (!id) return
  await fixQueue.chain
  stopWatching()
  const record = await state.database.get('patrols').find(id)
  await updateRecord(state.database, record, { status: 'ended', ended_at: Date.now() }).catch(storageError)
  state.activePatrolId = null
  await kvDel('activePatrol')
  state.sync.soon()
  await screenPatrol()
  flash(t('巡查已结束并保存。', 'Patrol ended and saved.'))
}

// ---- shared form parts: place, photos, drafts

function placePicker() {
  return `<fieldset class="place"><legend>${t('地点', 'Place')}</legend>
    <p id="place-text" class="muted">${t('尚未选择地点', 'No place yet')}</p>
    <button type="button" class="button secondary" data-action="here">${t('使用当前位置', 'Use my location')}</button>
    <p class="muted small">${t('或在下图中点选位置：', 'or tap the map:')}</p>
    ${gridMap()}
  </fieldset>`
}

function gridMap() {
  const polys = state.grids.flatMap((g) => rings(g.polygon).map((p) => ({ g, p })))
  if (!polys.length) return ''
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity]
  for (const { p } of polys) for (const [x, y] of p[0]) {
    minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y)
  }
  const k = Math.cos(((minY + maxY) / 2) * (Math.PI / 180))
  const w = (maxX - minX) * k || 1e-6
  const h = maxY - minY || 1e-6
  const W = 320
  const H = Math.max(120, Math.min(360, Math.round((W * h) / w)))
  const sx = W / w
  const sy = H / h
  state.mapFrame = { minX, maxY, k, sx, sy, W, H }
  const path = (ring) => ring.map(([x, y], i) => `${i ? 'L' : 'M'}${((x - minX) * k * sx).toFixed(1)},${((maxY - y) * sy).toFixed(1)}`).join('') + 'Z'
  return `<svg id="map" viewBox="0 0 ${W} ${H}" role="img" aria-label="${t('我的网格地图，点选位置', 'Map of my grids: tap a place')}" class="map">
    ${polys.map(({ g, p }) => `<path d="${p.map(path).join('')}" class="grid-shape"><title>${esc(g.name)}</title></path>`).join('')}
    <circle id="map-pin" r="6" cx="-20" cy="-20" class="pin"></circle></svg>`
}

function mapToLonLat(evt) {
  const svg = $('#map')
  const f = state.mapFrame
  const rect = svg.getBoundingClientRect()
  const x = ((evt.clientX - rect.left) / rect.width) * f.W
  const y = ((evt.clientY - rect.top) / rect.height) * f.H
  return [f.minX + x / f.sx / f.k, f.maxY - y / f.sy]
}

function showPlace(form) {
  const lon = Number(form.dataset.lon)
  const lat = Number(form.dataset.lat)
  const el = $('#place-text')
  if (!form.dataset.lon) return
  const g = gridAt([lon, lat])
  el.textContent = `${lat.toFixed(6)}, ${lon.toFixed(6)} (WGS84)${g ? ' · ' + g.name : ' · ' + t('不在我的网格内', 'outside my grids')}`
  const f = state.mapFrame
  const pin = $('#map-pin')
  if (f && pin) {
    pin.setAttribute('cx', ((lon - f.minX) * f.k * f.sx).toFixed(1))
    pin.setAttribute('cy', ((f.maxY - lat) * f.sy).toFixed(1))
  }
}

function setPlace(form, lon, lat) {
  form.dataset.lon = String(lon)
  form.dataset.lat = String(lat)
  showPlace(form)
  saveDraft(form)
}

function currentPlace(form) {
  if (state.watchId != null && state.lastFix && Date.now() - state.lastFix[2] < 30000) {
    setPlace(form, state.lastFix[0], state.lastFix[1]) // patrolling: the track's latest fix
    return
  }
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      state.lastFix = [pos.coords.longitude, pos.coords.latitude, Date.now(), pos.coords.accuracy]
      setPlace(form, pos.coords.longitude, pos.coords.latitude)
    },
    (err) => flash(t(`无法获取位置：${err.message}，请在地图上点选。`, `No location (${err.message}): tap the map.`), 'warn'),
    { enableHighAccuracy: true, timeout: 20000, maximumAge: 0 },
  )
}

function photoField() {
  return `<label for="photos">${t('照片（可多张）', 'Photos')}</label>
    <input id="photos" name="photos" type="file" accept="image/*" capture="environment" multiple>
    <label class="choice"><input type="checkbox" id="photos-personal" name="photos_personal" value="1"> ${t('照片含有人物（个人信息）', 'Shows people')}</label>
    <p id="photo-error" class="warn" role="status"></p>
    <ul id="photo-list" class="thumbs" aria-label="${t('已选照片', 'Chosen photos')}"></ul>`
}

async function showPhotos(form) {
  const list = $('#photo-list')
  if (!list) return
  const hashes = parseJson(form.dataset.photos || '[]', [])
  const items = []
  for (const h of hashes) {
    const url = await photoUrl(h)
    items.push(`<li>${url ? `<img src="${url}" alt="${t('照片', 'photo')} ${h.slice(0, 8)}">` : ''}
      <button type="button" class="link" data-action="drop-photo" data-sha="${h}">${t('移除', 'Remove')}</button></li>`)
  }
  list.innerHTML = items.join('')
}

function wirePhotos(form) {
  const input = form.querySelector('#photos')
  const personal = form.querySelector('#photos-personal')
  // The box says whether the form's photos show people: those chosen after and before it.
  personal.addEventListener('change', async () => {
    await setPersonal(parseJson(form.dataset.photos || '[]', []), personal.checked).catch(storageError)
    await saveDraft(form)
  })
  input.addEventListener('change', async () => {
    const err = $('#photo-error')
    err.textContent = ''
    const hashes = parseJson(form.dataset.photos || '[]', [])
    for (const file of Array.from(input.files || [])) {
      try {
        const sha = await addPhoto(file, { personal: personal.checked })
        if (!hashes.includes(sha)) hashes.push(sha)
      } catch (e) {
        if (e instanceof NotAnImage) err.textContent = t(`“${file.name}”不是图片，未添加。`, `“${file.name}” is not an image; not added.`)
        else return storageError(e)
      }
    }
    input.value = ''
    form.dataset.photos = JSON.stringify(hashes)
    await saveDraft(form)
    showPhotos(form)
  })
}

// Drafts: what is typed survives Back, a reload or a closed browser until it is saved.
async function saveDraft(form) {
  if (form.dataset.saved) return // the record is saved: a late keystroke timer must not revive it
  const data = { photos: form.dataset.photos || '[]', lon: form.dataset.lon || '', lat: form.dataset.lat || '' }
  for (const el of form.elements) {
    if (!el.name || el.type === 'file' || el.type === 'submit') continue
    if (el.type === 'radio') data[el.name] = el.checked ? el.value : data[el.name]
    else if (el.type === 'checkbox') data[el.name] = el.checked
    else data[el.name] = el.value
  }
  await kvSet(`draft:${form.id}`, data).catch(() => {})
}

async function restoreDraft(form, extra) {
  const data = { ...((await kvGet(`draft:${form.id}`)) || {}), ...(extra || {}) }
  for (const el of form.elements) {
    if (!el.name || !(el.name in data) || el.type === 'file') continue
    if (el.type === 'radio') el.checked = el.value === data[el.name]
    else if (el.type === 'checkbox') el.checked = Boolean(data[el.name])
    else el.value = data[el.name]
  }
  form.dataset.photos = data.photos || '[]'
  if (data.lon) {
    form.dataset.lon = data.lon
    form.dataset.lat = data.lat
    showPlace(form)
  }
  showPhotos(form)
  let timer = null
  form.addEventListener('input', () => {
    clearTimeout(timer)
    timer = setTimeout(() => saveDraft(form), 250)
  })
}

function wirePlace(form) {
  const map = form.querySelector('#map')
  if (map) map.addEventListener('click', (e) => {
    const [lon, lat] = mapToLonLat(e)
    setPlace(form, lon, lat)
  })
}

function categoryOptions(selected) {
  return state.categories
    .map((c) => `<option value="${esc(c.id)}" ${selected === c.id ? 'selected' : ''}>${esc(lang === 'en' ? c.name_en || c.name_zh : c.name_zh)}</option>`)
    .join('')
}

function formError(text) {
  const el = $('#form-error')
  if (el) {
    el.textContent = text
    el.scrollIntoView({ block: 'center' })
  }
}

// ---- a patrol log

async function screenLog(prefill) {
  page(
    t('写巡查日志', 'Patrol log'),
    `<form id="log-form" class="form" novalidate>
      <p id="form-error" class="alert-text" role="alert"></p>
      <label for="text">${t('内容', 'What you saw')}</label>
      <textarea id="text" name="text" rows="4" required maxlength="2000"></textarea>
      <label for="category">${t('类别（可不选）', 'Category (optional)')}</label>
      <select id="category" name="category"><option value="">${t('无', 'none')}</option>${categoryOptions()}</select>
      ${placePicker()}
      ${photoField()}
      <label class="choice"><input type="checkbox" name="as_case" value="1"> ${t('同时上报为事件（需选类别）', 'Also report it as a case (needs a category)')}</label>
      <button type="submit" class="button primary">${t('保存日志', 'Save log')}</button>
    </form>`,
  )
  const form = $('#log-form')
  await restoreDraft(form, prefill)
  if (!form.dataset.lon && state.lastFix) setPlace(form, state.lastFix[0], state.lastFix[1])
  wirePhotos(form)
  wirePlace(form)
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    const text = form.text.value.trim()
    const asCase = form.as_case.checked
    if (!text) return formError(t('请填写内容。', 'Please write something.'))
    if (asCase && !form.category.value) return formError(t('上报事件请选择类别。', 'A case needs a category.'))
    if (!form.dataset.lon) return formError(t('请选择地点。', 'Please choose the place.'))
    const lon = Number(form.dataset.lon)
    const lat = Number(form.dataset.lat)
    const grid = gridAt([lon, lat])
    if (asCase) {
      const reported = await createRecord(state.database, 'cases', newCase({
        grid, category: form.category.value, description: text, address: null, lon, lat, photos: form.dataset.photos,
      })).catch(storageError)
      if (!reported) return
    }
    const record = await createRecord(state.database, 'patrol_logs', {
      patrol_id: state.activePatrolId || null,
      grid_id: grid ? grid.id : null,
      category_id: form.category.value || null,
      text,
      lon,
      lat,
      crs: 'wgs84',
      photos: form.dataset.photos || '[]',
      logged_at: Date.now(),
      case_id: null,
    }).catch(storageError)
    if (!record) return
    form.dataset.saved = '1'
    await kvDel('draft:log-form')
    state.sync.soon()
    location.hash = state.activePatrolId ? '#/patrol' : '#/today'
    setTimeout(() => flash(t('日志已保存。', 'Log saved.')), 50)
  })
}

// ---- the logs on the phone, with their photos

const REMOVED_TEXT = () => t('已删除（个人信息保护）', 'Removed (personal data protection)')

async function logPhotos(log) {
  const items = []
  for (const h of photosOf(log)) {
    const url = await photoUrl(h)
    items.push(url
      ? `<li><img src="${url}" alt="${t('照片', 'photo')} ${h.slice(0, 8)}"></li>`
      : `<li class="muted small">${t('照片未存于本机', 'Photo not on this phone')}</li>`)
  }
  for (const h of await removedFrom('patrol_logs', log.id)) {
    items.push(`<li class="photo-removed" data-sha="${esc(h)}">${REMOVED_TEXT()}</li>`)
  }
  return items.length ? `<ul class="thumbs">${items.join('')}</ul>` : ''
}

async function screenLogs() {
  const logs = (await all(state.database, 'patrol_logs')).sort((a, b) => b.logged_at - a.logged_at).slice(0, 50)
  const rows = []
  for (const g of logs) {
    rows.push(`<li class="log" data-id="${esc(g.id)}"><span>${dayTime(g.logged_at)} · ${esc(g.text)}</span>${await logPhotos(g)}</li>`)
  }
  page(
    t('巡查日志', 'Patrol logs'),
    `<ul class="list" id="logs">${rows.join('') || `<li class="muted">${t('手机上还没有日志', 'No logs on this phone yet')}</li>`}</ul>`,
  )
}

// ---- report a case

// A case as the phone reports it; the server fills its number, status, deadline and unit.
function newCase({ grid, category, description, address, lon, lat, photos }) {
  return {
    number: null,
    grid_id: grid ? grid.id : null,
    community_id: grid ? grid.community_id : null,
    category_id: category,
    priority: null,
    source: 'collector',
    status: null,
    description,
    address,
    lon,
    lat,
    crs: 'wgs84',
    photos: photos || '[]',
    reported_at: Date.now(),
    deadline_at: null,
    overdue: null,
    unit_id: null,
    result: null,
    collector_note: null,
    version: null,
  }
}

async function screenReport(prefill) {
  page(
    t('上报事件', 'Report a case'),
    `<form id="report-form" class="form" novalidate>
      <p id="form-error" class="alert-text" role="alert"></p>
      <label for="category">${t('类别', 'Category')}</label>
      <select id="category" name="category" required>${categoryOptions()}</select>
      <label for="description">${t('问题描述', 'Description')}</label>
      <textarea id="description" name="description" rows="4" required maxlength="2000"></textarea>
      <label for="address">${t('地址（可不填）', 'Address (optional)')}</label>
      <input id="address" name="address" maxlength="200">
      ${placePicker()}
      ${photoField()}
      <button type="submit" class="button primary">${t('上报', 'Report')}</button>
    </form>`,
  )
  const form = $('#report-form')
  await restoreDraft(form, prefill)
  if (!form.dataset.lon && state.lastFix) setPlace(form, state.lastFix[0], state.lastFix[1])
  wirePhotos(form)
  wirePlace(form)
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    const description = form.description.value.trim()
    if (!form.category.value) return formError(t('请选择类别。', 'Please choose a category.'))
    if (!description) return formError(t('请描述问题。', 'Please describe the problem.'))
    if (!form.dataset.lon) return formError(t('请选择地点。', 'Please choose the place.'))
    const lon = Number(form.dataset.lon)
    const lat = Number(form.dataset.lat)
    const grid = gridAt([lon, lat])
    const record = await createRecord(state.database, 'cases', newCase({
      grid, category: form.category.value, description, address: form.address.value.trim() || null, lon, lat, photos: form.dataset.photos,
    })).catch(storageError)
    if (!record) return
    form.dataset.saved = '1'
    await kvDel('draft:report-form')
    state.sync.soon()
    location.hash = '#/today'
    setTimeout(() => flash(t('事件已保存，联网后自动上报。', 'Case saved; it is sent when online.')), 50)
  })
}

// ---- a case, and the on-site check (核查)

async function screenCase(id) {
  let c
  try {
    c = (await state.database.get('cases').find(id))._raw
  } catch (_) {
    page(t('事件', 'Case'), `<p>${t('手机上没有这个事件。', 'This case is not on the phone.')}</p>`)
    return
  }
  const events = (await all(state.database, 'case_events')).filter((e) => e.case_id === id).sort((a, b) => a.seq - b.seq)
  const actions = (await all(state.database, 'case_actions')).filter((a) => a.case_id === id)
  const waiting = actions.filter((a) => !a.outcome)
  const cat = state.categories.find((x) => x.id === c.category_id)
  const canVerify = c.status === 'handled' && !waiting.length
  page(
    `${t('事件', 'Case')} ${c.number || ''}`,
    `<dl class="facts">
      <dt>${t('状态', 'Status')}</dt><dd id="case-status">${esc(statusText(c.status))}</dd>
      <dt>${t('类别', 'Category')}</dt><dd>${esc(cat ? (lang === 'en' ? cat.name_en : cat.name_zh) : '')}</dd>
      <dt>${t('描述', 'Description')}</dt><dd>${esc(c.description)}</dd>
      ${c.result ? `<dt>${t('办理结果', 'Result')}</dt><dd>${esc(c.result)}</dd>` : ''}
    </dl>
    ${waiting.length ? `<p class="info" id="verify-pending">${t('核查结果已保存，等待同步。', 'Your check is saved and waits for sync.')}</p>` : ''}
    ${canVerify ? `<form id="verify-form" class="form" novalidate>
      <h2>${t('现场核查', 'Check on site')}</h2>
      <p id="form-error" class="alert-text" role="alert"></p>
      <fieldset><legend>${t('结果', 'Outcome')}</legend>
        <label class="choice"><input type="radio" name="action" value="verify_ok" checked> ${t('核查通过', 'Fixed (pass)')}</label>
        <label class="choice"><input type="radio" name="action" value="verify_fail"> ${t('返工', 'Not fixed (rework)')}</label>
      </fieldset>
      <label for="note">${t('说明（返工必填）', 'Note (required for rework)')}</label>
      <textarea id="note" name="note" rows="3" maxlength="1000"></textarea>
      ${photoField()}
      <button type="submit" class="button primary">${t('提交核查', 'Submit check')}</button>
    </form>` : ''}
    <h2>${t('办理过程', 'Timeline')}</h2>
    <ol class="timeline">${events.map((e) => `<li>${dayTime(e.created_at)} · ${esc(statusText(e.to_status))}${e.note ? ' · ' + esc(e.note) : ''}</li>`).join('') || `<li class="muted">${t('同步后显示', 'shown after sync')}</li>`}</ol>`,
  )
  const form = $('#verify-form')
  if (!form) return
  form.id = 'verify-form'
  await restoreDraft(form)
  wirePhotos(form)
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    const action = form.querySelector('input[name=action]:checked').value
    const note = form.note.value.trim()
    if (action === 'verify_fail' && !note) return formError(t('返工请写明原因。', 'Say why it needs rework.'))
    const record = await createRecord(state.database, 'case_actions', {
      case_id: id,
      action,
      note: note || null,
      photos: form.dataset.photos || '[]',
      acted_at: Date.now(),
      outcome: null,
    }).catch(storageError)
    if (!record) return
    form.dataset.saved = '1'
    await kvDel('draft:verify-form')
    state.sync.soon()
    screenCase(id)
  })
}

// ---- refused records

async function screenRejections() {
  const rows = (await all(state.database, 'sync_rejections')).sort((a, b) => b.created_at - a.created_at)
  const label = { patrol_logs: t('日志', 'log'), cases: t('事件', 'case'), patrols: t('巡查', 'patrol'), case_actions: t('核查', 'check') }
  page(
    t('被退回的记录', 'Refused records'),
    rows.length
      ? `<p class="muted">${t('服务器没有接受这些记录。内容都保留在这里，可复制为新记录。', 'The server refused these. What you typed is kept here; copy it into a new record.')}</p>
      <ul class="list" id="rejections">${rows.map((r) => {
        const p = parseJson(r.payload, {}) || {}
        const text = p.text || p.description || p.note || ''
        return `<li class="rejection"><p><strong>${esc(label[r.table_name] || r.table_name)}</strong> · ${dayTime(r.created_at)}</p>
          <p class="alert-text">${esc(lang === 'en' ? r.message : r.message_zh)}</p>
          <p class="payload">${esc(text)}</p>
          ${r.table_name === 'patrol_logs' || r.table_name === 'cases' ? `<button type="button" class="button secondary" data-action="copy-rejection" data-id="${esc(r.id)}">${t('复制为新记录', 'Copy into a new record')}</button>` : ''}</li>`
      }).join('')}</ul>`
      : `<p class="muted" id="rejections-empty">${t('没有被退回的记录。', 'Nothing was refused.')}</p>`,
  )
}

async function copyRejection(id) {
  const r = (await state.database.get('sync_rejections').find(id))._raw
  const p = parseJson(r.payload, {}) || {}
  const common = { photos: typeof p.photos === 'string' ? p.photos : JSON.stringify(p.photos || []), lon: p.lon != null ? String(p.lon) : '', lat: p.lat != null ? String(p.lat) : '' }
  if (r.table_name === 'cases') {
    await kvSet('draft:report-form', { ...common, description: p.description || '', category: p.category_id || '', address: p.address || '' })
    location.hash = '#/report'
  } else {
    await kvSet('draft:log-form', { ...common, text: p.text || '', category: p.category_id || '' })
    location.hash = '#/log'
  }
}

// ---- more: language, export, pairing

async function screenMore() {
  const me = state.me || (await kvGet('me')) || {}
  const rejections = await all(state.database, 'sync_rejections')
  page(
    t('更多', 'More'),
    `<p>${t('收集员', 'Collector')}：<strong>${esc(me.display_name || '')}</strong> (${esc(me.username || '')})</p>
    <ul class="list menu">
      <li><a class="row-link" href="#/rejections">${t('被退回的记录', 'Refused records')} (${rejections.length})</a></li>
      <li><a class="row-link" href="#/logs">${t('巡查日志', 'Patrol logs')}</a></li>
      <li><a class="row-link" href="#/civic">${t('社区议事与公开', 'Deliberation and notices')}</a></li>
      ${state.sync && state.sync.state.phase === 'revoked' ? `<li><button type="button" class="button primary" data-action="repair">${t('重新绑定这部手机（保留未同步的记录）', 'Pair this phone again (keeps unsynced records)')}</button></li>` : ''}
      <li><button type="button" class="button secondary" data-action="export">${t('导出未同步的记录', 'Export unsynced records')}</button></li>
      <li><button type="button" class="button secondary" data-action="lang">${lang === 'zh' ? 'English' : '中文'}</button></li>
      <li><button type="button" class="button danger" data-action="wipe">${t('清除手机上的数据并解除绑定', 'Wipe this phone and unpair')}</button></li>
    </ul>
    <p class="muted small">${t('版本', 'Version')} ${esc(document.querySelector('meta[name=app-version]').content)}</p>`,
  )
}

async function exportUnsynced() {
  const records = state.database ? await pending(state.database, PUSH_TABLES) : {}
  const rejections = state.database ? await all(state.database, 'sync_rejections') : []
  const photos = {}
  for (const p of await photoAll()) {
    if (p.uploaded) continue
    const bytes = new Uint8Array(await p.blob.arrayBuffer())
    let s = ''
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
    photos[p.sha256] = `data:${p.type};base64,${btoa(s)}`
  }
  const blob = new Blob([JSON.stringify({ exported_at: new Date().toISOString(), me: await kvGet('me'), records, rejections, photos }, null, 1)], { type: 'application/json' })
  const a = document.createElement('a')
  a.href = URL.createObjectURL(blob)
  a.download = `minqing-unsynced-${localDate(Date.now())}.json`
  document.body.append(a)
  a.click()
  a.remove()
}

async function wipe() {
  const waiting = state.sync ? state.sync.state.pendingRecords : 0
  const question = waiting
    ? t(`还有 ${waiting} 条记录未同步，清除后将丢失。确定清除？`, `${waiting} records are not synced and will be lost. Wipe anyway?`)
    : t('清除手机上的全部数据并解除绑定？', 'Wipe all data on this phone and unpair?')
  if (!confirm(question)) return
  stopWatching()
  if (state.database) await state.database.write(() => state.database.unsafeResetDatabase())
  await wipeKv()
  location.replace('/app/')
}

// ------------------------------------------------------------------ pairing

function screenPair(message) {
  renderNav()
  page(
    t('绑定这部手机', 'Pair this phone'),
    `${message ? `<p class="alert" role="alert">${esc(message)}</p>` : ''}
    <p>${t('用收集员账号登录一次，这部手机就绑定到你名下，之后离线也能使用。', 'Sign in once with your collector account: the phone is then yours, and works offline.')}</p>
    <form id="pair-form" class="form">
      <label for="username">${t('用户名', 'Username')}</label>
      <input id="username" name="username" autocomplete="username" required autocapitalize="none">
      <label for="password">${t('密码', 'Password')}</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required>
      <button type="submit" class="button primary">${t('登录并绑定', 'Sign in and pair')}</button>
    </form>
    <p class="muted">${t('也可以用手机相机或微信扫描管理员给你的设备二维码。', "Or scan the device QR code from your administrator with the phone's camera or WeChat.")}</p>`,
  )
  $('#pair-form').addEventListener('submit', async (e) => {
    e.preventDefault()
    const form = e.target
    try {
      const answer = await api(null, 'POST', '/api/v1/devices/enrol', {
        json: { username: form.username.value.trim(), password: form.password.value, name: deviceName() },
        what: 'enrol',
      })
      await pairWith(answer.token)
    } catch (err) {
      screenPair(errorText(err))
    }
  })
}

function deviceName() {
  const ua = navigator.userAgent
  const kind = /MicroMessenger/i.test(ua) ? '微信' : /iPhone|iPad/.test(ua) ? 'iPhone' : /Android/.test(ua) ? 'Android' : t('浏览器', 'browser')
  return `${t('采集应用', 'Field app')} · ${kind}`
}

function errorText(err) {
  if (err instanceof HttpError) return lang === 'en' ? (err.body && err.body.message) || err.message : err.messageZh || err.message
  if (err instanceof NetworkError) return t('连不上服务器：绑定需要联网。', 'Cannot reach the server: pairing needs the network.')
  return String(err && err.message ? err.message : err)
}

// Keep the server's schema; a newer one than the phone's database adds the migrations that
// take the database there (opened with them at the next start).
async function adoptSchema(schema) {
  const old = await kvGet('schema')
  if (!old) {
    await kvSet('migrations', [])
    await kvSet('schema', schema)
    return false
  }
  if (!(schema.version > old.version)) return false
  const kept = ((await kvGet('migrations')) || []).filter((m) => m.toVersion <= old.version)
  await kvSet('migrations', [...kept, ...schemaUpgrade(old, schema)])
  await kvSet('schema', schema)
  return true
}

let schemaChecked = false
async function checkSchema() {
  if (schemaChecked || !state.token) return
  schemaChecked = true
  try {
    const schema = await api(state.token, 'GET', '/api/v1/sync/schema', { what: 'schema' })
    if (await adoptSchema(schema)) {
      state.newVersion = true
      renderStatus()
    }
  } catch (_) {
    schemaChecked = false // offline: try after the next sync
  }
}

async function pairWith(token) {
  const me = await api(token, 'GET', '/api/v1/me', { what: 'me' })
  if (me.role !== 'collector' || !me.device_id) {
    throw new Error(t('这个二维码不是收集员设备的。', 'This is not a collector device code.'))
  }
  const previous = await kvGet('me')
  if (previous && previous.id !== me.id) {
    throw new Error(t('这部手机已绑定给另一位收集员：请先在“更多”中清除数据。', 'This phone belongs to another collector: wipe it under “More” first.'))
  }
  const schema = await api(token, 'GET', '/api/v1/sync/schema', { what: 'schema' })
  await adoptSchema(schema)
  await kvSet('me', me)
  await kvSet('token', token)
  await kvDel('revoked')
  location.replace('/app/#/today')
  location.reload()
}

// ------------------------------------------------------------------ errors, routing, start

function storageError(err) {
  const full = err instanceof StorageFull || (err && /quota/i.test(String(err.message || err.name)))
  const text = full
    ? t('手机存储空间已满：这条记录没有保存。请删除一些照片或文件后再试，已保存的记录不受影响。', 'The phone is out of storage: this record was NOT saved. Free some space and try again; saved records are safe.')
    : t(`保存失败：${err && err.message}`, `Could not save: ${err && err.message}`)
  flash(text, 'alert')
  return null
}

async function route() {
  if (!state.database) return
  const [, name, arg] = location.hash.split('/')
  renderNav()
  try {
    if (name === 'patrol') await screenPatrol()
    else if (name === 'log') await screenLog()
    else if (name === 'logs') await screenLogs()
    else if (name === 'report') await screenReport()
    else if (name === 'case' && arg) await screenCase(decodeURIComponent(arg))
    else if (name === 'rejections') await screenRejections()
    else if (name === 'civic') await screenCivic()
    else if (name === 'topic' && arg) await screenTopic(decodeURIComponent(arg))
    else if (name === 'more') await screenMore()
    else await screenToday()
  } catch (err) {
    page(t('出错了', 'Something went wrong'), `<p class="alert">${esc(err && err.message)}</p>`)
  }
}

document.addEventListener('click', async (e) => {
  const el = e.target.closest('[data-action]')
  if (!el) return
  const action = el.dataset.action
  if (action === 'sync' && state.sync) {
    if (state.sync.state.phase === 'revoked') return
    state.sync.failures = 0
    state.sync.run('button')
  } else if (action === 'lang') {
    lang = lang === 'zh' ? 'en' : 'zh'
    localStorage.setItem('minqing.lang', lang)
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en'
    renderStatus()
    if (state.database) route()
    else screenPair()
  } else if (action === 'end-patrol') endPatrol()
  else if (action === 'here') currentPlace(el.closest('form'))
  else if (action === 'drop-photo') {
    const form = el.closest('form')
    form.dataset.photos = JSON.stringify(parseJson(form.dataset.photos, []).filter((h) => h !== el.dataset.sha))
    await saveDraft(form)
    showPhotos(form)
  } else if (action === 'copy-rejection') copyRejection(el.dataset.id)
  else if (action === 'export') exportUnsynced()
  else if (action === 'repair') screenPair()
  else if (action === 'wipe') wipe()
})

function unsupported() {
  return !('indexedDB' in window) || !('serviceWorker' in navigator) || !window.crypto || !crypto.subtle
}

async function registerWorker() {
  if (!('serviceWorker' in navigator)) return
  const hadController = Boolean(navigator.serviceWorker.controller)
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (hadController) {
      state.newVersion = true
      renderStatus()
    }
  })
  try {
    await navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' })
  } catch (_) {
    // offline with no worker yet: the app still runs from this page load
  }
}

async function boot() {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en'
  if (unsupported()) {
    document.title = t('浏览器不支持', 'Browser not supported')
    main().innerHTML = `<h1>${t('这个浏览器无法离线使用采集应用', 'This browser cannot run the field app offline')}</h1>
      <p>${t('请用手机自带的 Chrome、Safari 或新版微信打开本页，或升级浏览器。', "Open this page in the phone's Chrome or Safari, or a recent WeChat, or update the browser.")}</p>`
    return
  }
  registerWorker()
  // #pair=<token> from the device QR code: keep the token in IndexedDB, drop it from the URL.
  const m = location.hash.match(/^#pair=([A-Za-z0-9_\-]+)/)
  if (m) {
    history.replaceState(null, '', '/app/')
    renderStatus()
    try {
      await pairWith(m[1])
      return
    } catch (err) {
      screenPair(errorText(err))
      return
    }
  }
  const token = await kvGet('token')
  const schema = await kvGet('schema')
  if (!token || !schema) {
    renderStatus()
    screenPair()
    window.minqingReadyAt = performance.now()
    return
  }
  state.token = token
  state.me = await kvGet('me')
  try {
    state.database = await openDatabase(schema, {
      migrations: (await kvGet('migrations')) || [],
      onQuotaExceeded: () => flash(t('手机存储空间已满：最近的修改可能没有保存。', 'The phone is out of storage: recent changes may not be saved.'), 'alert'),
    })
  } catch (err) {
    main().innerHTML = `<h1>${t('无法打开手机上的数据', 'Cannot open the data on this phone')}</h1><p class="alert">${esc(err && err.message)}</p>`
    return
  }
  state.sync = new SyncEngine({
    database: state.database,
    token,
    onChange: async (s) => {
      renderStatus()
      if (s.phase === 'ok') {
        checkSchema()
        await loadReference()
        if (!document.querySelector('#main form')) route()
      }
    },
  })
  await loadReference()
  const active = await activePatrol()
  if (active) {
    state.activePatrolId = active.id
    startWatching() // a patrol survives a closed browser: keep recording
  }
  window.addEventListener('hashchange', route)
  renderStatus()
  await route()
  await state.sync.start()
  window.minqingReadyAt = performance.now() // ms since the navigation started (benchmarks)
  window.minqingReady = true
}

window.minqing = { state, flush: () => flush(state.database), photoGet, kvGet, kvSet }
boot()
