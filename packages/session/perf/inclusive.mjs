// Inclusive time by function of a .cpuprofile (each function counted once per sample): node inclusive.mjs f [top] [filter]
import { readFileSync } from 'node:fs'

const p = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const top = Number(process.argv[3] ?? 40)
const filter = process.argv[4] ?? ''
const byId = new Map(p.nodes.map((n) => [n.id, n]))
const parent = new Map()
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const name = (n) =>
  `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}:${n.callFrame.columnNumber}`
const incl = new Map()
let total = 0
for (let i = 0; i < p.samples.length; i++) {
  const dt = p.timeDeltas[i]
  total += dt
  const seen = new Set()
  for (let id = p.samples[i]; id !== undefined; id = parent.get(id)) {
    const k = name(byId.get(id))
    if (seen.has(k)) continue
    seen.add(k)
    incl.set(k, (incl.get(k) ?? 0) + dt)
  }
}
for (const [k, v] of [...incl]
  .filter(([k]) => k.includes(filter))
  .sort((a, b) => b[1] - a[1])
  .slice(0, top))
  console.log(((v / total) * 100).toFixed(1).padStart(5) + '%', k)
